package main

import (
	"context"
	"errors"

	"github.com/mhfz/mhfz-pipeline/scraper"
)

// scrapeFlags are the flags of `mhfz scrape`: the scraper's configuration, with its defaults
// from scraper.DefaultConfig.
type scrapeFlags struct {
	cfg     scraper.Config
	kafka   kafkaFlags
	dryRun  bool
	observe observeFlags
}

func (f *scrapeFlags) register(fs *flagSet) {
	f.cfg = scraper.DefaultConfig()
	c, d := &f.cfg, scraper.DefaultConfig()
	f.kafka.register(fs)
	fs.stringVar(&c.Source, "source", "MHFZ_SCRAPE_SOURCE", d.Source,
		"read the pages from this local copy of the site's buki/ folder instead of over HTTP")
	fs.stringVar(&c.BaseURL, "base-url", "MHFZ_SCRAPE_BASE_URL", d.BaseURL,
		"the site's buki/ folder over HTTP(S): the live site or a mirror")
	fs.boolVar(&f.dryRun, "dry-run", "MHFZ_SCRAPE_DRY_RUN", false,
		"write the records as JSON lines to standard output instead of emitting them to Kafka")
	fs.durationVar(&c.Every, "every", "MHFZ_SCRAPE_EVERY", d.Every,
		"scrape again this long after each scrape, until stopped (0: scrape once and exit)")
	fs.intVar(&c.Workers, "concurrency", "MHFZ_SCRAPE_CONCURRENCY", d.Workers, "pages fetched and parsed at once")
	fs.floatVar(&c.Rate, "rate", "MHFZ_SCRAPE_RATE", d.Rate, "HTTP requests per second at most (0: no limit)")
	fs.intVar(&c.Retries, "retries", "MHFZ_SCRAPE_RETRIES", d.Retries,
		"further attempts of a page after a network error, 429 or 5xx (with exponential backoff)")
	fs.durationVar(&c.Timeout, "timeout", "MHFZ_SCRAPE_TIMEOUT", d.Timeout, "timeout of one HTTP request")
	fs.stringVar(&c.UserAgent, "user-agent", "MHFZ_SCRAPE_USER_AGENT", d.UserAgent,
		"the User-Agent of the HTTP requests")
	fs.stringVar(&c.StateFile, "state", "MHFZ_SCRAPE_STATE", d.StateFile,
		"file remembering the pages' ETag/Last-Modified between runs, so that unchanged pages are not downloaded again")
	fs.intVar(&c.MaxInFlight, "in-flight", "MHFZ_SCRAPE_IN_FLIGHT", d.MaxInFlight,
		"records sent to Kafka but not yet acknowledged, at most")
	registerSetupTimeout(fs, &c.SetupTimeout)
	f.observe.register(fs)
}

// config is the scraper's configuration of the flags, logging to env and measured by obs (if
// --http-addr).
func (f *scrapeFlags) config(env runEnv) scraper.Config {
	c := f.cfg
	c.Brokers, c.Topic = f.kafka.brokers, f.kafka.names().WeaponData()
	c.Partitions, c.Replication = f.kafka.partitions, f.kafka.replication
	c.StallTimeout, c.Logger = f.observe.stall, env.log
	if f.dryRun {
		c.DryRun = env.stdout
	}
	if env.waitEvery > 0 {
		c.WaitLogEvery = env.waitEvery
	}
	return c
}

func runScrape(ctx context.Context, args []string, env runEnv) error {
	var f scrapeFlags
	fs := newFlagSet("scrape", "scrape [flags]", env.stdout)
	f.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := f.observe.check("scrape"); err != nil {
		return err
	}
	cfg := f.config(env)
	obs, stopServing, err := f.observe.start(env)
	if err != nil {
		return err
	}
	defer stopServing()
	if obs != nil {
		cfg.Registry, cfg.Health = obs.Registry, obs.Health
	}
	s, err := scraper.New(cfg)
	if err != nil {
		return usageError{"scrape: " + err.Error()}
	}
	if err := s.Run(ctx); err != nil {
		if _, ok := errors.AsType[*scraper.SourceError](err); ok {
			return usageError{"scrape: --source " + err.Error()}
		}
		return err
	}
	t := s.Totals()
	env.log.Info("scraper done", "scrapes", t.Scrapes, "failed_scrapes", t.Failed, "pages", t.Pages, "rows", t.Rows)
	return nil
}
