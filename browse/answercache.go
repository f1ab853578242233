package browse

import (
	"bytes"
	"container/list"
	"net/http"
	"slices"
	"sync"
	"time"
)

// The answer cache keeps the JSON of the routes whose answers are the slowest to make and the
// most asked for again (a weapon with its upgrade tree and history, the suggestions, a game id's
// weapons), keyed by the data's version (caching.go) and the request's path and query. Only the
// version read before the handler's queries is the key: an entry made under a version holds
// that version's data or a newer one, never older, as the ETag of the answer it replays says.
// When the version changes, the entries of the others are dropped: no request can name them
// again. The cache sits inside the versioned and compressing middleware, so a replayed answer
// gets the same ETag, X-Data-Version, Cache-Control and Content-Encoding as a made one.

// answerCacheRoutes are the mux patterns whose 200 answers are kept.
var answerCacheRoutes = map[string]bool{
	"GET /api/weapons/{type}/{kind}/{row}": true,
	"GET /api/weapons/by-game-id/{id}":     true,
	"GET /api/suggest":                     true,
}

// entryOverhead is what an entry costs beyond its key and body (its headers, the list's
// element, the map's slot), roughly, so that many small answers are bounded too.
const entryOverhead = 256

// answer is one kept answer: the headers its handler set and its body.
type answer struct {
	key    string
	header http.Header
	body   []byte
}

func (a *answer) size() int { return len(a.key) + len(a.body) + entryOverhead }

// answerCache is a least-recently-used set of answers of one data version, bounded by bytes.
type answerCache struct {
	mu       sync.Mutex
	limit    int
	used     int
	version  string     // the version of the entries
	read     time.Time  // when it was read: a version read earlier is not the newest
	lru      *list.List // of *answer, the most recently used first
	entries  map[string]*list.Element
	inflight map[string]*fill
	count    func(result string) // hit, miss, shared (a miss given the answer another made), evicted
}

// fill is one answer being made, which identical requests wait for rather than make too.
type fill struct {
	done chan struct{}
	a    *answer // nil: the maker did not get a 200; the waiters make their own
	// waiting counts the requests that wait for it (a test waits on it).
	waiting int
}

// newAnswerCache returns a cache of at most limit bytes, or nil when limit is 0 (no cache).
func newAnswerCache(limit int, count func(result string)) *answerCache {
	if limit <= 0 {
		return nil
	}
	return &answerCache{limit: limit, lru: list.New(), entries: map[string]*list.Element{},
		inflight: map[string]*fill{}, count: count}
}

// serve answers r from the cache when it can, else by next, keeping a 200.
func (c *answerCache) serve(w http.ResponseWriter, r *http.Request, v *dataVersion, next http.Handler) {
	if c == nil || r.Method != http.MethodGet || !answerCacheRoutes[r.Pattern] {
		next.ServeHTTP(w, r)
		return
	}
	key := v.id + " " + r.URL.Path + "?" + r.URL.RawQuery
	a, f, lead := c.lookup(v, key)
	if a == nil && f != nil && !lead {
		select {
		case <-f.done:
			a = f.a
		case <-r.Context().Done():
		}
		if a != nil {
			c.count("shared")
		} else {
			c.count("miss")
		}
	}
	if a != nil {
		a.replay(w)
		return
	}
	if !lead { // a request that read an older version, or whose maker got no 200
		next.ServeHTTP(w, r)
		return
	}
	rec := &answerRecorder{ResponseWriter: w, status: http.StatusOK, before: w.Header().Clone()}
	// Deferred: a handler that panics must still wake those waiting (who then make their own).
	answered := false
	defer func() {
		var made *answer
		if answered {
			made = rec.answer(key)
		}
		c.store(v.id, key, f, made)
	}()
	next.ServeHTTP(rec, r)
	answered = true
}

// lookup returns the kept answer of key (a hit), or the fill to wait for, or a new fill this
// request leads (lead true). Neither (a nil fill) when v is older than the version the cache
// holds: a request that read the version just before it changed is answered without the cache.
func (c *answerCache) lookup(v *dataVersion, key string) (a *answer, f *fill, lead bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v.id != c.version {
		if !v.read.After(c.read) {
			c.count("miss")
			return nil, nil, false
		}
		c.reset(v)
	}
	if e, ok := c.entries[key]; ok {
		c.lru.MoveToFront(e)
		c.count("hit")
		return e.Value.(*answer), nil, false
	}
	if f, ok := c.inflight[key]; ok {
		f.waiting++
		return nil, f, false
	}
	c.count("miss")
	f = &fill{done: make(chan struct{})}
	c.inflight[key] = f
	return nil, f, true
}

// reset drops the entries of the version before: no request names them again. Fills in
// progress finish, and their answers are not kept (store sees the version has changed).
func (c *answerCache) reset(v *dataVersion) {
	for range c.entries {
		c.count("evicted")
	}
	c.version, c.read, c.used = v.id, v.read, 0
	c.lru.Init()
	clear(c.entries)
	c.inflight = map[string]*fill{}
}

// store keeps a made answer (nil: none to keep) and wakes those waiting for it.
func (c *answerCache) store(version, key string, f *fill, a *answer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f.a = a
	close(f.done)
	if c.inflight[key] == f {
		delete(c.inflight, key)
	}
	if a == nil || version != c.version || a.size() > c.limit {
		return
	}
	if _, ok := c.entries[key]; ok {
		return
	}
	c.entries[key] = c.lru.PushFront(a)
	c.used += a.size()
	for c.used > c.limit {
		last := c.lru.Back()
		old := last.Value.(*answer)
		c.lru.Remove(last)
		delete(c.entries, old.key)
		c.used -= old.size()
		c.count("evicted")
	}
}

// replay writes a kept answer as its handler wrote it.
func (a *answer) replay(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range a.header {
		h[k] = slices.Clone(v) // the writers after may add to a header: never to the kept one
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(a.body)
}

// answerRecorder copies what a handler writes, passing it on.
type answerRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	before http.Header // the headers set before the handler ran (CORS, the request's own)
	header http.Header // the headers the handler set, when it wrote its status
	body   bytes.Buffer
}

func (r *answerRecorder) WriteHeader(status int) {
	if !r.wrote {
		r.wrote, r.status = true, status
		r.header = http.Header{}
		for k, v := range r.ResponseWriter.Header() {
			if !slices.Equal(v, r.before[k]) {
				r.header[k] = slices.Clone(v)
			}
		}
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *answerRecorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	if r.status == http.StatusOK {
		r.body.Write(b)
	}
	return r.ResponseWriter.Write(b)
}

// answer is what the handler wrote, if it is to be kept: a 200 with a body.
func (r *answerRecorder) answer(key string) *answer {
	if !r.wrote || r.status != http.StatusOK || r.body.Len() == 0 {
		return nil
	}
	return &answer{key: key, header: r.header, body: bytes.Clone(r.body.Bytes())}
}

// Unwrap lets http.ResponseController reach the connection.
func (r *answerRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
