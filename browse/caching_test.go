package browse_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/browse"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// queryLog records the SQL of every query a server runs (Config.QueryTracer).
type queryLog struct {
	mu   sync.Mutex
	sqls []string
}

func (l *queryLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sqls = append(l.sqls, d.SQL)
	return ctx
}

func (l *queryLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// take returns the queries recorded since the last take.
func (l *queryLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.sqls
	l.sqls = nil
	return out
}

// storeRow stores a version of the long sword l0001 and moves the sink's offset past it, in one
// transaction, as the sink stores a batch (sink/transaction.go: rows, then the offsets).
func storeRow(t *testing.T, db *pgx.Conn, consumer string, offset int64, attack int) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO long_sword (key, version, content_hash, weapon_type, page_kind, layout, page, url,
			row_id, hidden, scraped_at, kafka_topic, kafka_partition, kafka_offset, name, attack)
			VALUES ('long_sword/base/l0001', $1::bigint, $2, 'long_sword', 'base', 'ken', 'tachi.htm', 'https://example.org/tachi.htm',
			'l0001', false, now(), 'weapons.long_sword', 0, $1::bigint - 1, 'Iron Katana', $3)`,
			offset, "hash"+time.Now().String(), attack); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO kafka_offsets (consumer, topic, partition, next_offset)
			VALUES ($1, 'weapons.long_sword', 0, $2)
			ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = GREATEST(kafka_offsets.next_offset, EXCLUDED.next_offset)`,
			consumer, offset)
		return err
	})
	if err != nil {
		t.Fatalf("store a row: %v", err)
	}
}

// get asks for path with these request headers and returns the answer, its body read.
func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// versionedServer serves a migrated database that holds one stored row; it returns the base
// URL, a connection as the owner (the sink's and the switch's writes), and the query log.
func versionedServer(t *testing.T, change func(*browse.Config)) (string, *pgx.Conn, *queryLog) {
	t.Helper()
	owner, reader := migratedDB(t)
	db, err := pgx.Connect(context.Background(), owner)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	storeRow(t, db, "weapon-sink", 1, 80)
	log := &queryLog{}
	cfg := testConfig(reader)
	cfg.QueryTracer, cfg.VersionTTL = log, 0
	if change != nil {
		change(&cfg)
	}
	base, stop := startServer(t, cfg)
	serving(t, base, stop)
	return base, db, log
}

// cachedRoutes are GETs of the API and of the pages that follow the data's version.
var cachedRoutes = []string{
	"/api/weapons?type=long_sword",
	"/api/weapons/long_sword/base/l0001",
	"/api/export.jsonl?type=long_sword",
	"/weapons/long_sword/base/l0001",
	"/?q=katana",
}

// TestETagFollowsTheData: every GET of the API and the pages carries the data's version (ETag,
// X-Data-Version, Cache-Control: public); it stays while the database is unchanged, and a new
// commit of the sink and a re-processing's switch each change it, while a re-processing in
// progress (its own offsets) does not. If-None-Match with the current version is answered 304
// after one query, which reads no weapon table.
func TestETagFollowsTheData(t *testing.T) {
	base, db, log := versionedServer(t, nil)
	etag := func(path string) string {
		t.Helper()
		resp, body := get(t, base+path)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		e, v := resp.Header.Get("ETag"), resp.Header.Get("X-Data-Version")
		if !strings.HasPrefix(e, `W/"`+v+"-") || len(v) != 16 || resp.Header.Get("Cache-Control") != "public, max-age=60" {
			t.Fatalf("GET %s: ETag %q, X-Data-Version %q, Cache-Control %q: want W/\"VERSION-…\", 16 hex digits, public, max-age=60",
				path, e, v, resp.Header.Get("Cache-Control"))
		}
		return e
	}
	first := etag(cachedRoutes[0])
	for _, path := range cachedRoutes {
		if e := etag(path); e != first {
			t.Errorf("GET %s: ETag %s, want the data's %s", path, e, first)
		}
		log.take()
		resp, body := get(t, base+path, "If-None-Match", first, "Accept-Encoding", "gzip, zstd")
		queries := log.take()
		if resp.StatusCode != http.StatusNotModified || body != "" || resp.Header.Get("ETag") != first ||
			resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("GET %s If-None-Match %s: %d %q ETag %q, want 304 with the ETag", path, first, resp.StatusCode, body, resp.Header.Get("ETag"))
		}
		if len(queries) != 1 || readsAWeaponTable(queries[0]) {
			t.Errorf("GET %s answered 304 after the queries %q: want the data's version alone", path, queries)
		}
	}
	if e := etag(cachedRoutes[0]); e != first {
		t.Fatalf("the database did not change, the ETag did: %s, then %s", first, e)
	}
	storeRow(t, db, "weapon-sink", 2, 90)
	second := etag(cachedRoutes[0])
	if second == first {
		t.Fatalf("a new commit of the sink kept the ETag %s", first)
	}
	if resp, _ := get(t, base+cachedRoutes[1], "If-None-Match", first); resp.StatusCode != 200 {
		t.Errorf("If-None-Match with the old version: %d, want 200", resp.StatusCode)
	}

	// A re-processing: its sink fills its own consumer's offsets while the marker is there (the
	// live tables are unchanged), then the switch hands them over in one transaction.
	ctx := context.Background()
	mustExec(t, db, `INSERT INTO pipeline_rebuild (consumer) VALUES ('weapon-sink-rebuild')`)
	mustExec(t, db, `INSERT INTO kafka_offsets (consumer, topic, partition, next_offset) VALUES ('weapon-sink-rebuild', 'weapons.long_sword', 0, 2)`)
	if e := etag(cachedRoutes[0]); e != second {
		t.Errorf("a re-processing in progress changed the ETag (%s, then %s): the live tables are as they were", second, e)
	}
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error { // sink/rebuild.go's handOver
		for _, q := range []string{
			`DELETE FROM kafka_offsets WHERE consumer = 'weapon-sink'`,
			`UPDATE kafka_offsets SET consumer = 'weapon-sink' WHERE consumer = 'weapon-sink-rebuild'`,
			`DELETE FROM pipeline_rebuild`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if third := etag(cachedRoutes[0]); third == second || third == first {
		t.Errorf("the switch kept the ETag %s (before: %s, %s)", third, first, second)
	}
}

func mustExec(t *testing.T, db *pgx.Conn, sql string) {
	t.Helper()
	if _, err := db.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// readsAWeaponTable reports whether a query names a weapon table or weapon_latest.
func readsAWeaponTable(sql string) bool {
	for _, table := range append(migrations.WeaponTables(), migrations.LatestTable) {
		if strings.Contains(sql, table) {
			return true
		}
	}
	return false
}

// TestLastModified: Last-Modified is sent once the last change has settled (a few seconds
// old); If-Modified-Since with it is answered 304, with an earlier time 200; If-None-Match
// decides when both are sent. Errors and the health are not cached.
func TestLastModified(t *testing.T) {
	base, _, _ := versionedServer(t, func(c *browse.Config) { c.CacheMaxAge = 0 })
	var lm, etag string
	waitFor(t, "a Last-Modified once the change has settled", func() bool {
		resp, _ := get(t, base+"/api/weapons?type=long_sword")
		lm, etag = resp.Header.Get("Last-Modified"), resp.Header.Get("ETag")
		if cc := resp.Header.Get("Cache-Control"); cc != "public, no-cache" {
			t.Fatalf("Cache-Control %q with CacheMaxAge 0, want public, no-cache", cc)
		}
		return lm != ""
	})
	when, err := http.ParseTime(lm)
	if err != nil || time.Since(when) > time.Minute {
		t.Fatalf("Last-Modified %q (%v): want the time of the last commit", lm, err)
	}
	for _, tc := range []struct {
		header []string
		status int
	}{
		{[]string{"If-Modified-Since", lm}, 304},
		{[]string{"If-Modified-Since", when.Add(-time.Second).Format(http.TimeFormat)}, 200},
		{[]string{"If-Modified-Since", lm, "If-None-Match", `W/"other"`}, 200},
		{[]string{"If-None-Match", `"x", ` + strings.TrimPrefix(etag, "W/")}, 304},
	} {
		if resp, _ := get(t, base+"/api/weapons?type=long_sword", tc.header...); resp.StatusCode != tc.status {
			t.Errorf("GET with %q: %d, want %d", tc.header, resp.StatusCode, tc.status)
		}
	}
	for _, path := range []string{"/api/health", "/api/weapons?limit=0", "/api/weapons/long_sword/base/l9999"} {
		resp, _ := get(t, base+path)
		if resp.Header.Get("ETag") != "" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s (%d): ETag %q, Cache-Control %q: want none, no-store", path, resp.StatusCode,
				resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"))
		}
	}
}
