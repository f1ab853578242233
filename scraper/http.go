package scraper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// DefaultBaseURL is the live site's weapon folder.
const DefaultBaseURL = "https://xl3lackout.github.io/MHFZ-Ferias-English-Project/buki/"

// DefaultUserAgent says who is asking, so that the site's owner can tell and reach us.
const DefaultUserAgent = "mhfz-pipeline-scraper/1 (+https://github.com/mhfz/mhfz-pipeline)"

// maxPageBytes bounds one page's body: the biggest real page is about 3 MB.
const maxPageBytes = 64 << 20

// HTTPOptions configure an HTTPFetcher. Zero values take the defaults shown.
type HTTPOptions struct {
	UserAgent   string        // DefaultUserAgent
	Timeout     time.Duration // one request, body included: 60s
	Retries     int           // further attempts after a retryable failure: 4 (a negative value: none)
	BackoffBase time.Duration // first wait between attempts, doubled each time: 500ms
	BackoffMax  time.Duration // longest wait: 30s
	Rate        float64       // requests per second: 10 (a negative value: unlimited)
	Burst       int           // requests allowed at once above the rate: 4
	State       *State        // validators for conditional GET; nil: always download
	Client      *http.Client  // a client of your own (its Timeout is left alone)
}

// HTTPFetcher reads the pages over HTTP(S) from a base URL: the live site or a mirror. It
// retries network errors, 429 and 5xx with exponential backoff (and honours Retry-After),
// sends conditional GETs when it knows a page's validator, and limits its request rate.
type HTTPFetcher struct {
	base    *url.URL
	opts    HTTPOptions
	client  *http.Client
	limiter *rate.Limiter
}

// NewHTTPFetcher checks the base URL and options and returns a fetcher.
func NewHTTPFetcher(baseURL string, opts HTTPOptions) (*HTTPFetcher, error) {
	base, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("base URL %q: %w", baseURL, err)
	}
	if base.Scheme != "http" && base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("base URL %q: want an http:// or https:// URL with a host", baseURL)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/" // the folder, so that page names resolve inside it
	}
	if opts.UserAgent == "" {
		opts.UserAgent = DefaultUserAgent
	}
	if opts.Timeout == 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.Retries == 0 {
		opts.Retries = 4
	}
	opts.Retries = max(opts.Retries, 0)
	if opts.BackoffBase == 0 {
		opts.BackoffBase = 500 * time.Millisecond
	}
	if opts.BackoffMax == 0 {
		opts.BackoffMax = 30 * time.Second
	}
	if opts.Rate == 0 {
		opts.Rate = 10
	}
	if opts.Burst <= 0 {
		opts.Burst = 4
	}
	if opts.Timeout < 0 || opts.BackoffBase < 0 || opts.BackoffMax < opts.BackoffBase {
		return nil, fmt.Errorf("http fetcher: negative timeout or backoff, or backoff max below base (%+v)", opts)
	}
	limit := rate.Limit(opts.Rate)
	if opts.Rate < 0 {
		limit = rate.Inf
	}
	client := opts.Client
	if client == nil {
		client = &http.Client{Timeout: opts.Timeout}
	}
	return &HTTPFetcher{base: base, opts: opts, client: client, limiter: rate.NewLimiter(limit, opts.Burst)}, nil
}

// retryable marks a failure worth another attempt.
type retryable struct {
	err        error
	retryAfter time.Duration // what the server asked for, if anything
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// Fetch GETs one page, retrying what is worth retrying.
func (h *HTTPFetcher) Fetch(ctx context.Context, name string) (Page, error) {
	u := h.base.ResolveReference(&url.URL{Path: name})
	p := Page{Name: name, URL: u.String()}
	for attempt := 0; ; attempt++ {
		err := h.limiter.Wait(ctx)
		if err == nil {
			err = h.get(ctx, &p)
		}
		var r *retryable
		if err == nil || !errors.As(err, &r) || ctx.Err() != nil {
			return p, err
		}
		if attempt >= h.opts.Retries {
			return p, fmt.Errorf("%w (gave up after %d attempts)", err, attempt+1)
		}
		wait := h.backoff(attempt, r.retryAfter)
		select {
		case <-ctx.Done():
			return p, fmt.Errorf("fetch %s: %w (while waiting to retry after: %v)", p.URL, ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

// backoff is the wait before attempt+1: base*2^attempt with jitter (50-100%), at most the
// maximum; a Retry-After of the server wins when it is longer (still capped).
func (h *HTTPFetcher) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := h.opts.BackoffBase << min(attempt, 20)
	d = min(d, h.opts.BackoffMax)
	d = d/2 + rand.N(d/2+1)
	if retryAfter > d {
		d = min(retryAfter, h.opts.BackoffMax)
	}
	return d
}

func (h *HTTPFetcher) get(ctx context.Context, p *Page) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", p.URL, err)
	}
	req.Header.Set("User-Agent", h.opts.UserAgent)
	req.Header.Set("Accept", "text/html")
	if v := h.opts.State.Validator(p.URL); !v.Empty() {
		if v.ETag != "" {
			req.Header.Set("If-None-Match", v.ETag)
		}
		if v.LastModified != "" {
			req.Header.Set("If-Modified-Since", v.LastModified)
		}
	}
	resp, err := h.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("fetch %s: %w", p.URL, ctx.Err())
		}
		return &retryable{err: fmt.Errorf("fetch %s: %w", p.URL, err)}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes+1))
		if err != nil {
			return &retryable{err: fmt.Errorf("fetch %s: read body: %w", p.URL, err)}
		}
		if len(body) > maxPageBytes {
			return fmt.Errorf("fetch %s: body larger than %d bytes", p.URL, maxPageBytes)
		}
		p.Status, p.Body = Fetched, body
		p.Validator = Validator{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
		return nil
	case resp.StatusCode == http.StatusNotModified:
		p.Status = Unchanged
		return nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		p.Status = Absent
		return nil
	}
	drain(resp.Body)
	err = fmt.Errorf("fetch %s: HTTP %s", p.URL, resp.Status)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return &retryable{err: err, retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"))}
	}
	return err
}

// drain reads a little of an unwanted body so that the connection can be reused.
func drain(body io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10)) }

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
