package kafka

import (
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
