package browse_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"

	"github.com/mhfz/mhfz-pipeline/browse"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
	"github.com/mhfz/mhfz-pipeline/internal/startup"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// startServer runs a server of cfg on a free port until the test ends. It returns the page's
// base URL and stop, which stops the server and returns Run's error (once stopped, every call
// returns it again).
func startServer(t *testing.T, cfg browse.Config) (base string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listener = ln
	s, err := browse.New(cfg)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stop = sync.OnceValue(func() error { cancel(); return <-done })
	t.Cleanup(func() { _ = stop() })
	return "http://" + ln.Addr().String(), stop
}

// serving waits until the server at base answers (Run has waited for and checked the
// database), or fails the test with Run's error.
func serving(t *testing.T, base string, stop func() error) {
	t.Helper()
	resp, err := http.Get(base + "/api/openapi.yaml")
	if err != nil {
		t.Fatalf("the server does not serve: %v (Run: %v)", err, stop())
	}
	resp.Body.Close()
}

// observedServer serves the page and API of the database at dbURL with the metrics and checks
// of svc, until the test ends, when Run's error must be wantErr (errors.Is; nil: none); it
// returns the page's base URL.
func observedServer(t *testing.T, dbURL string, svc *observe.Service, wantErr error) string {
	t.Helper()
	cfg := testConfig(dbURL)
	cfg.Registry, cfg.Health, cfg.ProbeEvery = svc.Registry, svc.Health, 50*time.Millisecond
	base, stop := startServer(t, cfg)
	t.Cleanup(func() {
		if err := stop(); !errors.Is(err, wantErr) {
			t.Errorf("serve: %v, want %v", err, wantErr)
		}
	})
	return base
}

// waitFor polls cond until it is true or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sample is the value of a counter or the sample count of a histogram of the registry, with
// these labels (nil: the metric has no such series).
func sample(t *testing.T, svc *observe.Service, name string, labels map[string]string) *float64 {
	t.Helper()
	families, err := svc.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue metrics
				}
			}
			v := valueOf(m)
			return &v
		}
	}
	return nil
}

func show(v *float64) string {
	if v == nil {
		return "no such series"
	}
	return strconv.FormatFloat(*v, 'g', -1, 64)
}

func valueOf(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	default:
		return m.Gauge.GetValue()
	}
}

// TestServeMetrics: the requests are counted by route pattern (never the path asked for) and
// status, timed by route; the exported rows are counted; PostgreSQL answers, and the server is
// ready and alive.
func TestServeMetrics(t *testing.T) {
	ownerURL, readerURL := migratedDB(t)
	conn, err := pgx.Connect(context.Background(), ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(context.Background(), `INSERT INTO long_sword (key, version, content_hash, weapon_type, page_kind,
		layout, page, url, row_id, hidden, scraped_at, kafka_topic, kafka_partition, kafka_offset, name)
		SELECT 'long_sword/base/l' || i, 1, 'h', 'long_sword', 'base', 'ken', 'tati.htm', 'u', 'l' || i, false, now(),
			't', 0, i, 'Katana ' || i FROM generate_series(1, 3) AS i`)
	conn.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := observe.NewService("test", "test")
	if err != nil {
		t.Fatal(err)
	}
	base := observedServer(t, readerURL, svc, nil)
	waitFor(t, "the server to be ready", func() bool { return svc.Health.IsReady() == nil })
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/api/weapons/long_sword/base/l1", 200},
		{"/api/weapons/long_sword/base/l2", 200},
		{"/api/weapons/long_sword/base/nothere", 404},
		{"/api/export.csv?type=long_sword", 200},
		{"/nowhere", 404},
	} {
		resp, err := http.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Fatalf("GET %s: %d, want %d", tc.path, resp.StatusCode, tc.status)
		}
	}
	weapon := "GET /api/weapons/{type}/{kind}/{row}"
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"mhfz_serve_requests_total", map[string]string{"route": weapon, "code": "200"}, 2},
		{"mhfz_serve_requests_total", map[string]string{"route": weapon, "code": "404"}, 1},
		{"mhfz_serve_requests_total", map[string]string{"route": "GET /api/export.csv", "code": "200"}, 1},
		{"mhfz_serve_requests_total", map[string]string{"route": "/", "code": "404"}, 1},
		{"mhfz_serve_request_duration_seconds", map[string]string{"route": weapon}, 3},
		{"mhfz_serve_export_rows_total", map[string]string{"format": "csv"}, 3},
		{"mhfz_serve_export_rows_total", map[string]string{"format": "jsonl"}, 0},
		{"mhfz_serve_database_up", nil, 1},
		{"mhfz_ready", nil, 1},
		{"mhfz_healthy", nil, 1},
	} {
		if got := sample(t, svc, tc.name, tc.labels); got == nil || *got != tc.want {
			t.Errorf("%s %v: %s, want %v", tc.name, tc.labels, show(got), tc.want)
		}
	}
	if got := sample(t, svc, "mhfz_serve_requests_total", map[string]string{"route": "/api/weapons/long_sword/base/l1"}); got != nil {
		t.Errorf("a request is counted under its path (%v): the route label must be the pattern", *got)
	}
}

// TestServeNotReadyWithoutTheDatabase: while PostgreSQL does not answer, /readyz fails and says
// so, mhfz_serve_database_up is 0, and the server is alive all the same (no request is stuck).
func TestServeNotReadyWithoutTheDatabase(t *testing.T) {
	svc, err := observe.NewService("test", "test")
	if err != nil {
		t.Fatal(err)
	}
	// Run waits for the database, which never answers: a stop then is a failure to start.
	observedServer(t, offlineURL, svc, startup.ErrNotStarted)
	health := httptest.NewServer(svc.Handler())
	defer health.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(health.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	// Wait for a probe to have failed, not merely not answered yet.
	waitFor(t, "a failed probe of the database", func() bool {
		_, body := get("/readyz")
		return strings.Contains(body, "connect")
	})
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "serve database: PostgreSQL") {
		t.Errorf("/readyz: %d %q, want 503 naming the database", code, body)
	}
	if code, body := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d %q, want 200 (nothing is stuck)", code, body)
	}
	if got := sample(t, svc, "mhfz_serve_database_up", nil); got == nil || *got != 0 {
		t.Errorf("mhfz_serve_database_up: %s, want 0", show(got))
	}
}

// TestServeLosesTheDatabase: a server that was serving loses PostgreSQL (every connection cut,
// new ones refused): /readyz fails naming the database and mhfz_serve_database_up turns 0 while
// /healthz stays 200; once PostgreSQL is back, the server is ready again by itself.
func TestServeLosesTheDatabase(t *testing.T) {
	_, reader := migratedDB(t)
	u, err := url.Parse(reader)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	svc, err := observe.NewService("test", "test")
	if err != nil {
		t.Fatal(err)
	}
	observedServer(t, u.String(), svc, nil)
	health := httptest.NewServer(svc.Handler())
	defer health.Close()
	status := func(path string) (int, string) {
		resp, err := http.Get(health.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	up := func() float64 {
		if got := sample(t, svc, "mhfz_serve_database_up", nil); got != nil {
			return *got
		}
		return -1
	}
	waitFor(t, "ready while the database answers", func() bool { code, _ := status("/readyz"); return code == 200 && up() == 1 })
	proxy.Down()
	waitFor(t, "not ready once the database is gone", func() bool { code, _ := status("/readyz"); return code == 503 && up() == 0 })
	if code, body := status("/readyz"); !strings.Contains(body, "serve database: PostgreSQL") {
		t.Errorf("/readyz: %d %q, want it to name the database", code, body)
	}
	if code, body := status("/healthz"); code != 200 {
		t.Errorf("/healthz: %d %q, want 200 (nothing is stuck)", code, body)
	}
	proxy.Up(t)
	waitFor(t, "ready again once the database is back", func() bool { code, _ := status("/readyz"); return code == 200 && up() == 1 })
}
