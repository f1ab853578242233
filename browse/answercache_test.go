package browse_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	json "github.com/goccy/go-json"

	"github.com/mhfz/mhfz-pipeline/browse"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
)

const cachedWeapon = "/api/weapons/long_sword/base/l0001"

// plain is an answer's body, decompressed if it was compressed.
func plain(t *testing.T, resp *http.Response, body string) string {
	t.Helper()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		return body
	}
	zr, err := gzip.NewReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// headerNames are the names of an answer's headers but Date and Last-Modified (whose presence
// depends on the moment: lastModifiedSettle).
func headerNames(h http.Header) []string {
	var out []string
	for k := range h {
		if k != "Date" && k != "Last-Modified" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// TestAnswerCache: a second GET of a weapon is answered from memory (the data's version read,
// no weapon table), with the same body and headers (ETag, X-Data-Version, Cache-Control,
// compression) as a server without the cache gives; a new commit of the sink is answered at
// once, under its own version; the hits and misses are counted.
func TestAnswerCache(t *testing.T) {
	svc, err := observe.NewService("test", "test")
	if err != nil {
		t.Fatal(err)
	}
	var cfg browse.Config
	base, db, log := versionedServer(t, func(c *browse.Config) { c.Registry, cfg = svc.Registry, *c })
	off := cfg
	off.AnswerCacheSize, off.QueryTracer, off.Registry = 0, nil, nil
	baseOff, stop := startServer(t, off)
	serving(t, baseOff, stop)

	for i, enc := range []string{"", "gzip", "gzip, zstd"} {
		log.take()
		made, madeBody := get(t, base+cachedWeapon, "Accept-Encoding", enc)
		if q := log.take(); i == 0 && !slices.ContainsFunc(q, readsAWeaponTable) {
			t.Fatalf("the first GET read no weapon table: %q", q)
		}
		kept, keptBody := get(t, base+cachedWeapon, "Accept-Encoding", enc)
		if q := log.take(); len(q) != 1 || readsAWeaponTable(q[0]) {
			t.Errorf("Accept-Encoding %q: the second GET ran %q, want the data's version alone", enc, q)
		}
		want, wantBody := get(t, baseOff+cachedWeapon, "Accept-Encoding", enc)
		for _, resp := range []*http.Response{made, kept, want} {
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("Accept-Encoding %q: %d", enc, resp.StatusCode)
			}
		}
		if plain(t, kept, keptBody) != plain(t, want, wantBody) || plain(t, made, madeBody) != plain(t, want, wantBody) {
			t.Errorf("Accept-Encoding %q: the kept answer differs from one made:\n%s\n%s", enc, plain(t, kept, keptBody), plain(t, want, wantBody))
		}
		if kept.Header.Get("ETag") != made.Header.Get("ETag") {
			t.Errorf("Accept-Encoding %q: ETag %q kept, %q made", enc, kept.Header.Get("ETag"), made.Header.Get("ETag"))
		}
		if got, w := headerNames(kept.Header), headerNames(want.Header); !slices.Equal(got, w) {
			t.Errorf("Accept-Encoding %q: headers %q kept, %q without the cache", enc, got, w)
		}
		for _, h := range []string{"Content-Type", "Content-Encoding", "Cache-Control", "X-Data-Version", "Vary"} {
			if kept.Header.Get(h) != want.Header.Get(h) {
				t.Errorf("Accept-Encoding %q: %s %q kept, %q without the cache", enc, h, kept.Header.Get(h), want.Header.Get(h))
			}
		}
	}

	_, before := get(t, base+cachedWeapon)
	storeRow(t, db, "weapon-sink", 2, 90)
	resp, after := get(t, base+cachedWeapon)
	var w struct {
		Weapon struct {
			Attack int `json:"attack"`
		} `json:"weapon"`
	}
	if err := json.Unmarshal([]byte(after), &w); err != nil || w.Weapon.Attack != 90 || after == before {
		t.Errorf("after a new commit: %v, attack %d (want 90): %s", err, w.Weapon.Attack, after)
	}
	_, wantAfter := get(t, baseOff+cachedWeapon)
	if after != wantAfter || resp.Header.Get("X-Data-Version") == "" {
		t.Errorf("after a new commit, the cache answers %s, a server without it %s", after, wantAfter)
	}
	for result, least := range map[string]float64{"hit": 3, "miss": 2} {
		if v := sample(t, svc, "mhfz_serve_answer_cache_total", map[string]string{"result": result}); v == nil || *v < least {
			t.Errorf("mhfz_serve_answer_cache_total{result=%q} = %s, want at least %g", result, show(v), least)
		}
	}
}

// TestAnswerCacheEvicts: the cache holds at most its size in bytes, dropping the answer used
// least recently; an answer other than a 200 is never kept.
func TestAnswerCacheEvicts(t *testing.T) {
	const size = 800
	base, _, log := versionedServer(t, func(c *browse.Config) { c.AnswerCacheSize = size })
	paths := []string{cachedWeapon + "?fields=key", cachedWeapon + "?fields=row_id", cachedWeapon + "?fields=game_id"}
	madeByTable := func(path string) bool {
		t.Helper()
		log.take()
		resp, body := get(t, base+path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		// An entry costs its key (the version, 16 hex digits, a space, the path), body and 256.
		if cost := 17 + len(path) + len(body) + 256; cost > size/2 || 3*cost <= size {
			t.Fatalf("GET %s costs %d bytes of the cache: the test wants two, not three, in %d", path, cost, size)
		}
		return slices.ContainsFunc(log.take(), readsAWeaponTable)
	}
	for _, p := range paths[:2] {
		madeByTable(p)
	}
	if madeByTable(paths[0]) || madeByTable(paths[1]) {
		t.Fatal("two answers that fit were not kept")
	}
	madeByTable(paths[2]) // the least recently used, paths[0], makes room
	if madeByTable(paths[1]) {
		t.Error("the answer used recently was dropped")
	}
	if !madeByTable(paths[0]) {
		t.Error("three answers were kept in room for two")
	}
	for range 2 {
		log.take()
		if resp, _ := get(t, base+"/api/weapons/long_sword/base/nope"); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("an unknown weapon: %d", resp.StatusCode)
		}
		if !slices.ContainsFunc(log.take(), readsAWeaponTable) {
			t.Error("a 404 was kept")
		}
	}
}
