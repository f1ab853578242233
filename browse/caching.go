package browse

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The HTTP caching of the API and the pages, tied to the version of the stored data (migration
// 00015, mhfz_data_version()): every GET answered 200 carries the version as its ETag and
// X-Data-Version, the time of the last change as Last-Modified, and Cache-Control: public with
// the configured max-age; a request whose If-None-Match (or, without one, If-Modified-Since)
// names the current version is answered 304 after reading the version alone, before any weapon
// table is read.
//
// The version is read before the handler reads the data, each by statements of their own: an
// answer is never labelled with a version newer than the data it was made of, so a client that
// holds a version's ETag holds that version's answer or a newer one.

// lastModifiedSettle is how old the last change must be before Last-Modified is sent. HTTP
// dates have whole seconds, and a sink's commit is stamped at its last statement, a moment
// before it becomes visible: a Last-Modified sent within the second of a change (or the moment
// after it) might equal that of a commit still to be seen, and a client asking If-Modified-Since
// with it would then be told 304 for an answer that has changed. Sent only once the change is
// this old, a Last-Modified is always older than any commit not yet visible. Until then the
// answer has its ETag only, which is exact.
const lastModifiedSettle = 5 * time.Second

// dataVersion is the version of the stored data, as read at one moment.
type dataVersion struct {
	id       string        // the database's version, X-Data-Version
	etag     string        // W/"id-release": a new release may answer the same data differently
	modified time.Time     // the last change, by the database's clock
	age      time.Duration // how long before the reading the last change was, by the database's clock
	read     time.Time     // when it was read, by this server's clock
}

// settled reports whether Last-Modified may be sent now (see lastModifiedSettle).
func (v *dataVersion) settled() bool { return v.age+time.Since(v.read) >= lastModifiedSettle }

// versionCache holds the last version read, for VersionTTL, and the build's part of the ETags.
type versionCache struct {
	mu      sync.Mutex
	last    *dataVersion
	release string
}

// release identifies the server's build in its ETags: Config.Release when given, else the
// time the server was built (New), so that another build (or a restart of one) never answers
// 304 to an ETag of an answer it may write differently.
func releaseTag(cfg Config, started time.Time) string {
	r := cfg.Release
	if r == "" {
		r = "start " + started.Format(time.RFC3339Nano)
	}
	sum := sha256.Sum256([]byte(r))
	return hex.EncodeToString(sum[:4])
}

// dataVersion returns the version of the stored data, read again once the last reading is
// older than VersionTTL.
func (s *Server) dataVersion(ctx context.Context) (*dataVersion, error) {
	c := &s.versions
	if s.cfg.VersionTTL == 0 {
		return s.readVersion(ctx)
	}
	// One request reads it; the others wait for its reading rather than read it too.
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last != nil && time.Since(c.last.read) < s.cfg.VersionTTL {
		return c.last, nil
	}
	v, err := s.readVersion(ctx)
	if err == nil {
		c.last = v
	}
	return v, err
}

// readVersion reads the data's version (migration 00015).
func (s *Server) readVersion(ctx context.Context) (*dataVersion, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	v := &dataVersion{read: time.Now()}
	if err := s.db.QueryRow(ctx, "SELECT version, changed_at, age FROM mhfz_data_version()").
		Scan(&v.id, &v.modified, &v.age); err != nil {
		return nil, s.dbError(ctx, "reading the data's version", err)
	}
	v.etag = `W/"` + v.id + "-" + s.versions.release + `"`
	return v, nil
}

// cacheable reports whether the answers to r follow the data's version: the GETs of the API
// and the pages, but not the health (it must be asked every time), the static files (they are
// the build's, with their own Cache-Control) nor the downloads (immutable files, with theirs;
// and their manifest, which changes when mhfz publish writes a version, after the data did).
func cacheable(r *http.Request) bool {
	p := r.URL.Path
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && p != "/api/health" && p != "/api/downloads" &&
		!strings.HasPrefix(p, "/static/") && !strings.HasPrefix(p, "/downloads/") && p != "/downloads"
}

// cached answers 304 to a request that holds the current version, and labels the others'
// answers with it (see versionedWriter).
func (s *Server) cached(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !cacheable(r) {
			next.ServeHTTP(w, r)
			return
		}
		v, err := s.dataVersion(r.Context())
		if err != nil { // the database is not there: the handler says so as it does for every route
			w.Header().Set("Cache-Control", "no-store")
			next.ServeHTTP(w, r)
			return
		}
		if notModified(r, v) {
			h := w.Header()
			s.versionHeaders(h, v)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		s.answers.serve(&versionedWriter{ResponseWriter: w, s: s, v: v}, r, v, next)
	})
}

// versionHeaders sets the caching headers of an answer of version v.
func (s *Server) versionHeaders(h http.Header, v *dataVersion) {
	h.Set("ETag", v.etag)
	h.Set("X-Data-Version", v.id)
	if v.settled() {
		h.Set("Last-Modified", v.modified.UTC().Format(http.TimeFormat))
	}
	h.Set("Cache-Control", s.cacheControl)
}

// notModified applies the conditions of RFC 9110 (13.1.2, 13.1.3): If-None-Match decides when
// present (weak comparison: the ETag is the same whatever the encoding), else If-Modified-Since.
func notModified(r *http.Request, v *dataVersion) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		return etagMatches(inm, v.etag)
	}
	ims := r.Header.Get("If-Modified-Since")
	if ims == "" || !v.settled() {
		return false
	}
	t, err := http.ParseTime(ims)
	return err == nil && !v.modified.Truncate(time.Second).After(t)
}

// etagMatches reports whether a list of entity tags (If-None-Match) names etag, weakly.
func etagMatches(list, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for _, tag := range strings.Split(list, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == want {
			return true
		}
	}
	return false
}

// versionedWriter sets the caching headers when the handler writes its status: a 200 (or 206)
// gets the version's, an error Cache-Control: no-store (the next request may well succeed).
type versionedWriter struct {
	http.ResponseWriter
	s     *Server
	v     *dataVersion
	wrote bool
}

func (w *versionedWriter) WriteHeader(status int) {
	if !w.wrote {
		w.wrote = true
		h := w.Header()
		if status == http.StatusOK || status == http.StatusPartialContent {
			w.s.versionHeaders(h, w.v)
		} else {
			h.Set("X-Data-Version", w.v.id)
			h.Set("Cache-Control", "no-store")
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *versionedWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets the exports stream through.
func (w *versionedWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *versionedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// cacheControl is the Cache-Control of a versioned answer: public for max-age, then asked
// again with its ETag.
func cacheControl(maxAge time.Duration) string {
	if maxAge <= 0 {
		return "public, no-cache"
	}
	return "public, max-age=" + strconv.FormatInt(int64(maxAge/time.Second), 10)
}
