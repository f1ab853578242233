package scraper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
)

// Scraper reads every weapon page of the site and turns each weapon row into a raw record:
// Run scrapes (once, or every Config.Every) and emits the records to Kafka (or writes them
// out, a dry run); Scrape is one scrape, the records handed to a function.
type Scraper struct {
	cfg     Config
	log     *slog.Logger
	fetcher Fetcher // made by open
	state   *State  // the validators of the pages (HTTP with a StateFile), loaded by open
	stats   *Stats
	watch   *observe.Watchdog // nil without Config.Health
	probe   *observe.Probe    // Kafka's, for /readyz; nil without Config.Health or with DryRun
	emitter atomic.Pointer[Emitter]
}

// New checks the configuration and returns a scraper. It does no I/O: it registers the
// scraper's metrics on cfg.Registry and its checks on cfg.Health (if set); Run does the rest.
func New(cfg Config) (*Scraper, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("scraper config: %w", err)
	}
	s := &Scraper{cfg: cfg, log: cfg.Logger, stats: NewStats()}
	s.stats.Period = cfg.Every
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(s.stats.collector(s.emitter.Load)); err != nil {
			return nil, fmt.Errorf("scraper: register metrics: %w", err)
		}
	}
	if cfg.Health != nil {
		watch, err := observe.NewWatchdog(cfg.StallTimeout)
		if err != nil {
			return nil, fmt.Errorf("scraper config: StallTimeout: %w", err)
		}
		s.watch = watch
		cfg.Health.Live("scraper loop", watch.Check)
		if cfg.DryRun == nil {
			s.probe = observe.NewProbe("Kafka", 3*cfg.ProbeEvery)
			cfg.Health.Ready("scraper kafka", s.probe.Check)
		}
	}
	return s, nil
}

// Result is the outcome of one scrape.
type Result struct {
	Summary
	Duration time.Duration
	// Validators are, per URL, the versions of the pages read without a fatal issue: remember
	// them in the State once their records are safely emitted, and not before.
	Validators map[string]Validator
}

type job struct {
	name   string
	linked bool // named by an index: its absence is a failure
}

type jobDone struct {
	job  job
	page Page
	res  PageResult
	err  error // fetch failure after retries (the page fails) ...
	stop error // ... or fn's error: the scrape stops
}

// Scrape scrapes once, without Kafka and without saving the state (Run does both). fn is
// called for every record, from one goroutine at a time; an error from fn stops the scrape and
// is returned. A failed page does not stop it: it is counted in the summary. When ctx ends,
// Scrape stops fetching, lets the pages in progress finish, and returns ctx's error with the
// summary so far. One Scrape at a time: they share the fetcher and its politeness.
func (s *Scraper) Scrape(ctx context.Context, fn func(*codecs.RawRecord) error) (Result, error) {
	start := time.Now()
	res := Result{Validators: map[string]Validator{}}
	if err := s.open(ctx); err != nil {
		return res, err
	}
	queue, seen, err := s.plan(ctx, &res)
	if err != nil {
		return res, err
	}
	jobs, results, wait := s.startWorkers(ctx, fn)
	done, stopErr := s.dispatch(ctx, queue, seen, jobs, results, &res)
	close(jobs)
	wait()
	res.Duration = time.Since(start)
	if stopErr != nil {
		return res, stopErr
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("scrape interrupted after %d pages: %w", done, err)
	}
	return res, nil
}

// plan reads robots.txt (if the fetcher has one) and the index, and returns the pages to fetch,
// linked ones first, and the set of the pages queued.
func (s *Scraper) plan(ctx context.Context, res *Result) ([]job, map[string]bool, error) {
	if p, ok := s.fetcher.(Preparer); ok {
		if err := p.Prepare(ctx); err != nil {
			return nil, nil, fmt.Errorf("scrape: %w", err)
		}
	}
	plan, err := Discover(ctx, s.fetcher)
	if err != nil {
		return nil, nil, err
	}
	for _, name := range plan.Disallowed {
		res.Disallowed++
		s.log.Warn("index page disallowed by robots.txt: not fetched", "page", name)
	}
	queue := make([]job, 0, len(plan.Linked)+len(plan.Guessed))
	seen := map[string]bool{}
	for _, name := range plan.Linked {
		queue, seen[name] = append(queue, job{name, true}), true
	}
	for _, name := range plan.Guessed {
		queue, seen[name] = append(queue, job{name, false}), true
	}
	s.log.Info("scrape planned", "linked_pages", len(plan.Linked), "guessed_pages", len(plan.Guessed),
		"disallowed_index_pages", len(plan.Disallowed))
	return queue, seen, nil
}

// startWorkers starts the page workers; fn is called by one of them at a time. wait waits for
// them once jobs is closed.
func (s *Scraper) startWorkers(ctx context.Context, fn func(*codecs.RawRecord) error) (jobs chan job, results chan jobDone, wait func()) {
	jobs, results = make(chan job), make(chan jobDone)
	var emitMu sync.Mutex
	safeFn := func(r *codecs.RawRecord) error {
		emitMu.Lock()
		defer emitMu.Unlock()
		return fn(r)
	}
	var wg sync.WaitGroup
	now := time.Now().UTC()
	for range s.cfg.Workers {
		wg.Go(func() {
			for j := range jobs {
				results <- s.scrapePage(ctx, j, now, safeFn)
			}
		})
	}
	return jobs, results, wg.Wait
}

// dispatch hands the queued pages to the workers, queues the pages they find linked, and
// accounts for each page done, until the queue is empty and no page is in progress (or a page
// stops the scrape, or ctx ends: then the pages in progress are waited for). It returns how many
// pages were done and what stopped the scrape.
func (s *Scraper) dispatch(ctx context.Context, queue []job, seen map[string]bool, jobs chan<- job,
	results <-chan jobDone, res *Result) (int, error) {
	d := &dispatching{queue: queue, seen: seen}
	var tick <-chan time.Time
	if s.cfg.ProgressEvery > 0 {
		ticker := time.NewTicker(s.cfg.ProgressEvery)
		defer ticker.Stop()
		tick = ticker.C
	}
	cancelled := ctx.Done()
	for d.canSend(ctx) || d.inflight > 0 {
		var send chan<- job
		var next job
		if d.canSend(ctx) {
			send, next = jobs, d.queue[0]
		}
		select {
		case send <- next:
			d.queue = d.queue[1:]
			d.inflight++
		case r := <-results:
			s.finish(d, r, res)
		case <-tick:
			s.progress(d.done, d.total(), res)
		case <-cancelled:
			// Stop handing out pages; the loop waits for those in progress.
			cancelled = nil
		}
	}
	return d.done, d.stopErr
}

// dispatching is where dispatch stands: the pages queued, seen, in progress and done, and what
// stopped the scrape.
type dispatching struct {
	queue          []job
	seen           map[string]bool
	inflight, done int
	stopErr        error
}

// canSend reports whether a page is to be handed out.
func (d *dispatching) canSend(ctx context.Context) bool {
	return len(d.queue) > 0 && d.stopErr == nil && ctx.Err() == nil
}

func (d *dispatching) total() int { return d.done + d.inflight + len(d.queue) }

// finish accounts for a page done and queues the pages it links to.
func (s *Scraper) finish(d *dispatching, r jobDone, res *Result) {
	d.inflight--
	d.done++
	if r.stop != nil && d.stopErr == nil {
		d.stopErr = r.stop
	}
	s.account(res, r)
	for _, name := range r.res.Links {
		if !d.seen[name] {
			d.seen[name] = true
			d.queue = append(d.queue, job{name, false})
		}
	}
	if d.done%20 == 0 {
		s.progress(d.done, d.total(), res)
	}
}

func (s *Scraper) progress(done, total int, res *Result) {
	s.log.Info("scrape progress", "pages_done", done, "pages_total", total, "rows", res.Rows,
		"mb", fmt.Sprintf("%.1f", float64(res.Bytes)/1e6))
}

func (s *Scraper) scrapePage(ctx context.Context, j job, now time.Time, fn func(*codecs.RawRecord) error) jobDone {
	defer s.watch.Start("page " + j.name)()
	d := jobDone{job: j}
	d.page, d.err = s.fetcher.Fetch(ctx, j.name)
	if d.err != nil || d.page.Status != Fetched {
		return d
	}
	d.res, d.stop = ParsePage(PageInfo{Name: j.name, URL: d.page.URL, ScrapedAt: now}, d.page.Body, fn)
	d.page.Body = nil // let it go: the records have it
	return d
}

// account adds one page's outcome to the result and logs what is worth telling.
func (s *Scraper) account(res *Result, d jobDone) {
	log := s.log.With("page", d.job.name)
	if s.notRead(log, res, d) {
		return
	}
	switch {
	case d.err != nil:
		d.res = fetchFailure(d.job.name, d.err.Error())
	case d.page.Status == Absent:
		d.res = fetchFailure(d.job.name, fmt.Sprintf("the index links to %s but the site does not have it (404)", d.page.URL))
	}
	res.Add(d.res)
	s.stats.pageRead(d.res)
	if d.res.Failed() {
		for _, i := range d.res.Issues {
			if i.Kind.Fatal() {
				log.Error("page failed", "issue", i.Kind, "detail", i.Detail)
			}
		}
	} else if d.stop == nil && !d.page.Validator.Empty() {
		res.Validators[d.page.URL] = d.page.Validator
	}
	logIssues(log, d.res)
	if d.res.Rows == 0 && !d.res.Failed() {
		log.Info("page has no weapon rows", "layout", d.res.Layout)
	}
	log.Debug("page read", "rows", d.res.Rows, "bytes", d.res.Bytes, "issues", len(d.res.Issues))
}

// notRead accounts for a page that was not read and is no failure (interrupted, disallowed,
// unchanged, or a guessed page that does not exist), and reports whether it was one.
func (s *Scraper) notRead(log *slog.Logger, res *Result, d jobDone) bool {
	switch {
	case d.err != nil && errors.Is(d.err, context.Canceled):
		log.Warn("page not read: scrape interrupted")
	case d.err != nil:
		return false
	case d.page.Status == Disallowed:
		s.stats.page(outcomeDisallowed)
		res.Disallowed++
		log.Info("page disallowed by robots.txt: not fetched", "url", d.page.URL)
	case d.page.Status == Unchanged:
		s.stats.page(outcomeNotModified)
		res.Unchanged++
		log.Debug("page unchanged since the last run")
	case d.page.Status == Absent && !d.job.linked:
		s.stats.page(outcomeAbsent)
		res.Absent++
		log.Debug("guessed page absent")
	default:
		return false
	}
	return true
}

// fetchFailure is the result of a page that could not be fetched.
func fetchFailure(page, detail string) PageResult {
	return PageResult{Page: page, Issues: []Issue{{Kind: IssueFetch, Page: page, RowIndex: -1, Detail: detail}}}
}

// logIssues tells each non-fatal issue at debug level and sums them up per page at warn level,
// so that the hundreds of short rows of the real tower pages do not drown the log.
func logIssues(log *slog.Logger, r PageResult) {
	counts := map[IssueKind]int{}
	var first *Issue
	for i := range r.Issues {
		is := &r.Issues[i]
		if is.Kind.Fatal() {
			continue
		}
		counts[is.Kind]++
		if first == nil {
			first = is
		}
		log.Debug("page issue", "issue", is.Kind, "row", is.RowIndex, "row_id", is.RowID, "detail", is.Detail)
	}
	if first == nil {
		return
	}
	args := []any{"first", first.String()}
	for k, n := range counts {
		args = append(args, string(k), n)
	}
	log.Warn("page issues (details at debug level)", args...)
}

// Commit remembers the validators of the scrape's pages in the state and saves it. Call it
// only once the records are safely emitted: a page whose records were lost must be downloaded
// again next time.
func (r Result) Commit(state *State) error {
	for url, v := range r.Validators {
		state.Remember(url, v)
	}
	return state.Save()
}
