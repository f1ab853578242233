package scraper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// Options configure a Scraper. Zero values take the defaults shown.
type Options struct {
	Workers       int           // pages fetched and parsed at once: 4
	Log           *slog.Logger  // slog.Default()
	ProgressEvery time.Duration // how often progress is logged: 5s
	Now           func() time.Time
}

// Scraper reads every weapon page a Fetcher can reach and turns each weapon row into a raw
// record.
type Scraper struct {
	fetcher Fetcher
	opts    Options
}

// New checks the options and returns a scraper reading through f.
func New(f Fetcher, opts Options) (*Scraper, error) {
	if f == nil {
		return nil, errors.New("new scraper: nil fetcher")
	}
	if opts.Workers == 0 {
		opts.Workers = 4
	}
	if opts.Workers < 0 {
		return nil, fmt.Errorf("new scraper: workers must be positive, got %d", opts.Workers)
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Scraper{fetcher: f, opts: opts}, nil
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

// Run scrapes once. fn is called for every record, from one goroutine at a time; an error
// from fn stops the scrape and is returned. A failed page does not stop it: it is counted in
// the summary. When ctx ends, Run stops fetching, lets the pages in progress finish, and
// returns ctx's error with the summary so far.
func (s *Scraper) Run(ctx context.Context, fn func(*codecs.RawRecord) error) (Result, error) {
	start := s.opts.Now()
	res := Result{Validators: map[string]Validator{}}
	queue, seen, err := s.plan(ctx, &res)
	if err != nil {
		return res, err
	}
	jobs, results, wait := s.startWorkers(ctx, fn)
	done, stopErr := s.dispatch(ctx, queue, seen, jobs, results, &res)
	close(jobs)
	wait()
	res.Duration = s.opts.Now().Sub(start)
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
		s.opts.Log.Warn("index page disallowed by robots.txt: not fetched", "page", name)
	}
	queue := make([]job, 0, len(plan.Linked)+len(plan.Guessed))
	seen := map[string]bool{}
	for _, name := range plan.Linked {
		queue, seen[name] = append(queue, job{name, true}), true
	}
	for _, name := range plan.Guessed {
		queue, seen[name] = append(queue, job{name, false}), true
	}
	s.opts.Log.Info("scrape planned", "linked_pages", len(plan.Linked), "guessed_pages", len(plan.Guessed),
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
	now := s.opts.Now().UTC()
	for range s.opts.Workers {
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
	var stopErr error
	inflight, done := 0, 0
	ticker := time.NewTicker(s.opts.ProgressEvery)
	defer ticker.Stop()
	cancelled := ctx.Done()
	for (len(queue) > 0 && stopErr == nil && ctx.Err() == nil) || inflight > 0 {
		var send chan<- job
		var next job
		if len(queue) > 0 && stopErr == nil && ctx.Err() == nil {
			send, next = jobs, queue[0]
		}
		select {
		case send <- next:
			queue = queue[1:]
			inflight++
		case d := <-results:
			inflight--
			done++
			if d.stop != nil && stopErr == nil {
				stopErr = d.stop
			}
			s.account(res, d)
			for _, name := range d.res.Links {
				if !seen[name] {
					seen[name] = true
					queue = append(queue, job{name, false})
				}
			}
			if done%20 == 0 {
				s.progress(done, done+inflight+len(queue), res)
			}
		case <-ticker.C:
			s.progress(done, done+inflight+len(queue), res)
		case <-cancelled:
			// Stop handing out pages; the loop waits for those in progress.
			cancelled = nil
		}
	}
	return done, stopErr
}

func (s *Scraper) progress(done, total int, res *Result) {
	s.opts.Log.Info("scrape progress", "pages_done", done, "pages_total", total, "rows", res.Rows,
		"mb", fmt.Sprintf("%.1f", float64(res.Bytes)/1e6))
}

func (s *Scraper) scrapePage(ctx context.Context, j job, now time.Time, fn func(*codecs.RawRecord) error) jobDone {
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
	log := s.opts.Log.With("page", d.job.name)
	switch {
	case d.err != nil && errors.Is(d.err, context.Canceled):
		log.Warn("page not read: scrape interrupted")
		return
	case d.err != nil:
		d.res = PageResult{Page: d.job.name, Issues: []Issue{{Kind: IssueFetch, Page: d.job.name, RowIndex: -1,
			Detail: d.err.Error()}}}
	case d.page.Status == Disallowed:
		res.Disallowed++
		log.Info("page disallowed by robots.txt: not fetched", "url", d.page.URL)
		return
	case d.page.Status == Unchanged:
		res.Unchanged++
		log.Debug("page unchanged since the last run")
		return
	case d.page.Status == Absent && !d.job.linked:
		res.Absent++
		log.Debug("guessed page absent")
		return
	case d.page.Status == Absent:
		d.res = PageResult{Page: d.job.name, Issues: []Issue{{Kind: IssueFetch, Page: d.job.name, RowIndex: -1,
			Detail: fmt.Sprintf("the index links to %s but the site does not have it (404)", d.page.URL)}}}
	}
	res.Add(d.res)
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
