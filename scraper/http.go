package scraper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultBaseURL is the live site's weapon folder.
const DefaultBaseURL = "https://xl3lackout.github.io/MHFZ-Ferias-English-Project/buki/"

// DefaultUserAgent says who is asking, so that the site's owner can tell and reach us.
const DefaultUserAgent = "mhfz-pipeline-scraper/1 (+https://github.com/mhfz/mhfz-pipeline)"

// maxPageBytes bounds one page's body: the biggest real page is about 3 MB.
const maxPageBytes = 64 << 20

// HTTPOptions configure an HTTPFetcher. Start from DefaultHTTPOptions(): a zero is no default.
type HTTPOptions struct {
	UserAgent   string
	Timeout     time.Duration // one request, body included
	Retries     int           // further attempts after a retryable failure (0: none)
	BackoffBase time.Duration // first wait between attempts, doubled each time
	BackoffMax  time.Duration // longest wait
	Rate        float64       // requests per second at most (0: no limit)
	Burst       int           // requests allowed at once above the rate
	State       *State        // validators for conditional GET; nil: always download
	Client      *http.Client  // a client of your own (its Timeout is left alone); nil: one with Timeout
	Log         *slog.Logger
	Stats       *Stats // counts the responses and the retries; nil: none
}

// DefaultHTTPOptions are the options of the scraper's HTTP fetcher without flags.
func DefaultHTTPOptions() HTTPOptions {
	return HTTPOptions{UserAgent: DefaultUserAgent, Timeout: 60 * time.Second, Retries: 4,
		BackoffBase: 500 * time.Millisecond, BackoffMax: 30 * time.Second, Rate: 10, Burst: 4, Log: slog.Default()}
}

// check says what is wrong with the options (the first thing), naming the field.
func (o HTTPOptions) check() error {
	switch {
	case o.UserAgent == "":
		return errors.New("UserAgent is empty")
	case o.Timeout <= 0:
		return fmt.Errorf("Timeout must be positive, got %v", o.Timeout)
	case o.Retries < 0:
		return fmt.Errorf("Retries must not be negative (0: none), got %d", o.Retries)
	case o.BackoffBase <= 0 || o.BackoffMax < o.BackoffBase:
		return fmt.Errorf("BackoffBase must be positive and BackoffMax at least as long, got %v and %v",
			o.BackoffBase, o.BackoffMax)
	case o.Rate < 0:
		return fmt.Errorf("Rate must not be negative (0: no limit), got %v", o.Rate)
	case o.Burst < 1:
		return fmt.Errorf("Burst must be at least 1, got %d", o.Burst)
	case o.Log == nil:
		return errors.New("Log is nil")
	}
	return nil
}

// maxRetryAfter caps the wait a server's Retry-After can impose: a longer one (a misconfigured
// server, or a date far ahead) is cut to this and logged, so that one answer cannot park the
// scraper for hours.
const maxRetryAfter = 5 * time.Minute

// minSlowRate is the lowest request rate (per second) that 429s bring the fetcher down to.
const minSlowRate = 0.5

// HTTPFetcher reads the pages over HTTP(S) from a base URL: the live site or a mirror. It
// retries network errors, 429 and 5xx with exponential backoff, sends conditional GETs when it
// knows a page's validator, limits its request rate, and obeys the site's robots.txt. It is
// shared by all the workers of a scrape, and so is its politeness: a 429 (or a Retry-After)
// pauses every worker, not only the one that got it, and a 429 also halves the request rate
// for the rest of the scrape.
type HTTPFetcher struct {
	base    *url.URL
	opts    HTTPOptions
	limit   rate.Limit // the configured rate; Prepare restores it
	client  *http.Client
	limiter *rate.Limiter
	log     *slog.Logger

	mu        sync.Mutex
	notBefore time.Time // no request starts before this: the server asked us to wait

	robotsMu sync.Mutex
	robots   *robotsRules // nil until read
}

// NewHTTPFetcher checks the base URL and options and returns a fetcher.
func NewHTTPFetcher(baseURL string, opts HTTPOptions) (*HTTPFetcher, error) {
	base, err := parseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("http fetcher: %w", err)
	}
	limit := rate.Limit(opts.Rate)
	if opts.Rate == 0 {
		limit = rate.Inf
	}
	client := opts.Client
	if client == nil {
		client = &http.Client{Timeout: opts.Timeout}
	}
	return &HTTPFetcher{base: base, opts: opts, limit: limit, client: client,
		limiter: rate.NewLimiter(limit, opts.Burst), log: opts.Log.With("site", base.Host)}, nil
}

// retryable marks a failure worth another attempt.
type retryable struct {
	err        error
	status     int           // the HTTP status, 0 for a network error
	retryAfter time.Duration // what the server asked for (capped), if anything
	slowDown   bool          // the server asked us to slow down: every worker pauses
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// Fetch GETs one page, retrying what is worth retrying. A page the site's robots.txt forbids
// is not fetched: it comes back Disallowed.
func (h *HTTPFetcher) Fetch(ctx context.Context, name string) (Page, error) {
	u := h.base.ResolveReference(&url.URL{Path: name})
	p := Page{Name: name, URL: u.String()}
	rules := h.robotsRules(ctx)
	if err := ctx.Err(); err != nil {
		return p, fmt.Errorf("fetch %s: %w", p.URL, err)
	}
	if !rules.allows(u) {
		p.Status = Disallowed
		return p, nil
	}
	return p, h.retry(ctx, p.URL, func() error { return h.get(ctx, &p) })
}

// retry runs attempt until it succeeds, fails for good, or the retries are spent, waiting for
// our turn (the rate limit and any pause the server asked for) before each attempt.
func (h *HTTPFetcher) retry(ctx context.Context, u string, attempt func() error) error {
	for n := 0; ; n++ {
		err := h.waitTurn(ctx)
		if err != nil {
			return fmt.Errorf("fetch %s: waiting for our turn: %w", u, err)
		}
		err = attempt()
		var r *retryable
		if err == nil || !errors.As(err, &r) || ctx.Err() != nil {
			return err
		}
		wait := h.backoff(n, r.retryAfter)
		if r.slowDown { // the other workers are asked too, even if this page gives up
			h.slowDown(u, r.status, wait)
		}
		if n >= h.opts.Retries {
			return fmt.Errorf("%w (gave up after %d attempts)", err, n+1)
		}
		h.opts.Stats.retried()
		select {
		case <-ctx.Done():
			return fmt.Errorf("fetch %s: %w (while waiting to retry after: %v)", u, ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

// waitTurn waits until no pause is in force and the rate limiter lets a request go. A pause
// set while waiting for the limiter still applies.
func (h *HTTPFetcher) waitTurn(ctx context.Context) error {
	for {
		if d := h.pausedFor(); d > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
		}
		if err := h.limiter.Wait(ctx); err != nil {
			return err
		}
		if h.pausedFor() <= 0 {
			return nil
		}
	}
}

func (h *HTTPFetcher) pausedFor() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return time.Until(h.notBefore)
}

// slowDown pauses every worker for wait (a pause already longer stays), and, on a 429, halves
// the request rate (down to minSlowRate) for the rest of the scrape.
func (h *HTTPFetcher) slowDown(u string, status int, wait time.Duration) {
	h.mu.Lock()
	if until := time.Now().Add(wait); until.After(h.notBefore) {
		h.notBefore = until
	}
	h.mu.Unlock()
	limit := h.limiter.Limit()
	if status == http.StatusTooManyRequests && limit != rate.Inf && limit > minSlowRate {
		limit = max(limit/2, minSlowRate)
		h.limiter.SetLimit(limit)
	}
	h.log.Warn("the site asks us to slow down: every worker pauses", "url", u, "status", status,
		"pause", wait.Round(time.Millisecond), "requests_per_second", float64(limit))
}

// backoff is the wait before attempt+1: base*2^attempt with jitter (50-100%), at most the
// maximum; a Retry-After of the server (already capped at maxRetryAfter) wins when it is longer.
func (h *HTTPFetcher) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := h.opts.BackoffBase << min(attempt, 20)
	d = min(d, h.opts.BackoffMax)
	d = d/2 + rand.N(d/2+1)
	return max(d, retryAfter)
}

func (h *HTTPFetcher) get(ctx context.Context, p *Page) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", p.URL, err)
	}
	req.Header.Set("Accept", "text/html")
	if v := h.opts.State.Validator(p.URL); !v.Empty() {
		if v.ETag != "" {
			req.Header.Set("If-None-Match", v.ETag)
		}
		if v.LastModified != "" {
			req.Header.Set("If-Modified-Since", v.LastModified)
		}
	}
	resp, err := h.do(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		body, err := readBody(resp.Body, resp.ContentLength)
		if err != nil {
			return transient(fmt.Errorf("fetch %s: read body: %w", p.URL, err))
		}
		if len(body) > maxPageBytes {
			return fmt.Errorf("fetch %s: body larger than %d bytes", p.URL, maxPageBytes)
		}
		p.Status, p.Body = Fetched, body
		p.Validator = Validator{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
		return nil
	case http.StatusNotModified:
		p.Status = Unchanged
		return nil
	case http.StatusNotFound, http.StatusGone:
		p.Status = Absent
		return nil
	}
	drain(resp.Body)
	return h.statusError(p.URL, resp)
}

// do sends a request with our User-Agent and counts the response's status. A network error
// comes back retryable if it is one that passes (transient).
func (h *HTTPFetcher) do(ctx context.Context, req *http.Request) (*http.Response, error) {
	req.Header.Set("User-Agent", h.opts.UserAgent)
	resp, err := h.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("fetch %s: %w", req.URL, ctx.Err())
		}
		return nil, transient(fmt.Errorf("fetch %s: %w", req.URL, err))
	}
	h.opts.Stats.response(resp.StatusCode)
	return resp, nil
}

// statusError is the error of an unwanted status: 429 and 5xx are retryable, and 429 or a
// Retry-After asks every worker to slow down.
func (h *HTTPFetcher) statusError(u string, resp *http.Response) error {
	err := fmt.Errorf("fetch %s: HTTP %s", u, resp.Status)
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500 {
		return err
	}
	header := resp.Header.Get("Retry-After")
	asked := parseRetryAfter(header, time.Now())
	if asked > maxRetryAfter {
		h.log.Warn("Retry-After longer than we wait: capped", "url", u, "retry_after", header,
			"asked", asked.Round(time.Second), "cap", maxRetryAfter)
	}
	return &retryable{err: err, status: resp.StatusCode, retryAfter: min(asked, maxRetryAfter),
		slowDown: resp.StatusCode == http.StatusTooManyRequests || header != ""}
}

// readBody reads a body of at most maxPageBytes+1 bytes into a buffer of the announced length
// (io.ReadAll's growing copies were a tenth of the scraper's CPU outside the parser).
func readBody(body io.Reader, length int64) ([]byte, error) {
	var b bytes.Buffer
	if length > 0 && length <= maxPageBytes {
		// bytes.Buffer reads until a read returns nothing: room for that last read too.
		b.Grow(int(length) + bytes.MinRead)
	}
	_, err := b.ReadFrom(io.LimitReader(body, maxPageBytes+1))
	return b.Bytes(), err
}

// drain reads a little of an unwanted body so that the connection can be reused.
func drain(body io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10)) }

// parseRetryAfter reads a Retry-After header (RFC 9110: seconds, or an HTTP date) as a wait from
// now; anything else is no wait. Not capped.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}
