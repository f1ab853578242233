package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/startup"
	"github.com/mhfz/mhfz-pipeline/processors"
)

// processOptions are the flags of `mhfz process`.
type processOptions struct {
	kafka    kafkaFlags
	router   routerFlags
	progress time.Duration
	observe  observeFlags
}

// routerFlags are the flags of the commands that run the router (process, reprocess).
type routerFlags struct {
	storage     string
	maxMessage  int
	setupWithin time.Duration
}

func (r *routerFlags) register(fs *flagSet) {
	def := processors.DefaultConfig()
	fs.stringVar(&r.storage, "storage", "MHFZ_PROCESS_STORAGE", def.Kafka.StoragePath,
		"folder of the group table's local copy (a volume: kept between restarts, else re-read from Kafka)")
	fs.intVar(&r.maxMessage, "max-message-bytes", "MHFZ_PROCESS_MAX_MESSAGE_BYTES", def.MaxMessageBytes,
		"larger raw records go to the dead-letter topic")
	registerSetupTimeout(fs, &r.setupWithin)
}

func (r *routerFlags) check(command string) error {
	switch {
	case r.storage == "":
		return usageError{command + ": --storage is empty"}
	case r.maxMessage < 1:
		return usageError{command + ": --max-message-bytes must be >= 1"}
	case r.setupWithin < 0:
		return usageError{command + ": --setup-timeout must not be negative"}
	}
	return nil
}

// setup is how the router of this deployment talks to Kafka.
func (r *routerFlags) setup(k kafkaFlags, clientID string) processors.KafkaSetup {
	return processors.KafkaSetup{Brokers: k.brokers, Config: kafka.Config(clientID), Partitions: int32(k.partitions),
		Replication: int16(k.replication), StoragePath: r.storage}
}

// config is the router's config of a command: the flags over processors.DefaultConfig.
func (r *routerFlags) config(k kafkaFlags, clientID string, env runEnv) processors.Config {
	cfg := processors.DefaultConfig()
	cfg.Names, cfg.Kafka, cfg.MaxMessageBytes = k.names(), r.setup(k, clientID), r.maxMessage
	cfg.SetupTimeout, cfg.Logger = r.setupWithin, env.log
	if env.waitEvery > 0 {
		cfg.WaitEvery = env.waitEvery
	}
	return cfg
}

func parseProcessFlags(args []string, output io.Writer) (*processOptions, error) {
	o := &processOptions{}
	fs := newFlagSet("process", "process [flags]", output)
	o.kafka.register(fs)
	o.router.register(fs)
	fs.durationVar(&o.progress, "progress", "MHFZ_PROGRESS_INTERVAL", processors.DefaultConfig().Progress,
		"interval of the progress log lines (0: none)")
	o.observe.register(fs)
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if o.progress < 0 {
		return nil, usageError{"process: --progress must not be negative"}
	}
	return o, errors.Join(o.kafka.check("process"), o.router.check("process"), o.observe.check("process"))
}

// runProcess runs the router until ctx ends (SIGTERM, SIGINT) or Kafka fails, and prints a
// summary. A clean stop returns nil; a failure returns it (exit status 1; retryable: restart the
// service).
func runProcess(ctx context.Context, args []string, env runEnv) error {
	o, err := parseProcessFlags(args, env.stdout)
	if err != nil {
		return err
	}
	obs, stopServing, err := o.observe.start(env)
	if err != nil {
		return err
	}
	defer stopServing()
	cfg := o.router.config(o.kafka, "mhfz-process", env)
	cfg.Progress, cfg.StallTimeout = o.progress, o.observe.stall
	if obs != nil {
		cfg.Registry, cfg.Health = obs.Registry, obs.Health
	}
	router, err := processors.New(cfg)
	if err != nil {
		return fmt.Errorf("process: %w", err)
	}
	start := time.Now()
	err = router.Run(ctx)
	if errors.Is(err, startup.ErrNotStarted) {
		return fmt.Errorf("process: %w", err)
	}
	s := router.Stats()
	fmt.Fprintf(env.stdout, "process: read %d, forwarded %d, re-emitted %d, unchanged %d, stale %d, dead letters %d, in %s\n",
		s.Read, s.Forwarded, s.Reemitted, s.Unchanged, s.Stale, s.DeadLetters, time.Since(start).Round(time.Millisecond))
	if err != nil {
		return fmt.Errorf("process: %w", err)
	}
	return nil
}
