package browse

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cacheCounts counts the cache's results.
type cacheCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *cacheCounts) count(result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[result]++
}

func (c *cacheCounts) get(result string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[result]
}

const weaponPattern = "GET /api/weapons/{type}/{kind}/{row}"

func weaponRequest(path string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Pattern = weaponPattern
	return r
}

// TestAnswerCacheCollapsesMisses: identical requests at once run the handler once; the others
// replay its answer.
func TestAnswerCacheCollapsesMisses(t *testing.T) {
	counts := &cacheCounts{n: map[string]int{}}
	c := newAnswerCache(1<<20, counts.count)
	v := &dataVersion{id: "v1", read: time.Now()}
	release := make(chan struct{})
	var runs atomic.Int32
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs.Add(1)
		<-release
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"a":1}`))
	})
	const n = 4
	recs := make([]*httptest.ResponseRecorder, n)
	var wg sync.WaitGroup
	for i := range n {
		recs[i] = httptest.NewRecorder()
		wg.Add(1)
		go func() { defer wg.Done(); c.serve(recs[i], weaponRequest("/api/weapons/a/b/c"), v, handler) }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		f := c.inflight["v1 /api/weapons/a/b/c?"]
		waiting := f != nil && f.waiting == n-1
		c.mu.Unlock()
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the requests did not wait for one another")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if runs.Load() != 1 || counts.get("miss") != 1 || counts.get("shared") != n-1 {
		t.Errorf("%d runs, %d misses, %d shared: want 1, 1, %d", runs.Load(), counts.get("miss"), counts.get("shared"), n-1)
	}
	for i, rec := range recs {
		if rec.Code != 200 || rec.Body.String() != `{"a":1}` || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("request %d: %d %q %q", i, rec.Code, rec.Body, rec.Header())
		}
	}
}

// TestAnswerCacheVersions: a new version drops the entries of the one before; a request that
// read an older version than the cache's is answered without the cache, which keeps its entries.
func TestAnswerCacheVersions(t *testing.T) {
	counts := &cacheCounts{n: map[string]int{}}
	c := newAnswerCache(1<<20, counts.count)
	var runs atomic.Int32
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs.Add(1)
		_, _ = w.Write([]byte(`{}`))
	})
	serve := func(v *dataVersion) { c.serve(httptest.NewRecorder(), weaponRequest("/api/weapons/a/b/c"), v, handler) }
	now := time.Now()
	v1, v2 := &dataVersion{id: "v1", read: now}, &dataVersion{id: "v2", read: now.Add(time.Second)}
	serve(v1)
	serve(v1)
	serve(v2)
	serve(v1) // read before v2: not kept, and v2's entry stays
	serve(v2)
	if runs.Load() != 3 || counts.get("hit") != 2 || counts.get("evicted") != 1 || len(c.entries) != 1 || c.version != "v2" {
		t.Errorf("%d runs, %d hits, %d evicted, %d entries of %s: want 3, 2, 1, 1 of v2",
			runs.Load(), counts.get("hit"), counts.get("evicted"), len(c.entries), c.version)
	}
	if newAnswerCache(0, counts.count) != nil {
		t.Error("a cache of 0 bytes: want none")
	}
}
