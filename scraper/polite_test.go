package scraper

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// TestSharedPauseAfter429: after one page gets a 429 with Retry-After, the other workers' next
// requests wait for it too, not only the retry of that page.
func TestSharedPauseAfter429(t *testing.T) {
	m, srv := newMirror(t, "", fixtureSite(t))
	m.retryAfter = "1"
	m.fail("tachi.htm", http.StatusTooManyRequests)
	logs, log := newLogBuffer()
	opts := fastHTTP(nil)
	opts.Log = log
	f, err := NewHTTPFetcher(srv.URL+"/buki/", opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := f.Fetch(ctx, "tachi.htm"); err != nil {
			t.Errorf("tachi.htm: %v", err)
		}
	})
	logs.waitLines(t, regexp.MustCompile(`msg="the site asks us to slow down.*tachi\.htm.*status=429 pause=1s`), 1, time.Minute)
	// The 429 is in: two other workers ask for other pages now.
	for _, name := range []string{"heavy.htm", "tachi_g.htm"} {
		wg.Go(func() {
			if _, err := f.Fetch(ctx, name); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		})
	}
	wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	refused := m.times["tachi.htm"][0]
	for _, name := range []string{"tachi.htm", "heavy.htm", "tachi_g.htm"} {
		times := m.times[name]
		last := times[len(times)-1]
		if gap := last.Sub(refused); gap < time.Second {
			t.Errorf("%s asked %v after the 429 with Retry-After: 1; want at least 1s", name, gap)
		}
	}
	if n := len(m.times["tachi.htm"]); n != 2 {
		t.Errorf("tachi.htm asked %d times, want 2", n)
	}
}

// TestRateHalvedBy429: every 429 halves the shared request rate (down to a floor) for the rest
// of the scrape; the next scrape starts at the configured rate again.
func TestRateHalvedBy429(t *testing.T) {
	m, srv := newMirror(t, "", fixtureSite(t))
	m.fail("tachi.htm", http.StatusTooManyRequests, http.StatusTooManyRequests)
	f, err := NewHTTPFetcher(srv.URL+"/buki/", httpOptions(func(o *HTTPOptions) {
		o.Rate, o.BackoffBase, o.BackoffMax = 40, time.Millisecond, 10*time.Millisecond
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fetch(context.Background(), "tachi.htm"); err != nil {
		t.Fatal(err)
	}
	if got := f.limiter.Limit(); got != 10 {
		t.Errorf("rate after two 429s: %v, want 10 (40 halved twice)", got)
	}
	f.slowDown("http://x/", http.StatusServiceUnavailable, 0)
	if got := f.limiter.Limit(); got != 10 {
		t.Errorf("rate after a 503: %v; a 503 pauses but does not halve", got)
	}
	for range 10 {
		f.slowDown("http://x/", http.StatusTooManyRequests, 0)
	}
	if got := f.limiter.Limit(); got != minSlowRate {
		t.Errorf("rate after many 429s: %v, want the floor %v", got, minSlowRate)
	}
	if err := f.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.limiter.Limit(); got != 40 {
		t.Errorf("rate at the next scrape: %v, want 40", got)
	}
}

// TestRetryAfterCapped: a Retry-After beyond maxRetryAfter (in seconds or as a date) is cut to
// it, and said.
func TestRetryAfterCapped(t *testing.T) {
	for _, retryAfter := range []string{"3600", time.Now().Add(2 * time.Hour).UTC().Format(http.TimeFormat)} {
		t.Run(retryAfter, func(t *testing.T) {
			m, srv := newMirror(t, "", fixtureSite(t))
			m.retryAfter = retryAfter
			m.fail("tachi.htm", http.StatusTooManyRequests)
			logs, log := newLogBuffer()
			opts := fastHTTP(nil)
			opts.Log = log
			f, err := NewHTTPFetcher(srv.URL+"/buki/", opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := f.Fetch(ctx, "tachi.htm")
				done <- err
			}()
			logs.waitLines(t, regexp.MustCompile(`msg="Retry-After longer than we wait: capped".*tachi\.htm.* cap=5m0s`), 1, time.Minute)
			logs.waitLines(t, regexp.MustCompile(`msg="the site asks us to slow down.* pause=5m0s`), 1, time.Minute)
			if d := f.pausedFor(); d <= maxRetryAfter-time.Minute || d > maxRetryAfter {
				t.Errorf("every worker pauses %v, want about %v", d, maxRetryAfter)
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled during the pause: %v", err)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 10, 22, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"-5", 0},
		{"99999999999999999999", 0}, // does not parse as a number, nor as a date
		{"9999999999", 24 * time.Hour},
		{"Wed, 22 Oct 2025 12:01:30 GMT", 90 * time.Second},
		{"Wed, 22 Oct 2025 11:00:00 GMT", 0}, // in the past
		{"soon", 0},
	} {
		if got := parseRetryAfter(tc.header, now); got != tc.want {
			t.Errorf("Retry-After %q: %v, want %v", tc.header, got, tc.want)
		}
	}
}

// scrapeResult runs one scrape and returns its result and error.
func scrapeResult(t *testing.T, f Fetcher) (Result, error) {
	t.Helper()
	s, err := newTestScraper(f, 3)
	if err != nil {
		t.Fatal(err)
	}
	return s.Scrape(context.Background(), func(*codecs.RawRecord) error { return nil })
}

// TestRobotsTxt: robots.txt is read once per scrape from the host's root and obeyed for our
// User-Agent; a disallowed page is counted, never asked.
func TestRobotsTxt(t *testing.T) {
	const ours = "User-agent: mhfz-pipeline-scraper\n"
	tests := []struct {
		name       string
		robots     string // "": 404
		failures   []int  // of the first requests of robots.txt
		asked      int    // requests of robots.txt: 1 when 0
		wantErr    string
		disallowed int
		rows       int
		notAsked   string // no page whose name starts with this is requested
	}{
		{name: "no robots.txt", rows: fixtureSiteRows},
		{name: "robots.txt forbidden (403)", failures: []int{403}, rows: fixtureSiteRows},
		{name: "robots.txt gone (410)", failures: []int{410}, rows: fixtureSiteRows},
		{name: "another agent's rules", robots: "User-agent: otherbot\nDisallow: /\n", rows: fixtureSiteRows},
		{name: "our group: the long swords", robots: "User-agent: *\nAllow: /\n\n" + ours + "Disallow: /buki/tachi\n",
			disallowed: 7, rows: fixtureSiteRows - 11, notAsked: "tachi"},
		{name: "longest match wins", robots: "User-agent: *\nDisallow: /\n\n" + ours +
			"Disallow: /buki/\nAllow: /buki/buki\nAllow: /buki/heavy.htm\n",
			disallowed: 20, rows: 2, notAsked: "taiken"}, // of the 21 pages planned, heavy.htm only
		{name: "everything disallowed", robots: "User-agent: *\nDisallow: /\n", notAsked: "t",
			wantErr: "robots.txt disallows [buki.htm buki_partnya.htm]"},
		{name: "503 then none", failures: []int{503}, asked: 2, rows: fixtureSiteRows},
		{name: "429 then rules", robots: ours + "Disallow: /buki/tachi\n", failures: []int{429}, asked: 2,
			disallowed: 7, rows: fixtureSiteRows - 11, notAsked: "tachi"},
		{name: "unreachable (5xx)", failures: []int{500, 502, 503, 500, 500}, asked: 5, notAsked: "b",
			wantErr: "could not be read; as RFC 9309 asks, nothing is fetched"},
		{name: "network errors", failures: []int{0, 0, 0, 0, 0}, asked: 5, notAsked: "b", wantErr: "could not be read"},
		{name: "does not parse", robots: "Disallow: /buki/\n", notAsked: "b", wantErr: "does not parse"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, srv := newMirror(t, "", fixtureSite(t))
			m.robotsTxt = tc.robots
			m.fail("robots.txt", tc.failures...)
			f, err := NewHTTPFetcher(srv.URL+"/buki/", fastHTTP(nil))
			if err != nil {
				t.Fatal(err)
			}
			res, err := scrapeResult(t, f)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "robots.txt") {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if res.Disallowed != tc.disallowed || res.Rows != tc.rows || res.Failures() != 0 {
				t.Errorf("disallowed %d rows %d failures %v, want %d, %d, none", res.Disallowed, res.Rows,
					res.FailedPages, tc.disallowed, tc.rows)
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			if want := max(tc.asked, 1); m.requests["robots.txt"] != want {
				t.Errorf("robots.txt asked %d times, want %d", m.requests["robots.txt"], want)
			}
			for name, n := range m.requests {
				if tc.notAsked != "" && strings.HasPrefix(name, tc.notAsked) && n > 0 {
					t.Errorf("%s was asked %d times: robots.txt forbids it", name, n)
				}
			}
		})
	}
}

// TestRobotsTxtReadEachScrape: every scrape reads robots.txt again, and obeys the new one.
func TestRobotsTxtReadEachScrape(t *testing.T) {
	m, srv := newMirror(t, "", fixtureSite(t))
	f, err := NewHTTPFetcher(srv.URL+"/buki/", fastHTTP(nil))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := scrapeResult(t, f); err != nil || res.Disallowed != 0 {
		t.Fatalf("first scrape: %v, %d disallowed", err, res.Disallowed)
	}
	m.mu.Lock()
	m.robotsTxt = "User-agent: *\nDisallow: /buki/heavy\n"
	m.mu.Unlock()
	res, err := scrapeResult(t, f)
	if err != nil || res.Disallowed != 7 || m.count("heavy.htm") != 1 || m.count("robots.txt") != 2 {
		t.Errorf("second scrape: %v, %d disallowed, heavy.htm asked %d times, robots.txt %d times; want 7, 1, 2",
			err, res.Disallowed, m.count("heavy.htm"), m.count("robots.txt"))
	}
}

func TestRobotsTxtCrawlDelay(t *testing.T) {
	m, srv := newMirror(t, "", fixtureSite(t))
	m.robotsTxt = "User-agent: *\nCrawl-delay: 0.05\n"
	f, err := NewHTTPFetcher(srv.URL+"/buki/", fastHTTP(nil)) // no rate limit of our own
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.limiter.Limit(); got != rate.Every(50*time.Millisecond) || f.limiter.Burst() != 1 {
		t.Errorf("rate %v burst %d, want 20/s, 1", got, f.limiter.Burst())
	}
}

// TestRobotsTxtFetchWithoutPrepare: a fetcher used without a scrape reads robots.txt on its
// first fetch, once.
func TestRobotsTxtFetchWithoutPrepare(t *testing.T) {
	m, srv := newMirror(t, "", fixtureSite(t))
	m.robotsTxt = "User-agent: *\nDisallow: /buki/heavy.htm\n"
	f, err := NewHTTPFetcher(srv.URL+"/buki/", fastHTTP(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want FetchStatus
	}{{"heavy.htm", Disallowed}, {"tachi.htm", Fetched}, {"heavy.htm", Disallowed}} {
		p, err := f.Fetch(context.Background(), tc.name)
		if err != nil || p.Status != tc.want {
			t.Errorf("%s: %v, %v; want %v", tc.name, p.Status, err, tc.want)
		}
	}
	if m.count("robots.txt") != 1 || m.count("heavy.htm") != 0 {
		t.Errorf("robots.txt asked %d times, heavy.htm %d; want 1, 0", m.count("robots.txt"), m.count("heavy.htm"))
	}
}

func TestProductToken(t *testing.T) {
	for ua, want := range map[string]string{
		DefaultUserAgent:                  "mhfz-pipeline-scraper",
		"MyBot":                           "mybot",
		" Other-Bot/2.1":                  "other-bot",
		"curl (compatible; whatever) 1.0": "curl",
	} {
		if got := productToken(ua); got != want {
			t.Errorf("productToken(%q) = %q, want %q", ua, got, want)
		}
	}
}
