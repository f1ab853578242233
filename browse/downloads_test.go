package browse_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mhfz/mhfz-pipeline/browse"
)

const (
	oldVersion = "00000000000000aa"
	newVersion = "0123456789abcdef"
)

// publishedDir writes a folder as mhfz publish leaves it: two versions, latest naming the
// newer; it returns the folder and the newer version's SQLite file's content.
func publishedDir(t *testing.T) (dir string, content []byte) {
	t.Helper()
	dir = t.TempDir()
	content = []byte("SQLite format 3\x00 and the rest of a database")
	for i, v := range []string{oldVersion, newVersion} {
		if err := os.Mkdir(filepath.Join(dir, v), 0o755); err != nil {
			t.Fatal(err)
		}
		name := "mhfz-weapons-" + v + ".sqlite"
		if err := os.WriteFile(filepath.Join(dir, v, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
		csvName := "mhfz-weapons-" + v + "-long_sword.csv"
		if err := os.WriteFile(filepath.Join(dir, v, csvName), []byte("key\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(content)
		m := map[string]any{"version": v, "created_at": "2026-12-0" + string(rune('1'+i)) + "T00:00:00Z", "schema_version": 14,
			"files": []map[string]any{
				{"name": name, "kind": "sqlite", "format": "sqlite", "size": len(content), "sha256": hex.EncodeToString(sum[:]), "rows": 3},
				{"name": csvName, "kind": "long_sword.csv", "format": "csv", "table": "long_sword", "size": 4, "sha256": "ab", "rows": 0},
			}}
		b, _ := json.Marshal(m)
		if err := os.WriteFile(filepath.Join(dir, v, "manifest.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "latest"), []byte(newVersion+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, content
}

func downloadsHandler(t *testing.T, dir string) http.Handler {
	t.Helper()
	cfg := testConfig(offlineURL)
	cfg.DownloadsDir = dir
	s, err := browse.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return browse.Handler(t, s)
}

func serveGet(h http.Handler, path string, header ...string) *http.Response {
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(b)
}

// TestDownloads: the files of a version are served cacheable for a year, with the SHA-256 of
// the manifest as a strong ETag (a 304 on If-None-Match), and ranges; latest redirects to the
// newest version; the manifest is /api/downloads; the page lists every version kept.
func TestDownloads(t *testing.T) {
	dir, content := publishedDir(t)
	h := downloadsHandler(t, dir)
	sqlite := "/downloads/" + newVersion + "/mhfz-weapons-" + newVersion + ".sqlite"
	sum := sha256.Sum256(content)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`

	resp := serveGet(h, sqlite)
	if got := body(resp); resp.StatusCode != 200 || got != string(content) ||
		resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || resp.Header.Get("ETag") != etag ||
		resp.Header.Get("Content-Type") != "application/vnd.sqlite3" || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("GET %s: %d %v %q", sqlite, resp.StatusCode, resp.Header, got)
	}
	if resp := serveGet(h, sqlite, "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET %s If-None-Match its ETag: %d, want 304", sqlite, resp.StatusCode)
	}
	resp = serveGet(h, sqlite, "Range", "bytes=7-14")
	if got := body(resp); resp.StatusCode != http.StatusPartialContent || got != string(content[7:15]) ||
		resp.Header.Get("Content-Range") != "bytes 7-14/"+itoa(len(content)) {
		t.Errorf("GET %s Range bytes=7-14: %d %q %s", sqlite, resp.StatusCode, got, resp.Header.Get("Content-Range"))
	}
	for path, want := range map[string]string{
		"/downloads/latest":                "/downloads/" + newVersion + "/",
		"/downloads/latest/sqlite":         sqlite,
		"/downloads/latest/long_sword.csv": "/downloads/" + newVersion + "/mhfz-weapons-" + newVersion + "-long_sword.csv",
		"/downloads/latest/manifest.json":  "/downloads/" + newVersion + "/manifest.json",
	} {
		if resp := serveGet(h, path); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
			t.Errorf("GET %s: %d to %q, want 302 to %s", path, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	resp = serveGet(h, "/api/downloads")
	var m struct{ Version string }
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 || m.Version != newVersion {
		t.Errorf("GET /api/downloads: %d %+v %v", resp.StatusCode, m, err)
	}
	// The manifest's validator is its version: the same version answers 304, an older one 200.
	if resp := serveGet(h, "/api/downloads", "If-None-Match", `"`+newVersion+`"`); resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET /api/downloads with the newest version's ETag: %d, want 304", resp.StatusCode)
	}
	if resp := serveGet(h, "/api/downloads", "If-None-Match", `"`+oldVersion+`"`); resp.StatusCode != http.StatusOK ||
		resp.Header.Get("ETag") != `"`+newVersion+`"` {
		t.Errorf("GET /api/downloads with an older version's ETag: %d, ETag %q, want 200 and the newest's", resp.StatusCode, resp.Header.Get("ETag"))
	}
	resp = serveGet(h, "/downloads/")
	page := body(resp)
	for _, want := range []string{newVersion, oldVersion, "(newest)", hex.EncodeToString(sum[:]), `href="` + sqlite + `"`} {
		if resp.StatusCode != 200 || !strings.Contains(page, want) {
			t.Errorf("GET /downloads/: %d, the page lacks %q", resp.StatusCode, want)
		}
	}
	if resp := serveGet(h, "/downloads/"+oldVersion+"/"); resp.StatusCode != 200 || strings.Contains(body(resp), newVersion) {
		t.Errorf("GET /downloads/%s/: %d, or it shows the other version", oldVersion, resp.StatusCode)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestDownloadsNotFound: an unknown version, file or kind, a path that tries to leave the
// folder, and a server with nothing published answer 404 with a message that says what is
// missing.
func TestDownloadsNotFound(t *testing.T) {
	dir, _ := publishedDir(t)
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("not a download"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := downloadsHandler(t, dir)
	for path, says := range map[string]string{
		"/downloads/ffffffffffffffff/x.sqlite":                 "is not here",
		"/downloads/" + newVersion + "/nothing.csv":            "has no file",
		"/downloads/" + newVersion + "/..%2Fsecret":            "has no file",
		"/downloads/" + newVersion + "/..%2F..%2Fetc%2Fpasswd": "has no file",
		"/downloads/..%2Fsecret/manifest.json":                 "is not a version",
		"/downloads/latest/nothing.jsonl":                      "no file of kind",
		"/downloads/secret/x":                                  "is not a version",
	} {
		resp := serveGet(h, path)
		if got := body(resp); resp.StatusCode != 404 || !strings.Contains(got, says) || strings.Contains(got, "not a download") {
			t.Errorf("GET %s: %d %q, want 404 saying %q", path, resp.StatusCode, got, says)
		}
	}
	empty := downloadsHandler(t, "")
	for _, path := range []string{"/api/downloads", "/downloads/latest", "/downloads/" + newVersion + "/manifest.json"} {
		if resp := serveGet(empty, path); resp.StatusCode != 404 || !strings.Contains(body(resp), "no version of the dataset has been published") {
			t.Errorf("GET %s without downloads: %d, want 404 saying none is published", path, resp.StatusCode)
		}
	}
	if resp := serveGet(empty, "/downloads/"); resp.StatusCode != 200 || !strings.Contains(body(resp), "No version") {
		t.Errorf("GET /downloads/ without downloads: %d", resp.StatusCode)
	}
}
