package processors

import (
	"reflect"
	"slices"
	"testing"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/processors/weaponrow"
)

// TestPooledRecordsAsDecode: the router's records, decoded into records reused from one message
// to the next, are those Decode makes afresh, whatever the record before held (more cells or
// fewer, another layout, schema 1); a weapon parsed from one is unchanged once its record is
// given back and reused; and a record given back keeps no string of its message.
func TestPooledRecordsAsDecode(t *testing.T) {
	inputs := append(schemaFixture(t, "schema1.jsonl"), schemaFixture(t, "schema2.jsonl")...)
	// Longest first, then shortest: a reused record meets both more and fewer cells than its last.
	slices.SortStableFunc(inputs, func(a, b []byte) int { return len(b) - len(a) })
	backward := slices.Clone(inputs)
	slices.Reverse(backward)
	inputs = append(inputs, backward...)
	type parsed struct {
		data []byte
		w    *codecs.Weapon
	}
	var kept []parsed
	for _, data := range inputs {
		want, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodePooled(data)
		if err != nil {
			t.Fatalf("%s: %v", want.Key, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: the pooled record is\n%+v\nwant\n%+v", want.Key, got, want)
		}
		w, err := weaponrow.Parse(got)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, parsed{data, w})
		releaseRecord(got)
		if got.Key != "" || len(got.Cells) != 0 || slices.ContainsFunc(got.Cells[:cap(got.Cells)], func(c codecs.RawCell) bool { return c != codecs.RawCell{} }) {
			t.Fatalf("%s: a record given back still holds %+v", want.Key, got)
		}
	}
	for _, k := range kept {
		raw, err := Decode(k.data)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := weaponrow.Parse(raw); !reflect.DeepEqual(k.w, want) {
			t.Errorf("%s: a weapon parsed from a pooled record changed after its record was reused", want.Key)
		}
	}
}

// BenchmarkDecode compares, over the fixtures' records, a new record for each message (Decode,
// as the router did) and the router's records reused (decodePooled): allocations per record.
//
//	go test -run '^$' -bench Decode -benchmem ./processors/
func BenchmarkDecode(b *testing.B) {
	inputs := append(schemaFixture(b, "schema1.jsonl"), schemaFixture(b, "schema2.jsonl")...)
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			if _, err := Decode(inputs[i%len(inputs)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pooled", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			r, err := decodePooled(inputs[i%len(inputs)])
			if err != nil {
				b.Fatal(err)
			}
			releaseRecord(r)
		}
	})
}
