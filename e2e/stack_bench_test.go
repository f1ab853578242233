package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// BenchmarkStackEndToEnd measures the whole newest snapshot from the scraper's first HTTP request
// to the sink's last committed row, with the stack's processes already started (as they are in
// the stack): one iteration is one full run on fresh topics and a fresh database. metrics=on runs
// the same with every service serving /metrics (--http-addr) and a Prometheus (Debian's package)
// scraping them every second; metrics=off without either. cpu-s/snapshot is the CPU time the
// mhfz processes used (Prometheus's own not counted). Run the two alternately (a loop of
// -count 1 runs), so that the other sessions' load on the shared cores hits both alike.
//
//	scripts/testenv run go test -run '^$' -bench StackEndToEnd -benchtime 1x -count 5 ./e2e/
func BenchmarkStackEndToEnd(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	base := mirror(b, testenv.Snapshot(b, testenv.Newest))
	for _, metrics := range []bool{false, true} {
		b.Run(fmt.Sprintf("metrics=%s", map[bool]string{false: "off", true: "on"}[metrics]), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				s := newStack(b)
				scrapeEnv := s.env
				var services []*service
				if metrics {
					addrs := map[string]string{"scraper": freeAddr(b), "processor": freeAddr(b), "sink": freeAddr(b)}
					startPrometheus(b, addrs)
					with := func(svc string) []string {
						return append(append([]string(nil), s.env...), "MHFZ_HTTP_ADDR="+addrs[svc])
					}
					runService(b, ctx, s.env, "migrate", "up")
					services = append(services, startService(b, with("processor"), "process"), startService(b, with("sink"), "sink"))
					scrapeEnv = with("scraper")
				} else {
					processor, sink := s.start(ctx)
					services = append(services, processor, sink)
				}
				b.StartTimer()
				start := time.Now()
				scraper := startService(b, scrapeEnv, "scrape", "--base-url", base, "--rate", "0")
				if err := scraper.wait(ctx); err != nil {
					scraper.dumpLog()
					b.Fatal(err)
				}
				s.waitCaughtUp(ctx, 10*time.Minute)
				elapsed := time.Since(start)
				b.StopTimer()
				// The services' CPU time (user + system, start to stop) is less at the mercy of the
				// other sessions' load on the shared cores than the wall time.
				var cpu time.Duration
				for _, svc := range append(services, scraper) {
					if err := svc.stop(); err != nil {
						b.Fatal(err)
					}
					cpu += svc.cmd.ProcessState.UserTime() + svc.cmd.ProcessState.SystemTime()
				}
				b.ReportMetric(elapsed.Seconds(), "s/snapshot")
				b.ReportMetric(145955/elapsed.Seconds(), "records/s")
				b.ReportMetric(cpu.Seconds(), "cpu-s/snapshot")
				b.StartTimer()
			}
		})
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
