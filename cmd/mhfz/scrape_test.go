package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// scrapeSite is a tiny site: an index of one weapon type and two of its pages (3 rows).
var scrapeSite = map[string]string{
	"buki.htm":         `<html><body><a href="tachi.htm">Long Sword</a>/<a href="tachi_g.htm#t8">G</a></body></html>`,
	"buki_partnya.htm": `<html><body></body></html>`,
	"tachi.htm": `<!DOCTYPE html><html><body><table id="ken"><thead><tr><th>Name</th><th>Rarity</th></tr></thead><tbody>
<tr><td id="l0001">Blade</td><td>1</td></tr>
<tr style="display:none"><td id="l00012">Blade<b>Lv2</b></td><td>1</td></tr>
</tbody></table></body></html>`,
	"tachi_g.htm": `<!DOCTYPE html><html><body><table id="ken"><thead><tr><th>Name</th><th>Rarity</th></tr></thead><tbody>
<tr><td id="l0100">G Blade</td><td>12<b>GR</b>1</td></tr>
</tbody></table></body></html>`,
}

const scrapeSiteRows = 3

func writeSite(t *testing.T, pages map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range pages {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// syncBuffer is a bytes.Buffer safe for the logger and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func runScrapeCmd(ctx context.Context, t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	err := runScrape(ctx, args, runEnv{stdout: &stdout, log: log, waitEvery: 10 * time.Millisecond})
	return stdout.String(), logs.String(), err
}

func decodeLines(t *testing.T, out string) []*codecs.RawRecord {
	t.Helper()
	var recs []*codecs.RawRecord
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		r, err := codecs.DecodeRaw(sc.Bytes())
		if err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

func TestScrapeDryRunFolder(t *testing.T) {
	dir := writeSite(t, scrapeSite)
	out, logs, err := runScrapeCmd(context.Background(), t, "--dry-run", "--source", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	recs := decodeLines(t, out)
	if len(recs) != scrapeSiteRows {
		t.Fatalf("%d JSON lines, want %d", len(recs), scrapeSiteRows)
	}
	keys := map[string]bool{}
	for _, r := range recs {
		keys[r.Key] = true
	}
	for _, k := range []string{"long_sword/base/l0001", "long_sword/base/l00012", "long_sword/g/l0100"} {
		if !keys[k] {
			t.Errorf("key %s missing from %v", k, keys)
		}
	}
	if !strings.Contains(logs, "scrape summary") || !strings.Contains(logs, "rows_emitted=3") || !strings.Contains(logs, "failures=0") {
		t.Errorf("no one-line summary with the counts:\n%s", logs)
	}
}

// TestScrapeFailedPageExitsNonZero: a bad page fails the command, and the other pages' records
// are still written.
func TestScrapeFailedPageExitsNonZero(t *testing.T) {
	site := map[string]string{}
	for k, v := range scrapeSite {
		site[k] = v
	}
	site["tachi_g.htm"] = "\x00\x01 not a page"
	dir := writeSite(t, site)
	out, logs, err := runScrapeCmd(context.Background(), t, "--dry-run", "--source", dir)
	if err == nil || !strings.Contains(err.Error(), "tachi_g.htm") {
		t.Fatalf("error %v, want one naming tachi_g.htm", err)
	}
	if exitCode(err) == 0 {
		t.Error("exit status 0")
	}
	if n := len(decodeLines(t, out)); n != 2 {
		t.Errorf("%d records written, want the good page's 2", n)
	}
	if !strings.Contains(logs, "not_html") {
		t.Errorf("the log does not say what was wrong:\n%s", logs)
	}
}

func TestScrapeHTTPStateSkipsUnchanged(t *testing.T) {
	var mu sync.Mutex
	agents := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		agents[r.UserAgent()] = true
		mu.Unlock()
		body, ok := scrapeSite[filepath.Base(r.URL.Path)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", `"v1-`+filepath.Base(r.URL.Path)+`"`)
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(body))
	}))
	defer srv.Close()
	state := filepath.Join(t.TempDir(), "state.json")
	args := []string{"--dry-run", "--base-url", srv.URL + "/buki/", "--state", state, "--user-agent", "test-agent/1"}
	out, logs, err := runScrapeCmd(context.Background(), t, args...)
	if err != nil || len(decodeLines(t, out)) != scrapeSiteRows {
		t.Fatalf("first run: %v, %d records\n%s", err, len(decodeLines(t, out)), logs)
	}
	out, logs, err = runScrapeCmd(context.Background(), t, args...)
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, logs)
	}
	if out != "" || !strings.Contains(logs, "unchanged_pages=2") {
		t.Errorf("second run wrote %q; log:\n%s", out, logs)
	}
	if len(agents) != 1 || !agents["test-agent/1"] {
		t.Errorf("user agents %v", agents)
	}
}

// siteServer serves scrapeSite under /buki/ and robots at /robots.txt ("": 404).
func siteServer(t *testing.T, robots string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" && robots != "" {
			_, _ = w.Write([]byte(robots))
			return
		}
		body, ok := scrapeSite[filepath.Base(r.URL.Path)]
		if !ok || !strings.HasPrefix(r.URL.Path, "/buki/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", `"v1-`+filepath.Base(r.URL.Path)+`"`)
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestScrapeCorruptState: a corrupt state file is a warning, every page is downloaded again, and
// the file is replaced by a good one.
func TestScrapeCorruptState(t *testing.T) {
	srv := siteServer(t, "")
	state := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(state, []byte(`{"http://x/tachi.htm": {"etag": "v`), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--dry-run", "--base-url", srv.URL + "/buki/", "--state", state}
	out, logs, err := runScrapeCmd(context.Background(), t, args...)
	if err != nil || len(decodeLines(t, out)) != scrapeSiteRows {
		t.Fatalf("with a corrupt state: %v, %d records\n%s", err, len(decodeLines(t, out)), logs)
	}
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "file="+state) || !strings.Contains(logs, "truncated JSON") {
		t.Errorf("no warning naming the file and the problem:\n%s", logs)
	}
	if _, logs, err = runScrapeCmd(context.Background(), t, args...); err != nil || !strings.Contains(logs, "unchanged_pages=2") ||
		strings.Contains(logs, "level=WARN") {
		t.Errorf("the next run: %v, want both pages unchanged and no warning:\n%s", err, logs)
	}
}

// TestScrapeObeysRobotsTxt: a page robots.txt forbids to our User-Agent is not fetched, and the
// summary counts it.
func TestScrapeObeysRobotsTxt(t *testing.T) {
	srv := siteServer(t, "User-agent: *\nDisallow: /\n\nUser-agent: test-agent\nDisallow: /buki/tachi_g\n")
	out, logs, err := runScrapeCmd(context.Background(), t, "--dry-run", "--base-url", srv.URL+"/buki/",
		"--user-agent", "test-agent/1")
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	for _, r := range decodeLines(t, out) {
		if r.PageKind == codecs.KindG {
			t.Errorf("record %s of a disallowed page", r.Key)
		}
	}
	// The rule matches tachi_g.htm only (the other guessed pages of the type are absent).
	if n := len(decodeLines(t, out)); n != 2 || !strings.Contains(logs, "disallowed_pages=1") {
		t.Errorf("%d records, want tachi.htm's 2, and disallowed_pages=1 in:\n%s", n, logs)
	}
}

func TestScrapeEveryRepeatsUntilStopped(t *testing.T) {
	dir := writeSite(t, scrapeSite)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var stdout, logs syncBuffer
	go func() {
		done <- runScrape(ctx, []string{"--dry-run", "--source", dir, "--every", "20ms"},
			runEnv{stdout: &stdout, log: slog.New(slog.NewTextHandler(&logs, nil))})
	}()
	deadline := time.After(30 * time.Second)
	for strings.Count(logs.String(), "scrape summary") < 3 {
		select {
		case <-deadline:
			t.Fatalf("fewer than 3 rounds in 30s:\n%s", logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stopped with %v, want a clean stop", err)
	}
	if n := len(decodeLines(t, stdout.String())); n < 3*scrapeSiteRows {
		t.Errorf("%d records after 3 rounds", n)
	}
}

func TestScrapeUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--every", "-1s", "--dry-run"},
		{"--in-flight", "0", "--dry-run"},
		{"--dry-run", "--base-url", "ftp://example.com/"},
		{"--dry-run", "extra-argument"},
	} {
		_, _, err := runScrapeCmd(context.Background(), t, args...)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("%v: error %v, want a usage error", args, err)
		}
	}
}

// TestScrapeToKafka runs the command against the real broker: the topic (under its prefix) is
// created and holds one message per row.
func TestScrapeToKafka(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	dir := writeSite(t, scrapeSite)
	prefix := testenv.Name(t, "cmdscrape") + "."
	topic := string(codecs.Names{Prefix: prefix}.WeaponData())
	cfg := kafka.Config("scrape-cmd-test")
	t.Cleanup(func() { _ = kafka.DeleteTopics(context.Background(), brokers, cfg, topic) })
	_, logs, err := runScrapeCmd(context.Background(), t, "--source", dir, "--brokers", strings.Join(brokers, ","),
		"--topic-prefix", prefix, "--partitions", "2")
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	parts, err := client.Partitions(topic)
	if err != nil || len(parts) != 2 {
		t.Fatalf("partitions of %s: %v, %v; want 2", topic, parts, err)
	}
	var total int64
	for _, p := range parts {
		n, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != scrapeSiteRows || !strings.Contains(logs, "rows_emitted=3") {
		t.Errorf("topic holds %d messages, want %d; log:\n%s", total, scrapeSiteRows, logs)
	}
}
