package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/bundle"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// scriptOutput is the output of scripts/stack, written by it and read by the test at once.
type scriptOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *scriptOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}
func (o *scriptOutput) String() string { o.mu.Lock(); defer o.mu.Unlock(); return o.b.String() }

// TestStackScriptHistory runs the README's `scripts/stack --history` as a user would: it
// waits until every example query of the README returns rows (the older snapshot, then the
// newer one, give the history queries something to show) and the Prometheus it printed scrapes
// every service, then presses Ctrl-C (SIGINT to the
// script's process group, as a terminal does). The processor's and the sink's summaries must
// appear, the logs it advertised must be kept, and the extracted snapshots removed.
func TestStackScriptHistory(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("two snapshots through a stack of its own: not in -short")
	}
	testenv.KafkaBrokers(t) // where the services can run (the script starts its own)
	testenv.CorpusDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	var out scriptOutput
	cmd := exec.Command("../scripts/stack", "--history")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			<-done
		}
		if t.Failed() {
			t.Logf("scripts/stack said:\n%s", tail(out.String(), 12000))
		}
	})

	dbURL := waitScript(t, ctx, &out, done, regexp.MustCompile(`(?m)^  PostgreSQL +(postgres://\S+)$`))[1]
	promURL := waitScript(t, ctx, &out, done, regexp.MustCompile(`(?m)^  Prometheus +(http://\S+)`))[1]
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for {
		empty, err := readmeQueriesWithoutRows(ctx, conn, readmeQueries(t))
		if err == nil && len(empty) == 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("scripts/stack exited (%v) before the README's queries all returned rows", err)
		case <-ctx.Done():
			t.Fatalf("README queries still without rows (%v): %q", err, empty)
		case <-time.After(2 * time.Second):
		}
	}

	// The Prometheus it printed scrapes the four services (deploy/prometheus, every 15s).
	prom := &prometheus{t: t, url: promURL}
	prom.waitValue(ctx, `count(up{job=~"scraper|processor|sink|serve"} == 1)`, "is 4 (every service scraped)", equals(4))
	prom.waitValue(ctx, `sum(mhfz_sink_lag_records)`, "is 0", equals(0))

	// The web page and API it advertises answer, with the weapons of both snapshots.
	web := waitScript(t, ctx, &out, done, regexp.MustCompile(`(?m)^  web and API +(http://\S+/) `))[1]
	for _, path := range []string{"api/health", "api/weapons?q=katana&type=long_sword", "api/changes", "?q=katana"} {
		resp, err := http.Get(web + path)
		if err != nil {
			t.Fatalf("the advertised web page: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || (strings.HasPrefix(path, "api/weapons") && !strings.Contains(string(body), "Katana")) ||
			(path == "api/changes" && strings.Count(string(body), "scraped_at") != 2) {
			t.Errorf("GET %s%s: %d %s", web, path, resp.StatusCode, tail(string(body), 300))
		}
	}
	// publish has written the downloadable dataset into the folder serve serves (once the data
	// stayed the same for its --settle): a version holding every stored row (a first one may be
	// published before the scrape is stored), its manifest, and the newest SQLite file through
	// the redirect of /downloads/latest/sqlite.
	waitPublished(t, ctx, conn, web, done)
	for _, path := range []string{"api/downloads", "downloads/latest/sqlite", "downloads/"} {
		resp, err := http.Get(web + path)
		if err != nil {
			t.Fatalf("the advertised downloads: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || (path == "api/downloads" && !strings.Contains(string(body), `"sha256"`)) ||
			(path == "downloads/latest/sqlite" && !strings.HasPrefix(string(body), "SQLite format 3")) {
			t.Errorf("GET %s%s: %d %s", web, path, resp.StatusCode, tail(string(body), 300))
		}
	}
	// serve counts them by route pattern, and Prometheus reads them.
	prom.waitValue(ctx, `sum(mhfz_serve_requests_total{job="serve",route="GET /api/weapons",code="200"})`,
		"is at least 1 (the search above)", func(v float64) bool { return v >= 1 })

	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil { // Ctrl-C
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("scripts/stack did not stop within 3 minutes of Ctrl-C; its processes still running:\n%s", processGroup(cmd.Process.Pid))
	}
	said := out.String()
	logs := regexp.MustCompile(`logs kept in (\S+)`).FindStringSubmatch(said)
	if logs == nil {
		t.Fatal("the script does not say where its logs are")
	}
	t.Cleanup(func() { os.RemoveAll(logs[1]) })
	if hung := regexp.MustCompile(`still running (\d+s) after SIGTERM: (.*?);`).FindStringSubmatch(said); hung != nil {
		for _, name := range strings.Fields(hung[2]) {
			dump, _ := os.ReadFile(logs[1] + "/" + name + ".log")
			t.Errorf("%s did not stop within %s of SIGTERM; the end of its log, with its goroutines:\n%s", name, hung[1], tail(string(dump), 20000))
		}
	}
	for _, summary := range []string{`(?m)^process: read \d+, forwarded \d+`, `(?m)^sink: \d+ received, \d+ stored`,
		`(?m)^publish: \d+ versions published`} {
		if !regexp.MustCompile(summary).MatchString(said) {
			t.Errorf("no summary %s after Ctrl-C", summary)
		}
	}
	for _, f := range []string{"scraper-older.log", "scraper.log", "processor.log", "sink.log", "serve.log", "publish.log"} {
		if _, err := os.Stat(logs[1] + "/" + f); err != nil {
			t.Errorf("log %s not kept: %v", f, err)
		}
	}
	extracted := regexp.MustCompile(`extracting (\S+) into (\S+)`).FindAllStringSubmatch(said, -1)
	if len(extracted) != 2 {
		t.Fatalf("%d snapshots extracted, want 2 (older, newer)", len(extracted))
	}
	for _, e := range extracted {
		if _, err := os.Stat(e[2]); !os.IsNotExist(err) {
			t.Errorf("%s: still there after the stack stopped (%v)", e[2], err)
		}
	}
}

// waitScript waits until the script's output matches re and returns the match.
func waitScript(t *testing.T, ctx context.Context, out *scriptOutput, done chan error, re *regexp.Regexp) []string {
	t.Helper()
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("scripts/stack exited (%v) before printing %s", err, re)
		case <-ctx.Done():
			t.Fatalf("scripts/stack did not print %s: %v", re, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// readmeQueriesWithoutRows runs the queries and returns those that return no row.
func readmeQueriesWithoutRows(ctx context.Context, conn *pgx.Conn, queries []string) ([]string, error) {
	var empty []string
	for _, q := range queries {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("%w\n%s", err, q)
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("%w\n%s", err, q)
		}
		if n == 0 {
			empty = append(empty, strings.SplitN(q, "\n", 2)[0])
		}
	}
	return empty, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// waitPublished waits until the serve at web lists a published version of the dataset that
// holds every stored row. The rows are counted again on each try: the sink may still be storing
// the scrape when the wait begins, and a count read once would wait for a version that never
// comes.
func waitPublished(t *testing.T, ctx context.Context, conn *pgx.Conn, web string, done <-chan error) {
	t.Helper()
	var stored, published int64
	for {
		stored, published = storedRows(t, ctx, conn), publishedRows(web)
		if published == stored {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("scripts/stack exited (%v) before publish published the %d stored rows", err, stored)
		case <-ctx.Done():
			t.Fatalf("no version of the %d stored rows published (the latest has %d)", stored, published)
		case <-time.After(2 * time.Second):
		}
	}
}

// storedRows is the number of rows of every weapon table: every version of every weapon.
func storedRows(t *testing.T, ctx context.Context, conn *pgx.Conn) int64 {
	t.Helper()
	var stored int64
	for _, table := range migrations.WeaponTables() {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
			t.Fatalf("count the rows of %s: %v", table, err)
		}
		stored += n
	}
	return stored
}

// publishedRows is the number of rows of the latest version's SQLite file (every version of
// every weapon), -1 when there is none yet.
func publishedRows(web string) int64 {
	resp, err := http.Get(web + "api/downloads")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var m bundle.Manifest
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&m) != nil {
		return -1
	}
	for _, f := range m.Files {
		if f.Format == string(bundle.FormatSQLite) {
			return f.Rows
		}
	}
	return -1
}

// processGroup lists the processes of a process group, with their state and age: what a
// script that does not stop is still waiting for.
func processGroup(pgid int) string {
	out, err := exec.Command("ps", "-e", "-o", "pid,pgid,ppid,stat,etime,wchan:16,args").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("ps: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	group := lines[:1]
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 1 && f[1] == fmt.Sprint(pgid) {
			group = append(group, l)
		}
	}
	return strings.Join(group, "\n")
}
