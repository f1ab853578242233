package kafka

import (
	"maps"
	"slices"
	"testing"
)

func TestPartitionOrderAndNames(t *testing.T) {
	parts := []Partition{{"b", 0}, {"a", 10}, {"a", 2}}
	slices.SortFunc(parts, Partition.Compare)
	if want := []Partition{{"a", 2}, {"a", 10}, {"b", 0}}; !slices.Equal(parts, want) {
		t.Errorf("sorted %v, want %v (by topic, then by id as a number)", parts, want)
	}
	if got := parts[1].String(); got != "a/10" {
		t.Errorf("String() = %q, want a/10", got)
	}
	if got := parts[1].At(42).String(); got != "a/10@42" {
		t.Errorf("At(42).String() = %q, want a/10@42", got)
	}
}

func TestEndsBehindAndOf(t *testing.T) {
	a0, a1, b0 := Partition{"a", 0}, Partition{"a", 1}, Partition{"b", 0}
	ends := Ends{a0: 10, a1: 5, b0: 7}
	for _, tc := range []struct {
		name         string
		next, starts Ends
		want         int64
	}{
		{"nothing read, no starts: everything", nil, nil, 22},
		{"nothing read: from the starts", nil, Ends{a0: 4, b0: 7}, 6 + 5},
		{"read partly", Ends{a0: 8, a1: 5}, Ends{b0: 3}, 2 + 0 + 4},
		{"a position beyond the end counts no records", Ends{a0: 12, a1: 5, b0: 7}, nil, 0},
		{"a read position wins over the start", Ends{a0: 2}, Ends{a0: 9, a1: 5, b0: 7}, 8},
	} {
		if got := ends.Behind(tc.next, tc.starts); got != tc.want {
			t.Errorf("%s: Behind = %d, want %d", tc.name, got, tc.want)
		}
	}
	if got, want := ends.Of("a"), map[int32]int64{0: 10, 1: 5}; !maps.Equal(got, want) {
		t.Errorf("Of(a) = %v, want %v", got, want)
	}
	if got := ends.Of("c"); len(got) != 0 {
		t.Errorf("Of(c) = %v, want none", got)
	}
}
