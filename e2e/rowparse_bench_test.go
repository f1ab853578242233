package e2e

import (
	"syscall"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/processors"
	"github.com/mhfz/mhfz-pipeline/processors/weaponrow"
)

// BenchmarkRowParse measures the router's two steps that read a record, without Kafka, over
// every record of the newest snapshot (one op: the whole snapshot), with their allocations:
// decode (processors.DecodeInto of the raw record's JSON into a reused record, as the router
// decodes) and parse (weaponrow.Parse of the decoded record). The records are written as the
// scraper writes them (codecs.RawCodec). cpu-s/op is the process's CPU time (user and system,
// the collector's included) per op: steadier than the time on a shared machine.
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
		defer reportCPU(b)()
		var raw codecs.RawRecord // reused from record to record, as the router reuses its records
		for range b.N {
			for _, data := range recs {
				if err := processors.DecodeInto(data, &raw); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for range b.N {
			for _, raw := range raws {
				_, _ = weaponrow.Parse(raw) // the rows that fail fail the same in every build
			}
		}
	})
}

// reportCPU reports, when the function it returns is called, the CPU time the process spent
// since, per op, as cpu-s/op.
func reportCPU(b *testing.B) func() {
	start := processCPU(b)
	return func() { b.ReportMetric((processCPU(b)-start).Seconds()/float64(b.N), "cpu-s/op") }
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
