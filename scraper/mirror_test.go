package scraper

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// mirror is a test copy of the site over HTTP: pages from a folder or from memory, with ETag
// and Last-Modified (so that conditional GETs work as on GitHub Pages), scripted failures, and
// counters of what the scraper asked.
type mirror struct {
	dir   string            // pages from this folder ...
	pages map[string][]byte // ... or from memory
	delay time.Duration     // per request, to make concurrency observable
	// robotsTxt is served at /robots.txt ("": 404); its requests and failures go by the name
	// "robots.txt".
	robotsTxt  string
	retryAfter string // the Retry-After of a scripted 429: "0" when empty

	mu        sync.Mutex
	failures  map[string][]int // per page, the statuses of its next attempts (0: close the connection)
	requests  map[string]int
	times     map[string][]time.Time
	agents    map[string]int
	etags     map[string]string
	served    atomic.Int64 // 200 responses
	bytes     atomic.Int64
	notMod    atomic.Int64
	inflight  atomic.Int64
	maxFlight atomic.Int64
}

func newMirror(t testing.TB, dir string, pages map[string][]byte) (*mirror, *httptest.Server) {
	m := &mirror{dir: dir, pages: pages, failures: map[string][]int{}, requests: map[string]int{},
		times: map[string][]time.Time{}, agents: map[string]int{}, etags: map[string]string{}}
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return m, srv
}

// fail scripts the statuses of a page's next attempts.
func (m *mirror) fail(page string, statuses ...int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failures[page] = append(m.failures[page], statuses...)
}

func (m *mirror) body(name string) ([]byte, bool) {
	if name == "robots.txt" {
		return []byte(m.robotsTxt), m.robotsTxt != ""
	}
	if m.pages != nil {
		b, ok := m.pages[name]
		return b, ok
	}
	b, err := os.ReadFile(filepath.Join(m.dir, name))
	return b, err == nil
}

var mirrorModTime = time.Date(2025, 10, 22, 0, 0, 0, 0, time.UTC)

func (m *mirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := m.inflight.Add(1)
	defer m.inflight.Add(-1)
	for {
		old := m.maxFlight.Load()
		if n <= old || m.maxFlight.CompareAndSwap(old, n) {
			break
		}
	}
	if m.delay > 0 {
		time.Sleep(m.delay)
	}
	name := path.Base(r.URL.Path)
	if !strings.HasPrefix(r.URL.Path, "/buki/") && r.URL.Path != "/robots.txt" {
		http.NotFound(w, r)
		return
	}
	m.mu.Lock()
	m.requests[name]++
	m.times[name] = append(m.times[name], time.Now())
	m.agents[r.UserAgent()]++
	status := -1
	if f := m.failures[name]; len(f) > 0 {
		status, m.failures[name] = f[0], f[1:]
	}
	m.mu.Unlock()
	switch {
	case status == 0:
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("mirror: cannot hijack")
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			conn.Close() // a network error for the client
		}
		return
	case status == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", cmp.Or(m.retryAfter, "0"))
		http.Error(w, "slow down", status)
		return
	case status > 0:
		http.Error(w, "scripted failure", status)
		return
	}
	body, ok := m.body(name)
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", m.etag(name, body))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	rec := &countingWriter{ResponseWriter: w}
	http.ServeContent(rec, r, name, mirrorModTime, strings.NewReader(string(body)))
	if rec.status == http.StatusNotModified {
		m.notMod.Add(1)
	} else if rec.status == http.StatusOK || rec.status == 0 {
		m.served.Add(1)
		m.bytes.Add(rec.n)
	}
}

func (m *mirror) etag(name string, body []byte) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.etags[name]; ok {
		return e
	}
	sum := sha256.Sum256(body)
	e := `"` + hex.EncodeToString(sum[:8]) + `"`
	m.etags[name] = e
	return e
}

func (m *mirror) count(name string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests[name]
}

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (c *countingWriter) WriteHeader(s int) { c.status = s; c.ResponseWriter.WriteHeader(s) }
func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}
