package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// BenchmarkStackEndToEnd measures the whole newest snapshot from the scraper's first HTTP request
// to the sink's last committed row, with the stack's processes already started (as they are in
// the stack): one iteration is one full run on fresh topics and a fresh database.
//
//	scripts/testenv run go test -run '^$' -bench StackEndToEnd -benchtime 1x -count 3 ./e2e/
func BenchmarkStackEndToEnd(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	base := mirror(b, testenv.Snapshot(b, testenv.Newest))
	for range b.N {
		b.StopTimer()
		s := newStack(b)
		s.start(ctx)
		b.StartTimer()
		start := time.Now()
		s.scrape(ctx, base)
		s.waitCaughtUp(ctx, 10*time.Minute)
		b.ReportMetric(time.Since(start).Seconds(), "s/snapshot")
		b.ReportMetric(145955/time.Since(start).Seconds(), "records/s")
	}
}

// BenchmarkSinkRealCorpus measures the sink alone on the real records: the newest snapshot is
// scraped and routed once, then each iteration runs `mhfz sink --replay` (tables and offsets
// emptied in one transaction) and times it from its start until PostgreSQL's offsets reach the
// ends of the weapon topics.
//
//	scripts/testenv run go test -run '^$' -bench SinkRealCorpus -benchtime 1x -count 5 ./e2e/
func BenchmarkSinkRealCorpus(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	s := newStack(b)
	processor, sink := s.start(ctx)
	s.scrape(ctx, mirror(b, testenv.Snapshot(b, testenv.Newest)))
	s.waitCaughtUp(ctx, 10*time.Minute)
	if err := processor.stop(); err != nil {
		b.Fatal(err)
	}
	if err := sink.stop(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		replay := startService(b, s.env, "sink", "--replay")
		// Until the replay has emptied the tables, the offsets of the run before still say
		// "caught up".
		if err := replay.waitLog(ctx, "tables emptied and offsets reset"); err != nil {
			b.Fatal(err)
		}
		s.waitCaughtUp(ctx, 10*time.Minute)
		elapsed := time.Since(start)
		b.StopTimer()
		if err := replay.stop(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(elapsed.Seconds(), "s/corpus")
		b.StartTimer()
	}
}
