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
