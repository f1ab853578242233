package scraper

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/temoto/robotstxt"
	"golang.org/x/time/rate"
)

// robotsMaxBytes is how much of a robots.txt is read: RFC 9309 asks crawlers to parse at least
// 500 KiB, and what follows is ignored.
const robotsMaxBytes = 500 << 10

// robotsRules is what the site's robots.txt says to our User-Agent, for one scrape.
//
// Reading it follows RFC 9309 (section 2.3.1), as the big crawlers do:
//   - 2xx: its rules apply (the most specific group for our product token; within it, the
//     longest matching Allow/Disallow wins: github.com/temoto/robotstxt);
//   - 4xx but 429 (none, gone, forbidden): no rules, every page is allowed;
//   - 429, 5xx, a network error: retried like a page (backoff, Retry-After, the shared pause);
//     if it still fails, the file is "unreachable" and every page is disallowed for this
//     scrape. Prepare then fails the scrape with that reason, so that it is reported (and with
//     --every, tried again at the next round) instead of passing for a scrape of nothing.
//   - a 2xx whose content does not parse: also disallow-all: the site wrote rules we cannot
//     read, and guessing them could fetch what it forbids.
type robotsRules struct {
	url        string
	agent      string // our product token, the name robots.txt groups are matched against
	data       *robotstxt.RobotsData
	found      bool  // the site has a robots.txt (2xx)
	unreadable error // not nil: every page is disallowed, for this reason
}

// allows reports whether robots.txt lets us fetch u.
func (r *robotsRules) allows(u *url.URL) bool {
	if r.unreadable != nil {
		return false
	}
	return r.data.TestAgent(u.RequestURI(), r.agent)
}

// crawlDelay is the Crawl-delay of our group, if any.
func (r *robotsRules) crawlDelay() time.Duration {
	if r.unreadable != nil || !r.found {
		return 0
	}
	return r.data.FindGroup(r.agent).CrawlDelay
}

// productToken is the name in a User-Agent that robots.txt groups name ("mhfz-pipeline-scraper"
// of "mhfz-pipeline-scraper/1 (+https://…)").
func productToken(userAgent string) string {
	token, _, _ := strings.Cut(strings.TrimSpace(userAgent), "/")
	token, _, _ = strings.Cut(token, " ")
	return strings.ToLower(token)
}

// Prepare starts a scrape: it reads the site's robots.txt again (the site may have changed it
// since the last scrape) and sets the request rate back to the configured one, or to what
// robots.txt's Crawl-delay asks if that is slower (a 429 of the last scrape halved it). An
// unreachable robots.txt is an error: nothing may be fetched in this scrape.
func (h *HTTPFetcher) Prepare(ctx context.Context) error {
	h.robotsMu.Lock()
	defer h.robotsMu.Unlock()
	h.robots = h.readRobots(ctx)
	if err := h.robots.unreadable; err != nil {
		return fmt.Errorf("robots.txt %s could not be read; as RFC 9309 asks, nothing is fetched in this scrape: %w",
			h.robots.url, err)
	}
	return nil
}

// robotsRules returns the rules of this scrape, reading robots.txt if no scrape was prepared.
func (h *HTTPFetcher) robotsRules(ctx context.Context) *robotsRules {
	h.robotsMu.Lock()
	defer h.robotsMu.Unlock()
	if h.robots != nil {
		return h.robots
	}
	rules := h.readRobots(ctx)
	if ctx.Err() != nil { // an interrupted read says nothing about the site: read it again next time
		return rules
	}
	h.robots = rules
	if rules.unreadable != nil {
		h.log.Error("robots.txt could not be read; as RFC 9309 asks, every page is disallowed",
			"robots_txt", rules.url, "err", rules.unreadable)
	}
	return rules
}

// readRobots reads robots.txt from the root of the base URL's host, logs what it says, and
// applies its Crawl-delay (after setting the rate back to the configured one).
func (h *HTTPFetcher) readRobots(ctx context.Context) *robotsRules {
	u := url.URL{Scheme: h.base.Scheme, Host: h.base.Host, Path: "/robots.txt"}
	rules := &robotsRules{url: u.String(), agent: productToken(h.opts.UserAgent)}
	h.limiter.SetLimit(h.limit)
	h.limiter.SetBurst(h.opts.Burst)
	err := h.retry(ctx, rules.url, func() error { return h.getRobots(ctx, rules) })
	log := h.log.With("robots_txt", rules.url, "agent", rules.agent)
	switch {
	case err != nil:
		rules.unreadable = err // reported by the caller
	case !rules.found:
		log.Info("no robots.txt: every page is allowed")
	default:
		base := &url.URL{Path: h.base.Path}
		log.Info("robots.txt read", "base_allowed", rules.data.TestAgent(base.RequestURI(), rules.agent),
			"crawl_delay", rules.crawlDelay())
	}
	if d := rules.crawlDelay(); d > 0 && rate.Every(d) < h.limit {
		h.limiter.SetLimit(rate.Every(d))
		h.limiter.SetBurst(1)
		log.Info("robots.txt asks for a crawl delay: requests slowed down", "crawl_delay", d)
	}
	return rules
}

// getRobots is one attempt at reading robots.txt.
func (h *HTTPFetcher) getRobots(ctx context.Context, rules *robotsRules) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rules.url, nil)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", rules.url, err)
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := h.do(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		body, err := io.ReadAll(io.LimitReader(resp.Body, robotsMaxBytes))
		if err != nil {
			return transient(fmt.Errorf("fetch %s: read body: %w", rules.url, err))
		}
		rules.data, err = robotstxt.FromBytes(body)
		if err != nil {
			return fmt.Errorf("robots.txt %s does not parse: %w", rules.url, err)
		}
		rules.found = true
		return nil
	case code >= 400 && code < 500 && code != http.StatusTooManyRequests:
		drain(resp.Body)
		rules.data, err = robotstxt.FromStatusAndBytes(code, nil) // allows everything
		return err
	}
	drain(resp.Body)
	return h.statusError(rules.url, resp)
}
