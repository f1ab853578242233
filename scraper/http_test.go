package scraper

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// fixtureSite is a small site made of the fixtures: an index of two weapon types, a partner
// index, and pages that link to each other.
func fixtureSite(t *testing.T) map[string][]byte {
	t.Helper()
	read := func(f string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return map[string][]byte{
		"buki.htm": []byte(`<html><body><ul><li><a href="tachi.htm">Long Sword</a>/<a href="tachi_g.htm#t8">G</a>` +
			`<li><a href="heavy.htm">HBG</a><li><a href="../index.htm">home</a></ul></body></html>`),
		"buki_partnya.htm":   []byte(`<html><body><a href="taiken_partnya.htm">Cutting</a></body></html>`),
		"tachi.htm":          read("ken.htm"), // links to tachi_g.htm and taiken.htm
		"tachi_g.htm":        read("short_row.htm"),
		"tachi_t.htm":        read("tenrou.htm"), // not linked: found by guessing the page kinds
		"heavy.htm":          read("gun.htm"),
		"taiken_partnya.htm": read("empty_tbody.htm"),
		"taiken.htm":         read("invalid_utf8.htm"),
	}
}

const fixtureSiteRows = 4 + 4 + 3 + 2 + 0 + 2

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func fastHTTP(state *State) HTTPOptions {
	o := unlimitedHTTP()
	o.BackoffBase, o.BackoffMax, o.State, o.Log = 5*time.Millisecond, 50*time.Millisecond, state, quietLog()
	return o
}

// scrapeAll runs one scrape and returns its result with the records by key.
func scrapeAll(t *testing.T, f Fetcher, workers int) (Result, map[string]*codecs.RawRecord) {
	t.Helper()
	s, err := newTestScraper(f, workers)
	if err != nil {
		t.Fatal(err)
	}
	recs := map[string]*codecs.RawRecord{}
	res, err := s.Scrape(context.Background(), func(r *codecs.RawRecord) error {
		if _, dup := recs[r.Key]; dup {
			t.Errorf("key %s emitted twice", r.Key)
		}
		recs[r.Key] = r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return res, recs
}

func TestScrapeFixtureSiteOverHTTP(t *testing.T) {
	m, srv := newMirror(t, "", fixtureSite(t))
	f, err := NewHTTPFetcher(srv.URL+"/buki", fastHTTP(nil)) // no trailing slash: still the folder
	if err != nil {
		t.Fatal(err)
	}
	res, recs := scrapeAll(t, f, 4)
	if res.Rows != fixtureSiteRows || len(recs) != fixtureSiteRows {
		t.Errorf("rows %d, distinct keys %d, want %d", res.Rows, len(recs), fixtureSiteRows)
	}
	// 3 weapon types found (long sword, heavy bowgun, great sword), 7 page kinds each: 21
	// pages tried, 6 of them exist.
	if res.Pages != 6 || res.Absent != 15 || res.Failures() != 0 {
		t.Errorf("pages %d absent %d failures %d (%v), want 6, 15, 0", res.Pages, res.Absent, res.Failures(), res.FailedPages)
	}
	if r := recs["long_sword/tower/l3000"]; r == nil || !strings.HasPrefix(r.URL, srv.URL+"/buki/tachi_t.htm") {
		t.Errorf("the tower page, linked nowhere, was not found by guessing its kind: %+v", r)
	}
	if r := recs["great_sword/base/l0701"]; r == nil {
		t.Error("taiken.htm, linked only from a page, was not read")
	}
	if m.count("tachi.htm") != 1 || m.count("buki.htm") != 1 {
		t.Errorf("tachi.htm fetched %d times, buki.htm %d, want 1 each", m.count("tachi.htm"), m.count("buki.htm"))
	}
	if len(m.agents) != 1 || m.agents[DefaultUserAgent] == 0 {
		t.Errorf("user agents %v, want only %q", m.agents, DefaultUserAgent)
	}
	if res.IssueCounts[IssueInvalidUTF8] != 1 || res.IssueCounts[IssueShortRow] != 2 || res.Duplicates != 1 {
		t.Errorf("issues %s", res.IssueLine())
	}
}

func TestHTTPRetries(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int // of the first attempts of tachi.htm
		retries  int
		wantErr  bool
		attempts int
	}{
		{"500 twice then OK", []int{500, 500}, 4, false, 3},
		{"429 then OK", []int{http.StatusTooManyRequests}, 4, false, 2},
		{"connection closed then OK", []int{0}, 4, false, 2},
		{"503 more often than the retries", []int{503, 503, 503, 503}, 2, true, 3},
		{"400 is not retried", []int{400}, 4, true, 1},
		{"403 is not retried", []int{403}, 4, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, srv := newMirror(t, "", fixtureSite(t))
			m.fail("tachi.htm", tc.statuses...)
			opts := fastHTTP(nil)
			opts.Retries = tc.retries
			f, err := NewHTTPFetcher(srv.URL+"/buki/", opts)
			if err != nil {
				t.Fatal(err)
			}
			p, err := f.Fetch(context.Background(), "tachi.htm")
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error: %v", err, tc.wantErr)
			}
			if err == nil && (p.Status != Fetched || len(p.Body) == 0) {
				t.Errorf("status %v, %d bytes", p.Status, len(p.Body))
			}
			if err != nil && !strings.Contains(err.Error(), "tachi.htm") {
				t.Errorf("error %q does not name the page", err)
			}
			if got := m.count("tachi.htm"); got != tc.attempts {
				t.Errorf("%d attempts, want %d", got, tc.attempts)
			}
		})
	}
}

// TestHTTPBackoff checks that the waits between attempts grow exponentially (lower bounds
// only: a slow machine can only make them longer).
func TestHTTPBackoff(t *testing.T) {
	m, srv := newMirror(t, "", fixtureSite(t))
	m.fail("tachi.htm", 500, 500, 500)
	f, err := NewHTTPFetcher(srv.URL+"/buki/", httpOptions(func(o *HTTPOptions) {
		o.Rate, o.BackoffBase, o.BackoffMax = 0, 40*time.Millisecond, time.Second
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fetch(context.Background(), "tachi.htm"); err != nil {
		t.Fatal(err)
	}
	times := m.times["tachi.htm"]
	if len(times) != 4 {
		t.Fatalf("%d attempts, want 4", len(times))
	}
	// Wait n is base*2^n with jitter in [50%, 100%]: at least 20, 40, 80 ms.
	for i, min := range []time.Duration{20, 40, 80} {
		if gap := times[i+1].Sub(times[i]); gap < min*time.Millisecond {
			t.Errorf("wait before attempt %d: %v, want at least %v ms", i+2, gap, min)
		}
	}
	if f.backoff(30, 0) > time.Second {
		t.Errorf("backoff not capped: %v", f.backoff(30, 0))
	}
	if got := f.backoff(0, 500*time.Millisecond); got != 500*time.Millisecond {
		t.Errorf("Retry-After of 500ms gave a wait of %v", got)
	}
}

func TestHTTPCancelStopsRetrying(t *testing.T) {
	m, srv := newMirror(t, "", fixtureSite(t))
	m.fail("tachi.htm", 500, 500, 500, 500, 500)
	f, err := NewHTTPFetcher(srv.URL+"/buki/", httpOptions(func(o *HTTPOptions) {
		o.Rate, o.BackoffBase, o.BackoffMax = 0, time.Hour, time.Hour
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := f.Fetch(ctx, "tachi.htm"); err == nil || ctx.Err() == nil {
		t.Fatalf("error %v; want the context's", err)
	}
	if m.count("tachi.htm") != 1 {
		t.Errorf("%d attempts after the context ended", m.count("tachi.htm"))
	}
}

// TestConditionalGET: a second run with the state of the first downloads no weapon page.
func TestConditionalGET(t *testing.T) {
	m, srv := newMirror(t, "", fixtureSite(t))
	path := filepath.Join(t.TempDir(), "state.json")
	run := func() Result {
		state, err := LoadState(path, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		f, err := NewHTTPFetcher(srv.URL+"/buki/", fastHTTP(state))
		if err != nil {
			t.Fatal(err)
		}
		res, _ := scrapeAll(t, f, 2)
		if err := res.Commit(state); err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := run()
	servedFirst := m.served.Load()
	if first.Unchanged != 0 || first.Rows != fixtureSiteRows || len(first.Validators) != 6 {
		t.Fatalf("first run: unchanged %d rows %d validators %d", first.Unchanged, first.Rows, len(first.Validators))
	}
	second := run()
	// Only the two index pages are downloaded again: discovery needs their links.
	if got := m.served.Load() - servedFirst; got != 2 {
		t.Errorf("second run downloaded %d pages, want 2 (the indexes)", got)
	}
	if second.Unchanged != 6 || second.Rows != 0 || second.Pages != 0 || m.notMod.Load() != 6 {
		t.Errorf("second run: unchanged %d rows %d pages %d, 304s %d; want 6, 0, 0, 6",
			second.Unchanged, second.Rows, second.Pages, m.notMod.Load())
	}
}

// TestFailedPageNotRemembered: a page that failed is downloaded again on the next run.
func TestFailedPageNotRemembered(t *testing.T) {
	site := fixtureSite(t)
	site["heavy.htm"] = []byte("not a page at all")
	_, srv := newMirror(t, "", site)
	state, _ := LoadState("", quietLog())
	f, err := NewHTTPFetcher(srv.URL+"/buki/", fastHTTP(state))
	if err != nil {
		t.Fatal(err)
	}
	res, _ := scrapeAll(t, f, 2)
	if res.Failures() != 1 || res.FailedPages[0] != "heavy.htm" {
		t.Fatalf("failed pages %v, want [heavy.htm]", res.FailedPages)
	}
	if _, ok := res.Validators[srv.URL+"/buki/heavy.htm"]; ok {
		t.Error("the failed page's validator would be remembered")
	}
	if res.Rows != fixtureSiteRows-2 {
		t.Errorf("rows %d, want the other pages' %d", res.Rows, fixtureSiteRows-2)
	}
}

func TestAbsentPages(t *testing.T) {
	site := fixtureSite(t)
	delete(site, "heavy.htm") // linked by the index: a failure
	delete(site, "tachi_t.htm")
	m, srv := newMirror(t, "", site)
	m.fail("tonfa.htm", 500) // never asked: tonfa is not on the index
	f, err := NewHTTPFetcher(srv.URL+"/buki/", fastHTTP(nil))
	if err != nil {
		t.Fatal(err)
	}
	res, _ := scrapeAll(t, f, 4)
	if res.Failures() != 1 || res.FailedPages[0] != "heavy.htm" || res.IssueCounts[IssueFetch] != 1 {
		t.Errorf("failed %v, want [heavy.htm]", res.FailedPages)
	}
	if res.Absent != 16 {
		t.Errorf("absent %d, want 16 (the guesses the site does not have)", res.Absent)
	}
	if m.count("tonfa.htm") != 0 {
		t.Error("a page of a type the index does not list was asked")
	}
}

func TestConcurrencyBound(t *testing.T) {
	for _, workers := range []int{1, 3} {
		m, srv := newMirror(t, "", fixtureSite(t))
		m.delay = 20 * time.Millisecond
		f, err := NewHTTPFetcher(srv.URL+"/buki/", fastHTTP(nil))
		if err != nil {
			t.Fatal(err)
		}
		scrapeAll(t, f, workers)
		if got := m.maxFlight.Load(); got > int64(workers) || (workers > 1 && got < 2) {
			t.Errorf("workers %d: at most %d requests at once", workers, got)
		}
	}
}

func TestRateLimit(t *testing.T) {
	_, srv := newMirror(t, "", fixtureSite(t))
	f, err := NewHTTPFetcher(srv.URL+"/buki/", httpOptions(func(o *HTTPOptions) { o.Rate, o.Burst = 50, 1 }))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for range 11 {
		if _, err := f.Fetch(context.Background(), "tachi.htm"); err != nil {
			t.Fatal(err)
		}
	}
	// 11 requests at 50/s with a burst of 1: at least 10 intervals of 20ms.
	if d := time.Since(start); d < 190*time.Millisecond {
		t.Errorf("11 requests in %v at 50 requests/s", d)
	}
}

func TestNewHTTPFetcherValidates(t *testing.T) {
	for _, base := range []string{"", "ftp://example.com/buki/", "/buki/", "http://"} {
		if _, err := NewHTTPFetcher(base, DefaultHTTPOptions()); err == nil {
			t.Errorf("base URL %q accepted", base)
		}
	}
	if _, err := NewHTTPFetcher("http://x/buki/", httpOptions(func(o *HTTPOptions) {
		o.BackoffBase, o.BackoffMax = time.Second, time.Millisecond
	})); err == nil {
		t.Error("backoff max below base accepted")
	}
}

// TestRunStopsWhenCancelled: cancelling mid-scrape stops handing out pages, lets those in
// progress finish, and returns the context's error with what was read so far.
func TestRunStopsWhenCancelled(t *testing.T) {
	m, srv := newMirror(t, "", fixtureSite(t))
	m.delay = 20 * time.Millisecond
	f, err := NewHTTPFetcher(srv.URL+"/buki/", fastHTTP(nil))
	if err != nil {
		t.Fatal(err)
	}
	s, err := newTestScraper(f, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rows := 0
	res, err := s.Scrape(ctx, func(*codecs.RawRecord) error {
		rows++
		cancel()
		return nil
	})
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if res.Rows != rows || rows == 0 || rows == fixtureSiteRows {
		t.Errorf("rows %d (counted %d): want the first page's only", res.Rows, rows)
	}
}

// TestRunStopsOnCallbackError: an error from the callback (Kafka refusing records) stops the
// scrape and is returned, naming the page and row.
func TestRunStopsOnCallbackError(t *testing.T) {
	_, srv := newMirror(t, "", fixtureSite(t))
	f, err := NewHTTPFetcher(srv.URL+"/buki/", fastHTTP(nil))
	if err != nil {
		t.Fatal(err)
	}
	s, err := newTestScraper(f, 2)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("broker down")
	_, err = s.Scrape(context.Background(), func(*codecs.RawRecord) error { return boom })
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), ".htm row 0") {
		t.Fatalf("error %v, want the callback's, naming page and row", err)
	}
}

// newTestScraper is a scraper reading through f with workers, for Scrape.
func newTestScraper(f Fetcher, workers int) (*Scraper, error) {
	cfg := DefaultConfig()
	cfg.Workers, cfg.Logger, cfg.DryRun = workers, quietLog(), io.Discard
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	s.fetcher = f
	return s, nil
}

// unlimitedHTTP are the default HTTP options without a rate limit (the test servers are local).
func unlimitedHTTP() HTTPOptions {
	o := DefaultHTTPOptions()
	o.Rate = 0
	return o
}

// httpOptions are the default HTTP options, quiet, changed by set.
func httpOptions(set func(o *HTTPOptions)) HTTPOptions {
	o := DefaultHTTPOptions()
	o.Log = quietLog()
	set(&o)
	return o
}
