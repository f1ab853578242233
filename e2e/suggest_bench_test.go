package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// BenchmarkSuggest measures /api/suggest as an autocomplete sends it, on the newest snapshot
// stored whole through the real router and sink: each sampled name typed one character at a
// time (from 1 to 12 characters: prefixes, and past the first word the trigram fallback), with 1
// and 8 clients. Each count runs 3 rounds and reports their medians of p50, p99 and requests/s.
// Goal: p99 under 10 ms at 8 clients. MHFZ_BENCH_SUGGEST_DATABASE_URL measures an existing
// database (as mhfz_reader) instead of loading one.
func BenchmarkSuggest(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	dbURL := os.Getenv("MHFZ_BENCH_SUGGEST_DATABASE_URL")
	if dbURL == "" {
		dbURL = loadSnapshots(b, ctx, "bench-suggest", testenv.Newest)
	}
	base := startServe(b, ctx, dbURL, benchAnswerCache(b))
	queries := typedQueries(b, ctx, dbURL, 60)
	b.Logf("%d queries typed from %d sampled names", len(queries), 60)
	const requests, rounds = 3000, 3
	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			for range b.N {
				var p50, p99, rps []float64
				for round := range rounds {
					st := measureRound(b, clients, requests, func(i int) string {
						return base + "/api/suggest?q=" + url.QueryEscape(queries[(i*7919+round)%len(queries)])
					})
					b.Logf("round %d, %d clients: p50 %.2f ms, p99 %.2f ms, max %.2f ms, %.0f requests/s", round+1, clients,
						st.p50, st.p99, st.max, st.rps)
					p50, p99, rps = append(p50, st.p50), append(p99, st.p99), append(rps, st.rps)
				}
				b.ReportMetric(medianFloat(p50), "p50_ms")
				b.ReportMetric(medianFloat(p99), "p99_ms")
				b.ReportMetric(medianFloat(rps), "req/s")
			}
		})
	}
}

func medianFloat(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	return s[len(s)/2]
}

// typedQueries samples n names of weapon_latest (a fixed sample) and returns what a user typing
// each sends: its first 1, 2, …, 12 characters.
func typedQueries(b *testing.B, ctx context.Context, dbURL string, n int) []string {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT mhfz_suggest_name(name_lower) FROM weapon_latest ORDER BY md5(key) LIMIT $1`, n)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	var out []string
	for _, name := range names {
		r := []rune(name)
		for i := 1; i <= min(len(r), 12); i++ {
			if r[i-1] != ' ' {
				out = append(out, string(r[:i]))
			}
		}
	}
	return out
}

// roundStats are the latencies of one round, in milliseconds, and its requests per second.
type roundStats struct{ p50, p99, max, rps float64 }

// measureRound sends requests GETs from clients goroutines, each sending its next as soon as it has
// an answer, and returns their latencies.
func measureRound(b *testing.B, clients, requests int, target func(i int) string) roundStats {
	var mu sync.Mutex
	var all []time.Duration
	var next int
	var firstErr error
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()
	start := time.Now()
	for range clients {
		wg.Go(func() {
			var mine []time.Duration
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= requests {
					break
				}
				t0 := time.Now()
				err := getStatusOK(client, target(i))
				mine = append(mine, time.Since(t0))
				if err != nil {
					mu.Lock()
					firstErr = keepFirst(firstErr, err)
					mu.Unlock()
				}
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	took := time.Since(start)
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	slices.Sort(all)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return roundStats{p50: ms(all[len(all)/2]), p99: ms(all[int(0.99*float64(len(all)-1))]), max: ms(all[len(all)-1]),
		rps: float64(len(all)) / took.Seconds()}
}

func keepFirst(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func getStatusOK(client *http.Client, u string) error {
	resp, err := client.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return nil
}
