package e2e

import (
	"testing"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/processors"
	"github.com/mhfz/mhfz-pipeline/processors/weaponrow"
)

// BenchmarkRowParse measures the router's two steps that read a record, without Kafka, over
// every record of the newest snapshot (one op: the whole snapshot), with their allocations:
// decode (processors.Decode of the raw record's JSON) and parse (weaponrow.Parse of the
// decoded record).
//
//	go test -run '^$' -bench RowParse -benchmem -cpu 1 -count 5 -benchtime 2x ./e2e/
func BenchmarkRowParse(b *testing.B) {
	recs := loadNewest(b)
	raws := make([]*codecs.RawRecord, len(recs))
	for i, data := range recs {
		raw, err := processors.Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		raws[i] = raw
	}
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			for _, data := range recs {
				if _, err := processors.Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			for _, raw := range raws {
				_, _ = weaponrow.Parse(raw) // the rows that fail fail the same in every build
			}
		}
	})
}
