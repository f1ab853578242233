package browse_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/klauspost/compress/zstd"

	"github.com/mhfz/mhfz-pipeline/browse"
)

// storeSwords stores n long swords more (keys l1000, l1001, ...), as one commit of the sink.
func storeSwords(t *testing.T, db *pgx.Conn, n int) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO long_sword (key, version, content_hash, weapon_type, page_kind, layout, page, url,
			row_id, hidden, scraped_at, kafka_topic, kafka_partition, kafka_offset, name, attack)
			SELECT 'long_sword/base/l' || (1000 + i), 1, 'h' || i, 'long_sword', 'base', 'ken', 'tachi.htm',
				'https://example.org/tachi.htm', 'l' || (1000 + i), false, now(), 'weapons.long_sword', 1, i,
				'Katana number ' || i, 100 + i
			FROM generate_series(0, $1::int - 1) i`, n); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO kafka_offsets (consumer, topic, partition, next_offset)
			VALUES ('weapon-sink', 'weapons.long_sword', 1, $1)`, n)
		return err
	})
	if err != nil {
		t.Fatalf("store swords: %v", err)
	}
}

// TestCompression: JSON, JSON Lines, CSV and HTML above the threshold are sent with zstd or
// gzip as the client accepts (zstd preferred), and decode to the very bytes sent plain; a
// small answer is sent plain; the ETag is the same whatever the encoding.
func TestCompression(t *testing.T) {
	base, db, _ := versionedServer(t, nil)
	storeSwords(t, db, 100)
	zr, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	decode := map[string]func([]byte) ([]byte, error){
		"":     func(b []byte) ([]byte, error) { return b, nil },
		"zstd": func(b []byte) ([]byte, error) { return zr.DecodeAll(b, nil) },
		"gzip": func(b []byte) ([]byte, error) {
			r, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, err
			}
			return io.ReadAll(r)
		},
	}
	for _, path := range []string{"/api/export.jsonl?type=long_sword", "/api/export.csv?type=long_sword",
		"/api/weapons?type=long_sword&limit=100", "/?type=long_sword", "/api/openapi.json"} {
		plain, want := get(t, base+path)
		if plain.Header.Get("Content-Encoding") != "" || plain.StatusCode != 200 {
			t.Fatalf("GET %s without Accept-Encoding: %d, Content-Encoding %q", path, plain.StatusCode, plain.Header.Get("Content-Encoding"))
		}
		for _, tc := range []struct{ accept, encoding string }{
			{"gzip", "gzip"}, {"zstd", "zstd"}, {"gzip, deflate, br, zstd", "zstd"}, {"zstd;q=0.5, gzip", "gzip"}, {"identity", ""},
		} {
			resp, body := get(t, base+path, "Accept-Encoding", tc.accept)
			if got := resp.Header.Get("Content-Encoding"); got != tc.encoding || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("GET %s Accept-Encoding %q: Content-Encoding %q, Vary %q; want %q, Accept-Encoding", path, tc.accept,
					got, resp.Header.Get("Vary"), tc.encoding)
				continue
			}
			got, err := decode[tc.encoding]([]byte(body))
			if err != nil || string(got) != want {
				t.Errorf("GET %s as %s: %d bytes decode to %d (%v), want the %d bytes sent plain", path, tc.encoding, len(body), len(got), err, len(want))
			}
			if tc.encoding != "" && len(body) >= len(want) {
				t.Errorf("GET %s as %s: %d bytes, plain %d", path, tc.encoding, len(body), len(want))
			}
			if path != "/api/openapi.json" && resp.Header.Get("ETag") != plain.Header.Get("ETag") {
				t.Errorf("GET %s as %s: ETag %q, plain %q", path, tc.encoding, resp.Header.Get("ETag"), plain.Header.Get("ETag"))
			}
		}
	}
	if resp, body := get(t, base+"/api/health", "Accept-Encoding", "gzip"); resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("a small answer (%d bytes) is compressed: %q", len(body), resp.Header.Get("Content-Encoding"))
	}
}

// TestCORS: a script of an allowed origin may read the API (GET, HEAD) and its ETag, Link and
// X-Data-Version; a preflight is answered; other methods and origins are refused; the pages
// get no CORS headers.
func TestCORS(t *testing.T) {
	base, _, _ := versionedServer(t, func(c *browse.Config) { c.CORSOrigins = []string{"https://bot.example", "https://app.example"} })
	preflight := func(origin, method string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodOptions, base+"/api/weapons?q=katana", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", method)
		req.Header.Set("Access-Control-Request-Headers", "if-none-match")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := preflight("https://bot.example", "GET")
	h := resp.Header
	if resp.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "https://bot.example" ||
		h.Get("Access-Control-Allow-Methods") != "GET, HEAD" || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "If-None-Match") ||
		h.Get("Access-Control-Max-Age") == "" {
		t.Errorf("preflight of GET: %d %v", resp.StatusCode, h)
	}
	for _, tc := range []struct{ origin, method string }{{"https://bot.example", "POST"}, {"https://evil.example", "GET"}} {
		if resp := preflight(tc.origin, tc.method); resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight of %s from %s: %d, Access-Control-Allow-Origin %q; want 403 without it", tc.method, tc.origin,
				resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	resp, _ = get(t, base+"/api/weapons?q=katana", "Origin", "https://app.example")
	exposed := resp.Header.Get("Access-Control-Expose-Headers")
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || !strings.Contains(resp.Header.Get("Vary"), "Origin") {
		t.Errorf("GET from an allowed origin: %v", resp.Header)
	}
	for _, name := range []string{"ETag", "Link", "X-Data-Version"} {
		if !strings.Contains(exposed, name) {
			t.Errorf("Access-Control-Expose-Headers %q lacks %s", exposed, name)
		}
	}
	for _, tc := range []struct{ path, origin string }{{"/api/weapons?q=katana", "https://evil.example"}, {"/?q=katana", "https://app.example"}} {
		if resp, _ := get(t, base+tc.path, "Origin", tc.origin); resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("GET %s from %s: Access-Control-Allow-Origin %q, want none", tc.path, tc.origin, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}

	anyOrigin, _, _ := versionedServer(t, nil) // the default: any origin, said to every request of the API
	for _, origin := range []string{"https://whoever.example", ""} {
		resp, _ := get(t, anyOrigin+"/api/weapons?q=katana", "Origin", origin)
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" || strings.Contains(resp.Header.Get("Vary"), "Origin") {
			t.Errorf("default CORS, Origin %q: Access-Control-Allow-Origin %q, Vary %q; want *, not by Origin", origin,
				resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Vary"))
		}
	}
}

// TestPageSizeGuard: a limit above MaxPageSize is refused with 400 naming the maximum.
func TestPageSizeGuard(t *testing.T) {
	base, _, _ := versionedServer(t, func(c *browse.Config) { c.MaxPageSize = 10 })
	for _, tc := range []struct {
		path   string
		status int
		says   string
	}{
		{"/api/weapons?limit=11", 400, "limit: 11 is more than 10 a page (the maximum page size)"},
		{"/api/weapons?limit=10", 200, ""},
		{"/api/weapons", 200, ""}, // the default page (50) is cut to the maximum, not refused
		{"/api/items?q=iron&limit=11", 400, "more than 10"},
	} {
		if resp, body := get(t, base+tc.path); resp.StatusCode != tc.status || !strings.Contains(body, tc.says) {
			t.Errorf("GET %s: %d %s, want %d %q", tc.path, resp.StatusCode, body, tc.status, tc.says)
		}
	}
}

// TestExportGuard: while MaxExports exports stream (held here by a lock on the tables they
// read), another is answered 429 with Retry-After at once; once they are done, exports run
// again.
func TestExportGuard(t *testing.T) {
	base, db, _ := versionedServer(t, nil) // MaxExports 3
	ctx := context.Background()
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "LOCK TABLE weapon_latest, long_sword IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	statuses := make(chan int, 3)
	for range 3 {
		wg.Go(func() {
			resp, err := http.Get(base + "/api/export.jsonl?type=long_sword")
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	owner := db.Config().ConnString()
	watcher, err := pgx.Connect(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close(ctx)
	waitFor(t, "3 exports waiting for the tables", func() bool {
		var n int
		_ = watcher.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND application_name = 'mhfz-serve' AND wait_event_type = 'Lock'`).Scan(&n)
		return n == 3
	})
	resp, body := get(t, base+"/api/export.csv")
	if after, _ := strconv.Atoi(resp.Header.Get("Retry-After")); resp.StatusCode != 429 || after < 1 || !strings.Contains(body, "at most 3") {
		t.Errorf("a 4th export: %d, Retry-After %q, %s; want 429, a wait, the maximum", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp, _ := get(t, base+"/api/health"); resp.StatusCode != 200 {
		t.Errorf("the health while 3 exports wait: %d", resp.StatusCode)
	}
	_ = tx.Rollback(ctx)
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Errorf("an export held by the lock: %d, want 200 once released", s)
		}
	}
	if resp, _ := get(t, base+"/api/export.csv"); resp.StatusCode != 200 {
		t.Errorf("an export after the others: %d", resp.StatusCode)
	}
}

// TestRateGuard: a client beyond its burst is answered 429 with Retry-After until its bucket
// fills again; loopback clients are not limited unless asked; the health never is.
func TestRateGuard(t *testing.T) {
	// A token every 5 s, 4 at once; the server's first request (serving) took one.
	limited, _, _ := versionedServer(t, func(c *browse.Config) { c.RateLimit, c.RateBurst, c.RateLimitLoopback = 0.2, 4, true })
	codes := []int{}
	var last *http.Response
	for range 5 {
		resp, _ := get(t, limited+"/api/weapons?q=katana")
		codes, last = append(codes, resp.StatusCode), resp
	}
	after, _ := strconv.Atoi(last.Header.Get("Retry-After"))
	if codes[0] != 200 || codes[2] != 200 || codes[3] != 429 || codes[4] != 429 || after < 1 || after > 5 {
		t.Errorf("5 requests at once with 3 tokens left at 0.2/s: %v, last Retry-After %q; want 3×200, then 429 with 1-5 s",
			codes, last.Header.Get("Retry-After"))
	}
	if resp, _ := get(t, limited+"/api/health"); resp.StatusCode != 200 {
		t.Errorf("the health of a limited client: %d", resp.StatusCode)
	}
	start := time.Now()
	waitFor(t, "the bucket to fill again", func() bool {
		resp, _ := get(t, limited+"/api/weapons?q=katana")
		return resp.StatusCode == 200
	})
	if time.Since(start) < time.Second {
		t.Errorf("answered again after %s, before a token came back", time.Since(start))
	}

	open, _, _ := versionedServer(t, func(c *browse.Config) { c.RateLimit, c.RateBurst = 0.5, 1 }) // loopback is exempt
	for i := range 5 {
		if resp, _ := get(t, open+"/api/weapons?q=katana"); resp.StatusCode != 200 {
			t.Fatalf("request %d of a loopback client: %d, want 200 (loopback is not limited by default)", i, resp.StatusCode)
		}
	}
}

// TestGuardConfig: New refuses guards and caching it cannot apply, naming the field.
func TestGuardConfig(t *testing.T) {
	for _, tc := range []struct {
		says   string
		change func(*browse.Config)
	}{
		{"CacheMaxAge -1s", func(c *browse.Config) { c.CacheMaxAge = -time.Second }},
		{"VersionTTL 2m0s must not be longer than CacheMaxAge", func(c *browse.Config) { c.VersionTTL = 2 * time.Minute }},
		{"MaxPageSize 0", func(c *browse.Config) { c.MaxPageSize = 0 }},
		{"MaxExports 0", func(c *browse.Config) { c.MaxExports = 0 }},
		{"RateLimit -1", func(c *browse.Config) { c.RateLimit = -1 }},
		{"RateBurst 0", func(c *browse.Config) { c.RateLimit, c.RateBurst = 5, 0 }},
		{`CORSOrigins: "example.org"`, func(c *browse.Config) { c.CORSOrigins = []string{"example.org"} }},
		{`CORSOrigins: "https://example.org/"`, func(c *browse.Config) { c.CORSOrigins = []string{"https://example.org/"} }},
	} {
		cfg := testConfig(offlineURL)
		tc.change(&cfg)
		if _, err := browse.New(cfg); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("New: %v, want an error that says %q", err, tc.says)
		}
	}
}
