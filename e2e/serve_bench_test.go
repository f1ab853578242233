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
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// benchSearches are the searches of the benchmark, in turn: names in English and Japanese (two
// letters included), ids, filters and orders, as the page sends them while a user types.
var benchSearches = []string{
	"q=katana", "q=nodachi", "q=blade", "q=覇帝刀", "q=ナギ", "q=iron", "q=dragon", "q=rath", "q=tigrex", "q=akantor",
	"q=ukanlos", "q=apophis", "q=hellish", "q=drone", "q=guard", "q=ka", "q=ea", "q=l219C", "q=03E9", "id=l000A",
	"id=219C5", "type=long_sword&sort=-attack", "element=fire&element_min=500", "type=bow&rarity_min=12",
	"kind=g&sort=-affinity", "type=hammer&slots_min=3&sort=-attack", "", "type=tonfa&levels=true&sort=-attack",
	"q=sword&type=great_sword&sort=-rarity", "q=gun&kind=sp", "element=poison&sort=-status", "q=zenith&sort=-attack",
}

// BenchmarkServe measures the latency of searches and of weapon pages (the API's
// /api/weapons/{key}: the weapon, its levels, tree and history) with several concurrent clients,
// on the whole database: both snapshots through the real pipeline. Goals: p99 under 50 ms for a
// search, under 20 ms for a weapon. MHFZ_BENCH_SERVE_DATABASE_URL measures an existing database
// filled with both snapshots instead (as mhfz_reader), without loading it again.
func BenchmarkServe(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	dbURL := os.Getenv("MHFZ_BENCH_SERVE_DATABASE_URL")
	if dbURL == "" {
		dbURL = loadSnapshots(b, ctx, "bench-serve", testenv.Older, testenv.Newest)
	}
	base := startServe(b, ctx, dbURL)
	keys := sampleKeys(b, ctx, dbURL, 40)
	// 2, 4 and 8 clients at once, each sending its next request as soon as it has an answer: on
	// two cores shared by the clients, the server and PostgreSQL, 8 saturate the machine and
	// measure its queue more than a request.
	const requests = 3000
	for _, clients := range []int{2, 4, 8} {
		b.Run(fmt.Sprintf("search/clients=%d", clients), func(b *testing.B) {
			for range b.N {
				latencies(b, clients, requests, func(i int) string { return base + "/api/weapons?" + benchSearches[i%len(benchSearches)] })
			}
		})
		b.Run(fmt.Sprintf("weapon/clients=%d", clients), func(b *testing.B) {
			for range b.N {
				latencies(b, clients, requests, func(i int) string { return base + "/api/weapons/" + keys[i%len(keys)] })
			}
		})
	}
}

// loadSnapshots runs the snapshots, each whole and in turn, through the router and the sink of a
// deployment named name, and returns the database as mhfz_reader.
func loadSnapshots(b *testing.B, ctx context.Context, name string, snapshots ...string) string {
	d := newDeployment(b, ctx, name)
	live := d.start(ctx, nil, name)
	for _, snapshot := range snapshots {
		d.emit(snapshotRecords(b, snapshot))
		d.waitStored(ctx, live)
	}
	live.halt(b)
	// What autovacuum would have done by the time users come: statistics and visibility maps.
	if _, err := d.db.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	u, err := url.Parse(d.url)
	if err != nil {
		b.Fatal(err)
	}
	u.User = url.User(migrations.ReaderRole)
	return u.String()
}

// sampleKeys returns perTable random keys of every weapon table, level rows included.
func sampleKeys(b *testing.B, ctx context.Context, dbURL string, perTable int) []string {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var keys []string
	for _, t := range migrations.WeaponTables() {
		rows, _ := conn.Query(ctx, fmt.Sprintf("SELECT key FROM (SELECT DISTINCT key FROM %s) k ORDER BY md5(key) LIMIT %d", t, perTable))
		k, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			b.Fatal(err)
		}
		keys = append(keys, k...)
	}
	return keys
}

// latencies sends requests GETs from clients goroutines and reports the latency percentiles.
func latencies(b *testing.B, clients, requests int, target func(i int) string) {
	var mu sync.Mutex
	var all []time.Duration
	var next int
	var firstErr error
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
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
				resp, err := client.Get(target(i))
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("GET %s: %s", target(i), resp.Status)
					}
				}
				mine = append(mine, time.Since(t0))
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
	b.ReportMetric(float64(all[len(all)-1].Microseconds())/1000, "max_ms")
	b.ReportMetric(float64(len(all))/took.Seconds(), "req/s")
	b.Logf("%d requests from %d clients in %s: p50 %.1f ms, p99 %.1f ms, max %.1f ms", len(all), clients, took.Round(time.Millisecond),
		pct(0.5), pct(0.99), float64(all[len(all)-1].Microseconds())/1000)
}
