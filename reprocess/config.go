package reprocess

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
	"github.com/mhfz/mhfz-pipeline/internal/startup"
	"github.com/mhfz/mhfz-pipeline/processors"
	"github.com/mhfz/mhfz-pipeline/sink"
)

// NoProgress is the Progress of a re-processing that logs no progress lines (only its start,
// its catching up and its switch).
const NoProgress time.Duration = 0

// Config configures a re-processing. Start from DefaultConfig: New takes no zero for a default.
// The caller gives Names, Setup's brokers, partitions, replication and storage, DatabaseURL and
// Logger.
type Config struct {
	Names codecs.Names
	Setup processors.KafkaSetup // the router's: brokers, sarama config, the live router's storage
	// Router is the router's config (this build's parser, its message limit): Run sets its
	// names, Kafka, metrics, health, lag and stall timings from the fields here, and no
	// progress lines (the re-processing logs its own).
	Router      processors.Config
	RouterOpts  []goka.ProcessorOption // goka options of the router (processors.New)
	DatabaseURL string
	Sink        sink.Config // batch size and wait, retries, its Kafka config; the rest is set by Run
	Logger      *slog.Logger

	// Startup is how Run waits at start for Kafka, then PostgreSQL, saying what it waits for. Its
	// Log, if nil, is Logger.
	Startup startup.Waiter
	// Progress is the interval of the progress log lines; NoProgress: none.
	Progress time.Duration
	// Poll is how often Run checks whether the rebuilt tables have caught up.
	Poll time.Duration

	// Registry and Health, if set, get the router's and the rebuilding sink's metrics and checks
	// (nil: none): their lag measured every LagEvery, stuck after StallTimeout.
	Registry     prometheus.Registerer
	Health       *observe.Health
	LagEvery     time.Duration
	StallTimeout time.Duration

	// CopyFrom, if set, is another deployment's raw topic (its weapon_data), copied into this
	// deployment's weapon_data before the re-processing: how the partition count changes (this
	// deployment's topics are created with Setup.Partitions, or kafka.DefaultPartitions). See
	// copyRaw. Empty: no copy.
	CopyFrom string
}

// DefaultConfig is a re-processing's every default. The deployment's own facts (its names,
// brokers, partitions, storage, database and logger) are the caller's to set.
func DefaultConfig() Config {
	return Config{
		Setup:        processors.KafkaSetup{Config: kafka.Config("mhfz-reprocess"), Replication: kafka.DefaultReplication},
		Router:       processors.DefaultConfig(),
		Sink:         rebuildingSink(),
		Startup:      startup.Waiter{Timeout: startup.DefaultTimeout},
		Progress:     observe.DefaultProgress,
		Poll:         time.Second,
		LagEvery:     observe.DefaultLagEvery,
		StallTimeout: observe.DefaultStallTimeout,
	}
}

// rebuildingSink is the default of the sink that fills the rebuilt tables: the sink's own, with
// a Kafka client of its own.
func rebuildingSink() sink.Config {
	c := sink.DefaultConfig()
	c.Kafka = kafka.Config("mhfz-reprocess-sink")
	return c
}

// validate says what is wrong with cfg, naming the field.
func (cfg Config) validate() error {
	return errors.Join(cfg.validateSetup(), cfg.validateTiming())
}

func (cfg Config) validateSetup() error {
	var errs []error
	if cfg.Logger == nil {
		errs = append(errs, errors.New("Logger is nil"))
	}
	if cfg.DatabaseURL == "" {
		errs = append(errs, errors.New("DatabaseURL is empty"))
	} else if _, err := startup.PostgresTarget(cfg.DatabaseURL); err != nil {
		errs = append(errs, fmt.Errorf("DatabaseURL: %w", err)) // pgconn's error hides the password
	}
	s := cfg.Setup
	switch {
	case len(s.Brokers) == 0:
		errs = append(errs, errors.New("Setup.Brokers is empty"))
	case s.Config == nil:
		errs = append(errs, errors.New("Setup.Config (the sarama config) is nil"))
	case s.Partitions < 0 || s.Replication < 1:
		errs = append(errs, fmt.Errorf("Setup.Partitions %d and Setup.Replication %d must be >= 0 and >= 1", s.Partitions, s.Replication))
	case s.StoragePath == "":
		errs = append(errs, errors.New("Setup.StoragePath (the router's local copy) is empty"))
	}
	if raw := string(cfg.Names.WeaponData()); cfg.CopyFrom == raw {
		errs = append(errs, fmt.Errorf("CopyFrom %s is this deployment's own raw topic: "+
			"give the new deployment another topic prefix", raw))
	}
	return errors.Join(errs...)
}

func (cfg Config) validateTiming() error {
	var errs []error
	if cfg.Progress < 0 {
		errs = append(errs, fmt.Errorf("Progress %s is negative (NoProgress, 0: no progress lines)", cfg.Progress))
	}
	if cfg.Poll <= 0 {
		errs = append(errs, fmt.Errorf("Poll %s must be positive", cfg.Poll))
	}
	if cfg.LagEvery <= 0 || cfg.StallTimeout <= 0 {
		errs = append(errs, fmt.Errorf("LagEvery %s and StallTimeout %s must be positive", cfg.LagEvery, cfg.StallTimeout))
	}
	w := cfg.Startup
	if w.Every < 0 || w.Retry < 0 || w.Attempt < 0 || w.Timeout < 0 {
		errs = append(errs, fmt.Errorf("Startup: negative interval (every %s, retry %s, attempt %s, timeout %s)",
			w.Every, w.Retry, w.Attempt, w.Timeout))
	}
	return errors.Join(errs...)
}
