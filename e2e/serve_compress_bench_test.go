package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// BenchmarkExportCompression measures the bytes and the time of the whole JSON Lines export
// (every current weapon, level rows included) of the newest snapshot stored by the real
// pipeline, sent plain, with gzip and with zstd (mhfz serve's Accept-Encoding negotiation), as
// docs/benchmarks.md reports them. MHFZ_BENCH_SERVE_DATABASE_URL measures an existing database
// (as mhfz_reader) instead of loading the snapshot.
func BenchmarkExportCompression(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	dbURL := os.Getenv("MHFZ_BENCH_SERVE_DATABASE_URL")
	if dbURL == "" {
		dbURL = loadSnapshots(b, ctx, "bench-export", testenv.Newest)
	}
	base := startServe(b, ctx, dbURL)
	for _, enc := range []string{"identity", "gzip", "zstd"} {
		b.Run(enc, func(b *testing.B) {
			var n int64
			for range b.N {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/export.jsonl?levels=true", nil)
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Accept-Encoding", enc)
				resp, err := http.DefaultTransport.RoundTrip(req) // the bytes as sent, not decoded
				if err != nil {
					b.Fatal(err)
				}
				n, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || (enc != "identity") != (resp.Header.Get("Content-Encoding") == enc) {
					b.Fatalf("%s: %d, Content-Encoding %q, %v", enc, resp.StatusCode, resp.Header.Get("Content-Encoding"), err)
				}
			}
			b.ReportMetric(float64(n), "bytes")
			b.Logf("%s: %s", enc, fmt.Sprintf("%d bytes", n))
		})
	}
}
