package browse

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// The query guards besides the time limit of each query: the largest page (MaxPageSize, read by
// form.limit), the most exports streaming at once (MaxExports), and a request rate per client
// (RateLimit, RateBurst).

// exportRetryAfter is what a client refused an export is told to wait: an export takes seconds
// to minutes, so a few seconds is a fair first wait.
const exportRetryAfter = 5

// maxClients bounds the clients whose request rate is tracked at once.
const maxClients = 10_000

type pageSizeKey struct{}

// protect puts the guards, CORS, compression and caching in front of the routes of mux. The
// route of a request (its pattern, which the metrics count it under) is set on r here, since
// some answers are given before the mux is reached (a 304, a 429, a preflight).
func (s *Server) protect(mux *http.ServeMux) http.Handler {
	inner := s.cors(s.compress(s.cached(s.limitExports(mux))))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, r.Pattern = mux.Handler(r)
		s.guard(w, r, inner)
	})
}

// guard applies the per-client rate limit and gives the handlers the largest page size.
func (s *Server) guard(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if s.clients != nil && r.URL.Path != "/api/health" {
		if wait, ok := s.clients.allow(r.RemoteAddr, time.Now()); !ok {
			tooMany(w, wait, "too many requests from your address: at most "+
				strconv.FormatFloat(s.cfg.RateLimit, 'g', -1, 64)+" a second (bursts of "+strconv.Itoa(s.cfg.RateBurst)+")")
			return
		}
	}
	next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), pageSizeKey{}, s.cfg.MaxPageSize)))
}

// limitExports refuses an export while MaxExports are streaming: each holds a database
// connection for as long as it streams, and the pages must keep some.
func (s *Server) limitExports(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/export.csv" && r.URL.Path != "/api/export.jsonl" {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case s.exports <- struct{}{}:
			defer func() { <-s.exports }()
			next.ServeHTTP(w, r)
		default:
			tooMany(w, exportRetryAfter*time.Second, "too many exports at once: at most "+
				strconv.Itoa(s.cfg.MaxExports)+"; try again in a moment")
		}
	})
}

// tooMany answers 429 with Retry-After, in whole seconds (at least one).
func tooMany(w http.ResponseWriter, wait time.Duration, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": msg})
}

// maxPage is the largest page size of r's server.
func maxPage(r *http.Request) int {
	if n, ok := r.Context().Value(pageSizeKey{}).(int); ok && n > 0 {
		return n
	}
	return maxPageSize
}

// clientLimits is a token bucket per client address (an IPv6 client's /64: one host has as
// many addresses as it likes in its network). A bucket that has been idle long enough to be
// full again is worth no more than a new one: those are dropped, so the map holds only the
// clients of the last moments, and at most maxClients.
type clientLimits struct {
	mu        sync.Mutex
	clients   map[netip.Addr]*clientBucket
	rate      rate.Limit
	burst     int
	loopback  bool          // limit loopback clients too
	idle      time.Duration // after which a bucket is full again
	lastSweep time.Time
}

type clientBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// newClientLimits returns the limits of perSecond requests, in bursts of burst; nil when
// perSecond is 0 (no limit).
func newClientLimits(perSecond float64, burst int, loopback bool) *clientLimits {
	if perSecond <= 0 {
		return nil
	}
	idle := max(time.Second, time.Duration(float64(burst)/perSecond*float64(time.Second)))
	return &clientLimits{clients: map[netip.Addr]*clientBucket{}, rate: rate.Limit(perSecond), burst: burst,
		loopback: loopback, idle: idle}
}

// allow takes a token of the client at remote (host:port, as http.Request.RemoteAddr); if
// there is none, it returns how long until there is one.
func (c *clientLimits) allow(remote string, now time.Time) (time.Duration, bool) {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return 0, true // not an IP connection (a test's pipe): no address to limit
	}
	addr := ap.Addr().Unmap()
	if addr.IsLoopback() && !c.loopback {
		return 0, true
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		addr = p.Addr()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.bucket(addr, now)
	b.seen = now
	res := b.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

// bucket returns addr's bucket, making room for a new one when needed.
func (c *clientLimits) bucket(addr netip.Addr, now time.Time) *clientBucket {
	if b, ok := c.clients[addr]; ok {
		return b
	}
	if len(c.clients) >= maxClients || now.Sub(c.lastSweep) > c.idle {
		c.sweep(now)
	}
	if len(c.clients) >= maxClients { // all busy: the one seen longest ago makes room
		var oldest netip.Addr
		var seen time.Time
		for a, b := range c.clients {
			if seen.IsZero() || b.seen.Before(seen) {
				oldest, seen = a, b.seen
			}
		}
		delete(c.clients, oldest)
	}
	b := &clientBucket{lim: rate.NewLimiter(c.rate, c.burst)}
	c.clients[addr] = b
	return b
}

// sweep drops the buckets idle long enough to be full again.
func (c *clientLimits) sweep(now time.Time) {
	c.lastSweep = now
	for a, b := range c.clients {
		if now.Sub(b.seen) >= c.idle {
			delete(c.clients, a)
		}
	}
}

// validateHTTP says which field of the caching, CORS and guards is wrong, if one is.
func (cfg *Config) validateHTTP() error {
	switch {
	case cfg.CacheMaxAge < 0 || cfg.VersionTTL < 0:
		return fmt.Errorf("CacheMaxAge %s and VersionTTL %s must not be negative", cfg.CacheMaxAge, cfg.VersionTTL)
	case cfg.VersionTTL > cfg.CacheMaxAge && cfg.CacheMaxAge > 0:
		return fmt.Errorf("VersionTTL %s must not be longer than CacheMaxAge %s", cfg.VersionTTL, cfg.CacheMaxAge)
	case cfg.AnswerCacheSize < 0:
		return fmt.Errorf("AnswerCacheSize %d must not be negative (0: no answers kept)", cfg.AnswerCacheSize)
	case cfg.MaxPageSize < 1:
		return fmt.Errorf("MaxPageSize %d must be at least 1", cfg.MaxPageSize)
	case cfg.MaxExports < 1:
		return fmt.Errorf("MaxExports %d must be at least 1", cfg.MaxExports)
	case cfg.RateLimit < 0 || math.IsNaN(cfg.RateLimit) || math.IsInf(cfg.RateLimit, 0):
		return fmt.Errorf("RateLimit %g must be a number of requests a second, 0 or more (0: no limit)", cfg.RateLimit)
	case cfg.RateLimit > 0 && cfg.RateBurst < 1:
		return fmt.Errorf("RateBurst %d must be at least 1 when RateLimit is set", cfg.RateBurst)
	}
	return validOrigins(cfg.CORSOrigins)
}

// validOrigins refuses what is not an origin a browser sends (a URL with a path never matches).
func validOrigins(origins []string) error {
	for _, o := range origins {
		if o != "*" && (!strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") || strings.HasSuffix(o, "/")) {
			return fmt.Errorf("CORSOrigins: %q is not an origin (*, or scheme://host[:port], without a path)", o)
		}
	}
	return nil
}
