package scraper

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/startup"
)

// Run scrapes, once or every Config.Every until ctx ends, and emits the records to Kafka (it
// waits for the broker first, saying so, creates the topic and probes the broker for /readyz) or
// writes them out (DryRun). After each scrape it logs a summary and, once the records are safely
// out, remembers the pages' validators. With Every, a failed scrape is logged and the next one
// comes as planned. Run returns nil when ctx ends after the start; else the error of the one
// scrape, or the one that kept it from starting.
func (s *Scraper) Run(ctx context.Context) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	out, err := s.output(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err := out.close(); err != nil {
			s.log.Error("close", "err", err)
		}
	}()
	defer s.probeKafka()()
	for {
		err := s.round(ctx, out)
		if ctx.Err() != nil {
			s.log.Info("scrape stopped", "reason", ctx.Err())
			return nil
		}
		if s.cfg.Every == 0 {
			return err
		}
		if err != nil {
			s.log.Error("scrape failed; trying again at the next round", "err", err, "next_in", s.cfg.Every)
		}
		select {
		case <-ctx.Done():
			s.log.Info("scrape stopped", "reason", ctx.Err())
			return nil
		case <-time.After(s.cfg.Every):
		}
	}
}

// Totals are what a scraper did since it started: the summary of a Run.
type Totals struct {
	Scrapes, Failed int64 // scrapes finished, and how many of them failed
	Pages           int64 // weapon pages downloaded and parsed
	Rows            int64 // weapon rows read (one raw record each)
}

// Totals are the scraper's totals so far.
func (s *Scraper) Totals() Totals {
	ok, failed := s.stats.success.Load(), s.stats.failure.Load()
	return Totals{Scrapes: ok + failed, Failed: failed,
		Pages: s.stats.pages[outcomeFetched].Load() + s.stats.pages[outcomeFailed].Load(), Rows: s.stats.rows.Load()}
}

// open makes the fetcher of the configuration (once): a local folder, checked to be the site's
// buki/ folder, or the site over HTTP with the validators of the state file.
func (s *Scraper) open(ctx context.Context) error {
	if s.fetcher != nil {
		return nil
	}
	if s.cfg.Source != "" {
		f, err := openSource(ctx, s.cfg.Source)
		if err != nil {
			return err
		}
		s.fetcher = f
		return nil
	}
	state, err := LoadState(s.cfg.StateFile, s.log)
	if err != nil {
		return err
	}
	f, err := NewHTTPFetcher(s.cfg.BaseURL, s.cfg.httpOptions(state, s.stats))
	if err != nil {
		return fmt.Errorf("scrape: %w", err)
	}
	s.fetcher, s.state = f, state
	return nil
}

// SourceError is a Config.Source that is not a copy of the site's buki/ folder: the caller's
// mistake, which no retry mends.
type SourceError struct {
	Dir string
	msg string
}

func (e *SourceError) Error() string { return e.Dir + ": " + e.msg }

// openSource reads a local copy of the site's buki/ folder. A folder with neither the index
// (buki.htm) nor a weapon page is the wrong folder, most often the one above buki/: said at
// once, rather than a scrape of nothing that succeeds.
func openSource(ctx context.Context, dir string) (*DirFetcher, error) {
	d, err := NewDirFetcher(dir)
	if err != nil {
		return nil, &SourceError{Dir: dir, msg: err.Error()}
	}
	if _, err := os.Stat(filepath.Join(dir, "buki.htm")); err == nil {
		return d, nil
	}
	pages, err := d.WeaponPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if len(pages) > 0 {
		return d, nil
	}
	hint := ""
	if _, err := os.Stat(filepath.Join(dir, "buki", "buki.htm")); err == nil {
		hint = fmt.Sprintf(" (%s has it: give that folder)", filepath.Join(dir, "buki"))
	}
	return nil, &SourceError{Dir: dir, msg: "no buki.htm (the site's index of weapon pages) and no weapon page " +
		"(tachi.htm, taiken_g.htm, …) in this folder: give a copy of the site's buki/ folder" + hint}
}

// round runs one scrape, makes sure its records are out, and only then remembers the pages'
// validators. A scrape that found no weapon page at all is a failure: the source is not the
// site's buki/ folder.
func (s *Scraper) round(ctx context.Context, out *output) error {
	res, runErr := s.Scrape(ctx, out.emit)
	waiting := s.watch.Start("records waiting for Kafka's acknowledgement")
	flushErr := out.flush()
	waiting()
	err := s.scrapeError(res, runErr, flushErr)
	if ctx.Err() == nil {
		s.stats.finished(res, err, time.Now())
	}
	if flushErr == nil && (runErr == nil || ctx.Err() != nil) {
		if err := res.Commit(s.state); err != nil {
			s.log.Error("save state", "err", err)
		}
	}
	s.log.Info("scrape summary", "pages", res.Pages, "rows_emitted", out.emitted(res.Rows),
		"unchanged_pages", res.Unchanged, "absent_pages", res.Absent, "disallowed_pages", res.Disallowed,
		"failures", res.Failures(),
		"duplicates", res.Duplicates, "issues", res.IssueLine(), "mb", fmt.Sprintf("%.1f", float64(res.Bytes)/1e6),
		"duration", res.Duration.Round(time.Millisecond))
	return err
}

// scrapeError is why a scrape failed, or nil.
func (s *Scraper) scrapeError(res Result, runErr, flushErr error) error {
	switch {
	case runErr != nil:
		return errors.Join(runErr, flushErr)
	case flushErr != nil:
		return flushErr
	case res.Failures() > 0:
		return fmt.Errorf("scrape: %d pages failed: %v", res.Failures(), res.FailedPages)
	case res.Pages == 0 && res.Unchanged == 0:
		return fmt.Errorf("scrape: %s: no weapon page found (an index buki.htm linking to pages such as tachi.htm was expected)",
			s.where())
	}
	return nil
}

// where names what is scraped, for the errors.
func (s *Scraper) where() string {
	if s.cfg.Source != "" {
		return "source folder " + s.cfg.Source
	}
	return "base URL " + s.cfg.BaseURL
}

// output is where the records go: Kafka, or JSON lines (DryRun).
type output struct {
	emitter *Emitter
	before  int64 // acknowledged before this round
	w       *bufio.Writer
	enc     *json.Encoder
}

// output waits for Kafka, creates the topic and starts the emitter; or, for a dry run, prepares
// the JSON lines.
func (s *Scraper) output(ctx context.Context) (*output, error) {
	if s.cfg.DryRun != nil {
		w := bufio.NewWriterSize(s.cfg.DryRun, 1<<20)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return &output{w: w, enc: enc}, nil
	}
	cfg := kafka.Config("mhfz-scraper")
	waiter := startup.Waiter{Log: s.log, Every: s.cfg.WaitLogEvery, Timeout: s.cfg.SetupTimeout}
	ping := func(ctx context.Context) error { return kafka.Ping(ctx, s.cfg.Brokers, cfg) }
	if err := waiter.Wait(ctx, kafka.Target(s.cfg.Brokers), ping, kafka.NotReady); err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	setupCtx, cancel := ctx, context.CancelFunc(func() {})
	if s.cfg.SetupTimeout > 0 {
		setupCtx, cancel = context.WithTimeout(ctx, s.cfg.SetupTimeout)
	}
	defer cancel()
	err := kafka.EnsureTopics(setupCtx, s.cfg.Brokers, cfg, []kafka.TopicSpec{{Name: string(s.cfg.Topic),
		Partitions: int32(s.cfg.Partitions), Replication: int16(s.cfg.Replication), Configs: kafka.Retained()}})
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	em, err := NewEmitter(s.cfg.Brokers, s.cfg.Topic, cfg,
		EmitterOptions{MaxInFlight: s.cfg.MaxInFlight, WaitLogEvery: s.cfg.WaitLogEvery, Log: s.log})
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	s.emitter.Store(em)
	s.log.Info("emitting", "topic", s.cfg.Topic, "brokers", s.cfg.Brokers)
	return &output{emitter: em}, nil
}

// probeKafka asks Kafka every ProbeEvery whether it answers, for /readyz, until the returned
// function is called. Without a probe (no Health, or a dry run) it does nothing.
func (s *Scraper) probeKafka() (stop func()) {
	if s.probe == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		cfg := kafka.Config("mhfz-scraper-probe")
		for {
			pctx, pcancel := context.WithTimeout(ctx, s.cfg.ProbeEvery)
			s.probe.Report(kafka.Ping(pctx, s.cfg.Brokers, cfg))
			pcancel()
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.cfg.ProbeEvery):
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

func (o *output) emit(r *codecs.RawRecord) error {
	if o.emitter != nil {
		return o.emitter.Emit(r)
	}
	return o.enc.Encode(r)
}

// flush waits for the records of this round to be acknowledged (or written).
func (o *output) flush() error {
	if o.emitter != nil {
		return o.emitter.Flush()
	}
	return o.w.Flush()
}

// emitted is the number of records of this round that made it: acknowledged by Kafka, or
// written out.
func (o *output) emitted(rows int) int64 {
	if o.emitter == nil {
		return int64(rows)
	}
	n := o.emitter.Acked() - o.before
	o.before = o.emitter.Acked()
	return n
}

func (o *output) close() error {
	if o.emitter != nil {
		return o.emitter.Close()
	}
	return o.w.Flush()
}
