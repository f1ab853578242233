package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// BenchmarkStackEndToEnd measures the whole newest snapshot from the scraper's first HTTP request
// to the sink's last committed row, with the stack's processes already started (as they are in
// the stack): one iteration is one full run on fresh topics and a fresh database. metrics=on runs
// the same with every service serving /metrics (--http-addr) and a Prometheus (Debian's package)
// scraping them every second; metrics=off without either. cpu-s/snapshot is the CPU time the
// mhfz processes used (Prometheus's own not counted), SERVICE-cpu-s, SERVICE-MB and
// SERVICE-kfaults each one's CPU time, peak resident memory and minor page faults (thousands:
// each a 4 kB page of fresh memory, whose cost the profiles count in memmove and memclr),
// kafka-cpu-s and postgres-cpu-s the broker's and the database server's CPU time over the run
// (serversCPU; with scripts/testenv's servers only): on a machine of 2 cores, the wall time is
// bounded by the sum of all five. Run the two alternately (a
// loop of -count 1 runs), so that the other sessions' load on the shared cores hits both alike.
// With MHFZ_PROFILE_DIR set (`make profile`), every service writes its CPU profile there and the
// benchmark summarises them.
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
				run := profiledRuns.Add(1)
				services := startStackServices(b, ctx, metrics, run)
				kafkaBefore, postgresBefore, servers := serversCPU()
				b.StartTimer()
				start := time.Now()
				scraper := startService(b, append(services.scrapeEnv, profileEnv("scrape", run)...),
					"scrape", "--base-url", base, "--rate", "0")
				if err := scraper.wait(ctx); err != nil {
					scraper.dumpLog()
					b.Fatal(err)
				}
				services.stack.waitCaughtUp(ctx, 10*time.Minute)
				elapsed := time.Since(start)
				b.StopTimer()
				if kafka, postgres, ok := serversCPU(); ok && servers {
					b.ReportMetric((kafka - kafkaBefore).Seconds(), "kafka-cpu-s")
					b.ReportMetric((postgres - postgresBefore).Seconds(), "postgres-cpu-s")
				}
				reportUsage(b, elapsed, append(services.running, scraper))
				b.StartTimer()
			}
			writeProfileSummary(b, "scrape", "process", "sink")
		})
	}
}

// benchStack is the stack of one iteration of BenchmarkStackEndToEnd: the processor and the
// sink running, and the environment the scraper will run with.
type benchStack struct {
	stack     *stack
	running   []*service
	scrapeEnv []string
}

func startStackServices(b *testing.B, ctx context.Context, metrics bool, run int64) benchStack {
	s := newStack(b)
	with := func(svc string) []string {
		return append(append([]string(nil), s.env...), profileEnv(svc, run)...)
	}
	if metrics {
		// Prometheus's jobs are named for the compose services.
		jobs := map[string]string{"scrape": "scraper", "process": "processor", "sink": "sink"}
		addrs, targets := map[string]string{}, map[string]string{}
		for svc, job := range jobs {
			addrs[svc] = freeAddr(b)
			targets[job] = addrs[svc]
		}
		startPrometheus(b, targets)
		with = func(svc string) []string {
			return append(append(append([]string(nil), s.env...), profileEnv(svc, run)...), "MHFZ_HTTP_ADDR="+addrs[svc])
		}
	}
	runService(b, ctx, s.env, "migrate", "up")
	running := []*service{startService(b, with("process"), "process"), startService(b, with("sink"), "sink")}
	return benchStack{stack: s, running: running, scrapeEnv: with("scrape")}
}

// reportUsage stops the services and reports the run's wall time and each one's CPU time and
// peak resident memory. The CPU time (user + system, start to stop) is less at the mercy of the
// other sessions' load on the shared cores than the wall time.
func reportUsage(b *testing.B, elapsed time.Duration, services []*service) {
	var cpu time.Duration
	for _, svc := range services {
		if err := svc.stop(); err != nil {
			b.Fatal(err)
		}
		u := usageOf(svc)
		cpu += u.cpu
		b.ReportMetric(u.cpu.Seconds(), svc.name+"-cpu-s")
		b.ReportMetric(float64(u.maxRSS)/1e6, svc.name+"-MB")
		b.ReportMetric(float64(u.faults)/1e3, svc.name+"-kfaults")
	}
	b.ReportMetric(elapsed.Seconds(), "s/snapshot")
	b.ReportMetric(145955/elapsed.Seconds(), "records/s")
	b.ReportMetric(cpu.Seconds(), "cpu-s/snapshot")
}

// BenchmarkSinkRealCorpus measures the sink alone on the real records: the newest snapshot is
// scraped and routed once, then each iteration runs `mhfz sink --replay` (tables and offsets
// emptied in one transaction) and times it from its start until PostgreSQL's offsets reach the
// ends of the weapon topics, and reports the sink's CPU time (user + system) and peak memory.
// MHFZ_BENCH_SINK_BINARIES (paths separated by colons) runs the sinks of those builds in turn,
// one an iteration, on the same records, and logs each run (the metrics are of the last).
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
	bins := []string{buildMhfz(b)}
	if list := os.Getenv("MHFZ_BENCH_SINK_BINARIES"); list != "" {
		bins = strings.Split(list, ":")
	}
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		replay := startBinary(b, bins[i%len(bins)], s.env, "sink", "--replay")
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
		u := usageOf(replay)
		b.Logf("%s: %.2f s, sink %.2f CPU-s, %.0f MB, %d page faults", bins[i%len(bins)], elapsed.Seconds(), u.cpu.Seconds(),
			float64(u.maxRSS)/1e6, u.faults)
		b.ReportMetric(elapsed.Seconds(), "s/corpus")
		b.ReportMetric(u.cpu.Seconds(), "sink-cpu-s")
		b.ReportMetric(float64(u.maxRSS)/1e6, "sink-MB")
		b.StartTimer()
	}
}
