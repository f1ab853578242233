package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// TestServeCommand: `mhfz serve` on a migrated database, as mhfz_reader with the password that
// `migrate up --reader-password` set (scripts/testenv's server trusts loopback, so the password
// is checked in the role, not at login), answers its health route and stops cleanly; on a
// database without the schema it fails at once saying to migrate; `mhfz health --url` checks it.
// With --http-addr it serves its /readyz and its mhfz_serve_ metrics apart from the page.
func TestServeCommand(t *testing.T) {
	dbURL := testenv.DatabaseURL(t)
	if _, err := mhfz(t, "migrate", "--database-url", dbURL, "--reader-password", "s3cret'quote",
		"--writer-password", "w s3cret", "--rebuilder-password", `r"s3cret`, "up"); err != nil {
		t.Fatalf("migrate up --reader-password --writer-password --rebuilder-password: %v", err)
	}
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"mhfz_reader", "mhfz_writer", "mhfz_rebuilder"} {
		var hashed string
		err = conn.QueryRow(context.Background(), `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, role).Scan(&hashed)
		if err != nil || !strings.HasPrefix(hashed, "SCRAM-SHA-256$") {
			t.Fatalf("%s's password after migrate up with its password flag: %q (%v)", role, hashed, err)
		}
	}
	conn.Close(context.Background())
	u, _ := url.Parse(dbURL)
	u.User = url.UserPassword("mhfz_reader", "s3cret'quote")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--database-url", u.String(), "--http-addr", "127.0.0.1:0"},
			&stdout, &stderr)
	}()
	var base, metricsBase string
	for base == "" || metricsBase == "" {
		if m := regexp.MustCompile(`url=(http://\S+/) `).FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
		}
		if m := regexp.MustCompile(`serving /metrics.* addr=(\S+)`).FindStringSubmatch(stderr.String()); m != nil {
			metricsBase = "http://" + m[1] + "/"
		}
		select {
		case err := <-done:
			t.Fatalf("mhfz serve exited: %v\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	resp, err := http.Get(base + "api/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"ok"`) {
		t.Errorf("GET /api/health: %d %s", resp.StatusCode, body)
	}
	if out, err := mhfz(t, "health", "--brokers=", "--url", base+"api/health"); err != nil || !strings.Contains(out, "healthy") {
		t.Errorf("mhfz health --url: %q %v", out, err)
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, body := get(metricsBase + "readyz")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("--http-addr's /readyz: %d %s", code, body)
		}
	}
	_, metrics := get(metricsBase + "metrics")
	for _, want := range []string{`mhfz_serve_requests_total{code="200",route="GET /api/health"} 2`,
		`mhfz_serve_request_duration_seconds_count{route="GET /api/health"} 2`, "mhfz_serve_database_up 1",
		`mhfz_serve_export_rows_total{format="csv"} 0`, "mhfz_ready 1"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("--http-addr's /metrics lacks %q:\n%s", want, metrics)
		}
	}
	if code, body := get(base + "metrics"); code != 404 {
		t.Errorf("--addr serves /metrics too (%d %.100s): the metrics are apart from the page", code, body)
	}
	if strings.Contains(stderr.String(), "can write") {
		t.Errorf("mhfz_reader was taken for a role that can write:\n%s", stderr.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("mhfz serve after a stop: %v", err)
	}

	_, err = mhfz(t, "serve", "--addr", "127.0.0.1:0", "--database-url", testenv.DatabaseURL(t))
	if err == nil || !strings.Contains(err.Error(), "run mhfz migrate up") {
		t.Errorf("mhfz serve on a database without the schema: %v, want it to say to run mhfz migrate up", err)
	}
}

// TestServeObserveFlags: the observation's flags are checked against serve's own (the stall
// timeout against the others by browse.New, before anything is started but the metrics' server).
func TestServeObserveFlags(t *testing.T) {
	offline := []string{"--database-url", "postgres://nobody@127.0.0.1:1/none?connect_timeout=1", "--wait", "1s"}
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--http-addr", "127.0.0.1:0", "--stall-timeout", "1m"}, "StallTimeout 1m0s must be longer than ExportTimeout"},
		{[]string{"--http-addr", "127.0.0.1:0", "--export-timeout", "10m"}, "StallTimeout 5m0s must be longer than ExportTimeout"},
		{[]string{"--stall-timeout", "0s"}, "--stall-timeout must be positive"},
	} {
		err := run(context.Background(), append(append([]string{"serve"}, offline...), tc.args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.says) || exitCode(err) != 2 {
			t.Errorf("serve %v: %v (exit %d), want %q (exit 2)", tc.args, err, exitCode(err), tc.says)
		}
	}
	o, err := parseServeFlags([]string{"--http-addr", ":9100", "--export-timeout", "10m", "--stall-timeout", "11m"}, io.Discard)
	if err != nil || o.observe.addr != ":9100" || o.observe.stall != 11*time.Minute || o.cfg.ExportTimeout != 10*time.Minute {
		t.Errorf("serve --http-addr :9100 --export-timeout 10m --stall-timeout 11m: %+v %v", o, err)
	}
}
