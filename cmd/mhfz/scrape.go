package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
	"github.com/mhfz/mhfz-pipeline/scraper"
)

// scrapeFlags are the flags of `mhfz scrape`.
type scrapeFlags struct {
	kafka       kafkaFlags
	source      string
	baseURL     string
	dryRun      bool
	every       time.Duration
	concurrency int
	rate        float64
	retries     int
	timeout     time.Duration
	userAgent   string
	stateFile   string
	inFlight    int
	setupWithin time.Duration
	observe     observeFlags
}

func (f *scrapeFlags) register(fs *flagSet) {
	f.kafka.register(fs)
	fs.stringVar(&f.source, "source", "MHFZ_SCRAPE_SOURCE", "",
		"read the pages from this local copy of the site's buki/ folder instead of over HTTP")
	fs.stringVar(&f.baseURL, "base-url", "MHFZ_SCRAPE_BASE_URL", scraper.DefaultBaseURL,
		"the site's buki/ folder over HTTP(S): the live site or a mirror")
	fs.boolVar(&f.dryRun, "dry-run", "MHFZ_SCRAPE_DRY_RUN", false,
		"write the records as JSON lines to standard output instead of emitting them to Kafka")
	fs.durationVar(&f.every, "every", "MHFZ_SCRAPE_EVERY", 0,
		"scrape again this long after each scrape, until stopped (0: scrape once and exit)")
	fs.intVar(&f.concurrency, "concurrency", "MHFZ_SCRAPE_CONCURRENCY", 4, "pages fetched and parsed at once")
	fs.floatVar(&f.rate, "rate", "MHFZ_SCRAPE_RATE", 10, "HTTP requests per second at most (negative: no limit)")
	fs.intVar(&f.retries, "retries", "MHFZ_SCRAPE_RETRIES", 4,
		"further attempts of a page after a network error, 429 or 5xx (with exponential backoff)")
	fs.durationVar(&f.timeout, "timeout", "MHFZ_SCRAPE_TIMEOUT", 60*time.Second, "timeout of one HTTP request")
	fs.stringVar(&f.userAgent, "user-agent", "MHFZ_SCRAPE_USER_AGENT", scraper.DefaultUserAgent,
		"the User-Agent of the HTTP requests")
	fs.stringVar(&f.stateFile, "state", "MHFZ_SCRAPE_STATE", "",
		"file remembering the pages' ETag/Last-Modified between runs, so that unchanged pages are not downloaded again")
	fs.intVar(&f.inFlight, "in-flight", "MHFZ_SCRAPE_IN_FLIGHT", 10000,
		"records sent to Kafka but not yet acknowledged, at most")
	registerSetupTimeout(fs, &f.setupWithin)
	f.observe.register(fs)
}

func runScrape(ctx context.Context, args []string, env runEnv) error {
	stdout, log := env.stdout, env.log
	var f scrapeFlags
	fs := newFlagSet("scrape", "scrape [flags]", stdout)
	f.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if f.every < 0 || f.setupWithin < 0 || f.inFlight < 1 || f.concurrency < 1 {
		return usageError{"scrape: --every and --setup-timeout must not be negative, --in-flight and --concurrency must be positive"}
	}
	o, obs, stopServing, err := observeScrape(f, env)
	if err != nil {
		return err
	}
	defer stopServing()
	state, err := scraper.LoadState(f.stateFile, log)
	if err != nil {
		return err
	}
	fetcher, err := newFetcher(ctx, f, state, o.stats, log)
	if err != nil {
		return usageError{"scrape: " + err.Error()}
	}
	s, err := scraper.New(fetcher, scraper.Options{Workers: f.concurrency, Log: log, Stats: o.stats, Watch: o.watch})
	if err != nil {
		return err
	}
	out, err := newRecordSink(ctx, f, env)
	if err != nil {
		return err
	}
	defer func() {
		if err := out.close(); err != nil {
			log.Error("close", "err", err)
		}
	}()
	if obs != nil {
		stopProbe, err := o.register(obs, out.emitter, f.kafka.brokers)
		if err != nil {
			return err
		}
		defer stopProbe()
	}
	for {
		err := scrapeOnce(ctx, s, out, state, o, log, f.where())
		if f.every == 0 || ctx.Err() != nil {
			if ctx.Err() != nil {
				log.Info("scrape stopped", "reason", ctx.Err())
				return nil
			}
			return err
		}
		if err != nil {
			log.Error("scrape failed; trying again at the next round", "err", err, "next_in", f.every)
		}
		select {
		case <-ctx.Done():
			log.Info("scrape stopped", "reason", ctx.Err())
			return nil
		case <-time.After(f.every):
		}
	}
}

// where names what is scraped, for the errors.
func (f scrapeFlags) where() string {
	if f.source != "" {
		return "--source " + f.source
	}
	return "--base-url " + f.baseURL
}

func newFetcher(ctx context.Context, f scrapeFlags, state *scraper.State, stats *scraper.Stats, log *slog.Logger) (scraper.Fetcher, error) {
	if f.source != "" {
		return newDirFetcher(ctx, f.source)
	}
	return scraper.NewHTTPFetcher(f.baseURL, scraper.HTTPOptions{
		UserAgent: f.userAgent, Timeout: f.timeout, Retries: f.retries, Rate: f.rate,
		Burst: f.concurrency, State: state, Log: log, Stats: stats,
	})
}

// observeScrape serves the scraper's metrics and health on --http-addr (obs nil without it) and
// makes the counters and the watchdog of its scrapes.
func observeScrape(f scrapeFlags, env runEnv) (o scrapeObservation, obs *observe.Service, stop func(), err error) {
	if err := f.observe.check("scrape"); err != nil {
		return o, nil, nil, err
	}
	obs, stop, err = f.observe.start(env)
	if err != nil {
		return o, nil, nil, err
	}
	o.stats = scraper.NewStats()
	o.stats.Period = f.every
	if obs != nil {
		if o.watch, err = observe.NewWatchdog(f.observe.stall); err != nil {
			stop()
			return o, nil, nil, err
		}
		obs.Health.Live("scraper loop", o.watch.Check)
	}
	return o, obs, stop, nil
}

// scrapeObservation is what the scraper shows of itself: its counters (metrics) and the
// watchdog of its pages and of the records waiting for Kafka (/healthz).
type scrapeObservation struct {
	stats *scraper.Stats
	watch *observe.Watchdog
}

// register registers the scraper's metrics, and a readiness check that Kafka answers (probed
// every observe.DefaultLagEvery until the returned function is called); a dry run (em nil) has no Kafka.
func (o scrapeObservation) register(obs *observe.Service, em *scraper.Emitter, brokers []string) (stop func(), err error) {
	if err := o.stats.Register(obs.Registry, em); err != nil {
		return nil, fmt.Errorf("scrape: register metrics: %w", err)
	}
	if em == nil {
		return func() {}, nil
	}
	probe := observe.NewProbe("Kafka", 3*observe.DefaultLagEvery)
	obs.Health.Ready("scraper kafka", probe.Check)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		cfg := kafka.Config("mhfz-scraper-probe")
		for {
			pctx, pcancel := context.WithTimeout(ctx, observe.DefaultLagEvery)
			probe.Report(kafka.Ping(pctx, brokers, cfg))
			pcancel()
			select {
			case <-ctx.Done():
				return
			case <-time.After(observe.DefaultLagEvery):
			}
		}
	}()
	return func() { cancel(); <-done }, nil
}

// newDirFetcher reads a local copy of the site's buki/ folder. A folder with neither the index
// (buki.htm) nor a weapon page is the wrong folder, most often the one above buki/: said at
// once, rather than a scrape of nothing that succeeds.
func newDirFetcher(ctx context.Context, dir string) (*scraper.DirFetcher, error) {
	d, err := scraper.NewDirFetcher(dir)
	if err != nil {
		return nil, fmt.Errorf("--source: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "buki.htm")); err == nil {
		return d, nil
	}
	pages, err := d.WeaponPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("--source %s: %w", dir, err)
	}
	if len(pages) > 0 {
		return d, nil
	}
	hint := ""
	if _, err := os.Stat(filepath.Join(dir, "buki", "buki.htm")); err == nil {
		hint = fmt.Sprintf(" (%s has it: give that folder)", filepath.Join(dir, "buki"))
	}
	return nil, fmt.Errorf("--source %s: no buki.htm (the site's index of weapon pages) and no weapon page "+
		"(tachi.htm, taiken_g.htm, …) in this folder: give a copy of the site's buki/ folder%s", dir, hint)
}

// scrapeOnce runs one scrape, makes sure its records are out, and only then remembers the
// pages' validators. A scrape that found no weapon page at all is a failure: the source is
// not the site's buki/ folder.
func scrapeOnce(ctx context.Context, s *scraper.Scraper, out *recordSink, state *scraper.State, o scrapeObservation,
	log *slog.Logger, where string) error {
	res, runErr := s.Run(ctx, out.emit)
	waiting := o.watch.Start("records waiting for Kafka's acknowledgement")
	flushErr := out.flush()
	waiting()
	err := scrapeError(res, runErr, flushErr, where)
	if ctx.Err() == nil {
		o.stats.Finished(res, err, time.Now())
	}
	if flushErr == nil && (runErr == nil || ctx.Err() != nil) {
		if err := res.Commit(state); err != nil {
			log.Error("save state", "err", err)
		}
	}
	log.Info("scrape summary", "pages", res.Pages, "rows_emitted", out.emitted(res.Rows),
		"unchanged_pages", res.Unchanged, "absent_pages", res.Absent, "disallowed_pages", res.Disallowed,
		"failures", res.Failures(),
		"duplicates", res.Duplicates, "issues", res.IssueLine(), "mb", fmt.Sprintf("%.1f", float64(res.Bytes)/1e6),
		"duration", res.Duration.Round(time.Millisecond))
	return err
}

// scrapeError is why a scrape failed, or nil.
func scrapeError(res scraper.Result, runErr, flushErr error, where string) error {
	switch {
	case runErr != nil:
		return errors.Join(runErr, flushErr)
	case flushErr != nil:
		return flushErr
	case res.Failures() > 0:
		return fmt.Errorf("scrape: %d pages failed: %v", res.Failures(), res.FailedPages)
	case res.Pages == 0 && res.Unchanged == 0:
		return fmt.Errorf("scrape: %s: no weapon page found (an index buki.htm linking to pages such as tachi.htm was expected)", where)
	}
	return nil
}

// recordSink is where the records go: Kafka, or JSON lines on standard output (--dry-run).
type recordSink struct {
	emitter *scraper.Emitter
	before  int64 // acknowledged before this round
	w       *bufio.Writer
	enc     *json.Encoder
}

func newRecordSink(ctx context.Context, f scrapeFlags, env runEnv) (*recordSink, error) {
	if f.dryRun {
		w := bufio.NewWriterSize(env.stdout, 1<<20)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return &recordSink{w: w, enc: enc}, nil
	}
	topic := f.kafka.names().WeaponData()
	cfg := kafka.Config("mhfz-scraper")
	if err := waitForKafka(ctx, env, f.kafka.brokers, cfg, f.setupWithin); err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	setupCtx, cancel := setupContext(ctx, f.setupWithin)
	defer cancel()
	err := kafka.EnsureTopics(setupCtx, f.kafka.brokers, cfg, []kafka.TopicSpec{{
		Name: string(topic), Partitions: int32(f.kafka.partitions), Replication: int16(f.kafka.replication),
		Configs: kafka.Retained()}})
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	em, err := scraper.NewEmitter(f.kafka.brokers, topic, cfg, scraper.EmitterOptions{MaxInFlight: f.inFlight, Log: env.log})
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	env.log.Info("emitting", "topic", topic, "brokers", f.kafka.brokers)
	return &recordSink{emitter: em}, nil
}

func (o *recordSink) emit(r *codecs.RawRecord) error {
	if o.emitter != nil {
		return o.emitter.Emit(r)
	}
	return o.enc.Encode(r)
}

// flush waits for the records of this round to be acknowledged (or written).
func (o *recordSink) flush() error {
	if o.emitter != nil {
		return o.emitter.Flush()
	}
	return o.w.Flush()
}

// emitted is the number of records of this round that made it: acknowledged by Kafka, or
// written out.
func (o *recordSink) emitted(rows int) int64 {
	if o.emitter == nil {
		return int64(rows)
	}
	n := o.emitter.Acked() - o.before
	o.before = o.emitter.Acked()
	return n
}

func (o *recordSink) close() error {
	if o.emitter != nil {
		return o.emitter.Close()
	}
	return o.w.Flush()
}
