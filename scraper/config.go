package scraper

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
	"github.com/mhfz/mhfz-pipeline/internal/startup"
)

// Config configures a Scraper. Start from DefaultConfig(): New checks every field, and a zero
// never stands for a default (where a zero means "none", the field says so).
type Config struct {
	// Where the pages come from: Source, a local copy of the site's buki/ folder, if set;
	// else BaseURL over HTTP(S).
	Source  string
	BaseURL string

	// Over HTTP only.
	UserAgent string
	Timeout   time.Duration // one request, body included
	Retries   int           // further attempts after a network error, a 429 or a 5xx (0: none)
	Rate      float64       // requests per second at most (0: no limit)
	StateFile string        // remembers the pages' ETag/Last-Modified between runs ("": none)

	Workers int           // pages fetched and parsed at once
	Every   time.Duration // time from the end of a scrape to the start of the next (0: one scrape)

	// Where the records go: DryRun, if set, gets them as JSON lines; else the Kafka topic
	// Topic, created with Partitions and Replication if it does not exist (Partitions 0:
	// kafka.DefaultPartitions, and an existing topic keeps its count; kafka.TopicSpec).
	DryRun       io.Writer
	Brokers      []string
	Topic        codecs.Topic
	Partitions   int
	Replication  int
	MaxInFlight  int           // records sent to Kafka and not yet acknowledged, at most
	SetupTimeout time.Duration // how long Run waits for Kafka at start (0: until its context ends)
	// WaitLogEvery is how often a wait for Kafka (at start, or for acknowledgements) is logged again.
	WaitLogEvery time.Duration

	ProgressEvery time.Duration // how often a scrape's progress is logged (0: every 20 pages only)
	StallTimeout  time.Duration // a page, or records waiting for Kafka, longer than this fail /healthz
	ProbeEvery    time.Duration // how often Kafka is probed for /readyz

	Logger   *slog.Logger
	Registry prometheus.Registerer // the scraper's metrics; nil: none
	Health   *observe.Health       // its liveness (stuck pages) and readiness (Kafka); nil: none
}

// DefaultConfig is the configuration of `mhfz scrape` without flags, but for the brokers (none:
// set them, or DryRun).
func DefaultConfig() Config {
	web, em := DefaultHTTPOptions(), DefaultEmitterOptions()
	return Config{
		BaseURL:       DefaultBaseURL,
		UserAgent:     web.UserAgent,
		Timeout:       web.Timeout,
		Retries:       web.Retries,
		Rate:          web.Rate,
		Workers:       4,
		Topic:         codecs.Names{}.WeaponData(),
		Replication:   kafka.DefaultReplication,
		MaxInFlight:   em.MaxInFlight,
		SetupTimeout:  startup.DefaultTimeout,
		WaitLogEvery:  em.WaitLogEvery,
		ProgressEvery: 5 * time.Second,
		StallTimeout:  observe.DefaultStallTimeout,
		ProbeEvery:    observe.DefaultLagEvery,
		Logger:        slog.Default(),
	}
}

// check says what is wrong with the configuration, naming the field.
func (c Config) check() error {
	var errs []error
	bad := func(field, want string, got any) {
		errs = append(errs, fmt.Errorf("%s %s, got %v", field, want, got))
	}
	if c.Source == "" {
		errs = append(errs, c.checkHTTP()...)
	}
	if c.Workers < 1 {
		bad("Workers", "must be at least 1", c.Workers)
	}
	if c.Every < 0 {
		bad("Every", "must not be negative", c.Every)
	}
	if c.DryRun == nil && len(c.Brokers) == 0 {
		errs = append(errs, errors.New("Brokers: none given (and no DryRun)"))
	}
	if c.Topic == "" {
		errs = append(errs, errors.New("Topic is empty"))
	}
	if c.Partitions < 0 {
		bad("Partitions", "must be at least 0", c.Partitions)
	}
	if c.Replication < 1 {
		bad("Replication", "must be at least 1", c.Replication)
	}
	if c.MaxInFlight < 1 {
		bad("MaxInFlight", "must be at least 1", c.MaxInFlight)
	}
	errs = append(errs, c.checkTimes()...)
	if c.Logger == nil {
		errs = append(errs, errors.New("Logger is nil"))
	}
	return errors.Join(errs...)
}

// checkHTTP checks the fields of a scrape over HTTP.
func (c Config) checkHTTP() []error {
	var errs []error
	if _, err := parseBaseURL(c.BaseURL); err != nil {
		errs = append(errs, fmt.Errorf("BaseURL: %w", err))
	}
	opts := c.httpOptions(nil, nil)
	opts.Burst, opts.Log = 1, slog.Default() // Workers and Logger are checked on their own
	if err := opts.check(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// checkTimes checks the timing knobs.
func (c Config) checkTimes() []error {
	var errs []error
	for _, d := range []struct {
		name   string
		v      time.Duration
		zeroOK bool // zero means none, or no bound
	}{
		{"SetupTimeout", c.SetupTimeout, true}, {"ProgressEvery", c.ProgressEvery, true},
		{"WaitLogEvery", c.WaitLogEvery, false}, {"StallTimeout", c.StallTimeout, false},
		{"ProbeEvery", c.ProbeEvery, false},
	} {
		if d.v < 0 || d.v == 0 && !d.zeroOK {
			errs = append(errs, fmt.Errorf("%s must be positive, got %v", d.name, d.v))
		}
	}
	return errs
}

// parseBaseURL reads the base URL of the site's buki/ folder: http(s), with a host, and as a
// folder (a trailing slash), so that page names resolve inside it.
func parseBaseURL(baseURL string) (*url.URL, error) {
	base, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("base URL %q: %w", baseURL, err)
	}
	if base.Scheme != "http" && base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("base URL %q: want an http:// or https:// URL with a host", baseURL)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	return base, nil
}

// httpOptions are the HTTP fetcher's options of the configuration.
func (c Config) httpOptions(state *State, stats *Stats) HTTPOptions {
	opts := DefaultHTTPOptions()
	opts.UserAgent, opts.Timeout, opts.Retries, opts.Rate = c.UserAgent, c.Timeout, c.Retries, c.Rate
	opts.Burst, opts.State, opts.Log, opts.Stats = c.Workers, state, c.Logger, stats
	return opts
}
