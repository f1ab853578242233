package processors

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
	"github.com/mhfz/mhfz-pipeline/internal/startup"
	"github.com/mhfz/mhfz-pipeline/processors/weaponrow"
)

// DefaultMaxMessageBytes is the largest raw record the router reads: the largest row of the site
// is a few tens of KB, so a megabyte is a message that is not a weapon row.
const DefaultMaxMessageBytes = 1 << 20

// Config configures a Router. Start from DefaultConfig.
type Config struct {
	// Names are the deployment's topic and group names.
	Names codecs.Names
	// Kafka is how the router talks to the brokers. Kafka.Brokers empty is for tests only: goka's
	// tester (goka.WithTester in New's options) stands in for Kafka, and Run neither waits for
	// Kafka nor creates topics nor measures the lag.
	Kafka KafkaSetup
	// MaxMessageBytes: larger inputs go to the dead-letter topic (KindTooLarge).
	MaxMessageBytes int
	// SetupTimeout bounds Run's wait for Kafka and its creation of the topics at start.
	// 0: no bound (until the caller stops it).
	SetupTimeout time.Duration
	// WaitEvery is how often Run says again that it still waits for Kafka at start.
	WaitEvery time.Duration
	// Progress is the interval of the progress log lines. 0: no progress lines.
	Progress time.Duration
	// LagEvery is how often the lag monitor measures the lag (with Registry or Health only).
	LagEvery time.Duration
	// StallTimeout: the liveness check fails once records wait and none was read for this long.
	StallTimeout time.Duration
	// Logger receives the router's lines: start, restarts, progress, one warning per dead letter.
	Logger *slog.Logger
	// Registry gets the router's metrics (Metrics). nil: no metrics.
	Registry prometheus.Registerer
	// Health gets the router's checks. nil: none.
	Health *observe.Health
	// Now stamps dead letters.
	Now func() time.Time
	// Parse turns a decoded raw record into a weapon, before the router validates it
	// (weaponrow.Validate) and numbers it: weaponrow.Parse; tests inject another parser (a
	// "build B", a parser that panics). It must not keep the record, which the router reuses
	// for the next message once Parse returns; the weapon may keep the record's strings.
	Parse func(*codecs.RawRecord) (*codecs.Weapon, error)
}

// DefaultConfig is the router of a single-broker deployment on localhost, with every default.
func DefaultConfig() Config {
	return Config{
		Kafka: KafkaSetup{Brokers: []string{kafka.DefaultBroker}, Config: kafka.Config("mhfz-process"),
			Replication: kafka.DefaultReplication, StoragePath: "data/router"},
		MaxMessageBytes: DefaultMaxMessageBytes,
		SetupTimeout:    startup.DefaultTimeout,
		WaitEvery:       startup.DefaultEvery,
		Progress:        observe.DefaultProgress,
		LagEvery:        observe.DefaultLagEvery,
		StallTimeout:    observe.DefaultStallTimeout,
		Logger:          slog.Default(),
		Now:             time.Now,
		Parse:           weaponrow.Parse,
	}
}

// validate names every field that is wrong. tester: New's options stand in for Kafka.
func (c Config) validate(tester bool) error {
	var errs []error
	add := func(bad bool, format string, args ...any) {
		if bad {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	add(c.MaxMessageBytes < 1, "MaxMessageBytes %d: want >= 1", c.MaxMessageBytes)
	add(c.SetupTimeout < 0, "SetupTimeout %s: negative", c.SetupTimeout)
	add(c.WaitEvery <= 0, "WaitEvery %s: want > 0", c.WaitEvery)
	add(c.Progress < 0, "Progress %s: negative (0: no progress lines)", c.Progress)
	add(c.LagEvery <= 0, "LagEvery %s: want > 0", c.LagEvery)
	add(c.StallTimeout <= 0, "StallTimeout %s: want > 0", c.StallTimeout)
	add(c.Logger == nil, "Logger: nil")
	add(c.Now == nil, "Now: nil")
	add(c.Parse == nil, "Parse: nil")
	switch {
	case len(c.Kafka.Brokers) > 0:
		if err := c.Kafka.validate(); err != nil {
			errs = append(errs, fmt.Errorf("Kafka: %w", err))
		}
	case !tester:
		errs = append(errs, errors.New("Kafka.Brokers: empty (only goka's tester, in New's options, stands in for Kafka)"))
	}
	return errors.Join(errs...)
}
