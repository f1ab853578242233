package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/browse"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// BenchmarkServeEveryWeapon requests /api/weapons/{key} of every weapon of the database (every
// key of weapon_latest: the weapons a search shows, level rows left out), once each: first one
// at a time, then from 8 clients at once. BenchmarkServe's random sample may miss the few slow
// ones (the roots of large upgrade trees); this walk cannot. Goals: p99 under 10 ms one at a
// time, under 20 ms at 8 clients. The sequential walk logs its twenty slowest weapons with the
// number of queries each made; MHFZ_BENCH_EXPLAIN=1 also logs EXPLAIN (ANALYZE, BUFFERS) of every
// query of their routes, as the server runs them (generic plans). MHFZ_BENCH_SERVE_DATABASE_URL
// measures an existing database filled with both snapshots (as mhfz_reader), as BenchmarkServe.
func BenchmarkServeEveryWeapon(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	dbURL := os.Getenv("MHFZ_BENCH_SERVE_DATABASE_URL")
	if dbURL == "" {
		dbURL = loadSnapshots(b, ctx, "bench-weapons", testenv.Older, testenv.Newest)
	}
	tracer := &routeQueries{}
	base := startServe(b, ctx, dbURL, benchAnswerCache(b), func(cfg *browse.Config) { cfg.QueryTracer = tracer })
	keys := everyWeapon(b, ctx, dbURL)
	route := func(key string) string { return base + "/api/weapons/" + key }
	b.Run("sequential", func(b *testing.B) {
		for range b.N {
			cpu := startCPU(b, ctx, dbURL)
			slowest := walkEveryWeapon(b, keys, route, tracer)
			cpu.report(b, ctx, len(keys))
			if os.Getenv("MHFZ_BENCH_EXPLAIN") != "" {
				explainRoutes(b, ctx, dbURL, slowest, route, tracer)
			}
		}
	})
	b.Run("clients=8", func(b *testing.B) {
		for range b.N {
			cpu := startCPU(b, ctx, dbURL)
			latencies(b, 8, len(keys), func(i int) string { return route(keys[i]) })
			cpu.report(b, ctx, len(keys))
		}
	})
}

// cpuUse measures the CPU time of a walk, which the machine's load changes less than its
// latencies: that of this process (the server and its clients) and of the server's PostgreSQL
// backends (application_name mhfz-serve), read from /proc when PostgreSQL runs on this machine.
type cpuUse struct {
	conn     *pgx.Conn
	self     time.Duration
	backends map[int]time.Duration
	readable bool
}

func startCPU(b *testing.B, ctx context.Context, dbURL string) *cpuUse {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(context.Background()) })
	c := &cpuUse{conn: conn}
	c.self, _ = procCPU("self")
	c.backends, c.readable = c.backendCPU(b, ctx)
	return c
}

func (c *cpuUse) backendCPU(b *testing.B, ctx context.Context) (map[int]time.Duration, bool) {
	rows, _ := c.conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = 'mhfz-serve' AND datname = current_database()`)
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	out := map[int]time.Duration{}
	for _, pid := range pids {
		d, err := procCPU(fmt.Sprint(pid))
		if err != nil {
			return nil, false // PostgreSQL is elsewhere
		}
		out[int(pid)] = d
	}
	return out, true
}

// report reports the CPU milliseconds a request took, of this process and of PostgreSQL.
func (c *cpuUse) report(b *testing.B, ctx context.Context, requests int) {
	self, _ := procCPU("self")
	b.ReportMetric(float64((self-c.self).Microseconds())/1000/float64(requests), "go_cpu_ms/req")
	after, ok := c.backendCPU(b, ctx)
	if !ok || !c.readable {
		return
	}
	var pg time.Duration
	for pid, d := range after {
		pg += d - c.backends[pid] // a backend started during the walk counts from 0
	}
	b.ReportMetric(float64(pg.Microseconds())/1000/float64(requests), "pg_cpu_ms/req")
}

// everyWeapon returns every key of weapon_latest, in a fixed order that mixes the tables.
func everyWeapon(b *testing.B, ctx context.Context, dbURL string) []string {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, "SELECT key FROM "+migrations.LatestTable+" ORDER BY md5(key)")
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	return keys
}

// timedRoute is one weapon's request: how long it took and how many queries it made.
type timedRoute struct {
	key     string
	took    time.Duration
	queries int
}

// walkEveryWeapon requests every key once, one at a time, reports the percentiles and logs the
// twenty slowest, which it returns.
func walkEveryWeapon(b *testing.B, keys []string, route func(string) string, tracer *routeQueries) []timedRoute {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	all := make([]timedRoute, 0, len(keys))
	start := time.Now()
	for _, key := range keys {
		tracer.record(false)
		t0 := time.Now()
		if err := get(client, route(key)); err != nil {
			b.Fatal(err)
		}
		all = append(all, timedRoute{key: key, took: time.Since(t0), queries: len(tracer.take())})
	}
	took := time.Since(start)
	slices.SortFunc(all, func(x, y timedRoute) int { return int(x.took - y.took) })
	pct := func(p float64) float64 { return ms(all[int(p*float64(len(all)-1))].took) }
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
	b.ReportMetric(ms(all[len(all)-1].took), "max_ms")
	b.ReportMetric(float64(len(all))/took.Seconds(), "req/s")
	// The queries a route makes do not depend on the machine's load, unlike its time.
	queries := make([]int, len(all))
	for i, r := range all {
		queries[i] = r.queries
	}
	slices.Sort(queries)
	b.ReportMetric(float64(queries[len(queries)-1]), "max_queries")
	b.Logf("%d weapons one at a time in %s: p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms, max %.1f ms; queries a route: "+
		"median %d, p99 %d, max %d", len(all), took.Round(time.Millisecond), pct(0.5), pct(0.99), pct(0.999),
		ms(all[len(all)-1].took), queries[len(queries)/2], queries[len(queries)*99/100], queries[len(queries)-1])
	// A slow request of a loaded machine may be a pause of the machine: each of the twenty is
	// timed again, five times, and its median says whether the weapon itself is slow. On
	// standard output: the testing package keeps only ten lines of a benchmark's log.
	slowest := slices.Clone(all[max(0, len(all)-20):])
	slices.Reverse(slowest)
	fmt.Printf("the twenty slowest weapons of the walk (then the median of five more requests):\n")
	for _, r := range slowest {
		again := make([]time.Duration, 5)
		for i := range again {
			t0 := time.Now()
			if err := get(client, route(r.key)); err != nil {
				b.Fatal(err)
			}
			again[i] = time.Since(t0)
		}
		slices.Sort(again)
		fmt.Printf("  %7.1f ms (again: %5.1f ms)  %2d queries  %s\n", ms(r.took), ms(again[2]), r.queries, r.key)
	}
	tracer.take()
	return slowest
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// get requests url and reads the whole answer, which must be 200.
func get(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// explainRoutes requests each route again, recording its queries, and logs EXPLAIN (ANALYZE,
// BUFFERS) of each, run as the server runs it: as mhfz_reader, with its generic plans.
func explainRoutes(b *testing.B, ctx context.Context, dbURL string, routes []timedRoute, route func(string) string, tracer *routeQueries) {
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		b.Fatal(err)
	}
	cfg.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	client := &http.Client{}
	for _, r := range routes {
		tracer.record(true)
		if err := get(client, route(r.key)); err != nil {
			b.Fatal(err)
		}
		var out strings.Builder
		for i, q := range tracer.take() {
			rows, _ := conn.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+q.sql, q.args...)
			plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				fmt.Fprintf(&out, "\n--- query %d: %s: EXPLAIN: %v", i+1, oneLine(q.sql, 200), err)
				continue
			}
			fmt.Fprintf(&out, "\n--- query %d: %s\n%s", i+1, oneLine(q.sql, 200), strings.Join(plan, "\n"))
		}
		fmt.Printf("%s (%.1f ms, %d queries):%s\n", r.key, ms(r.took), r.queries, out.String())
	}
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// routeQueries is the server's query tracer: it counts the queries since the last take, and
// keeps their text and arguments when asked to.
type routeQueries struct {
	mu      sync.Mutex
	keep    bool
	queries []tracedQuery
}

type tracedQuery struct {
	sql  string
	args []any
}

// record starts a new request's list; keep says whether to keep the statements.
func (r *routeQueries) record(keep bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keep, r.queries = keep, nil
}

// take returns the queries since record.
func (r *routeQueries) take() []tracedQuery {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queries
	r.queries = nil
	return q
}

func (r *routeQueries) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := tracedQuery{}
	if r.keep {
		q = tracedQuery{sql: data.SQL, args: data.Args}
	}
	r.queries = append(r.queries, q)
	return ctx
}

func (r *routeQueries) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
