package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
	"github.com/mhfz/mhfz-pipeline/sink"
)

// sinkOptions are the flags of `mhfz sink`.
type sinkOptions struct {
	kafka      kafkaFlags
	db         databaseFlags
	batchSize  int
	batchWait  time.Duration
	writers    int
	replay     bool
	progress   time.Duration
	retryMax   time.Duration
	instanceID string
	setup      time.Duration
	observe    observeFlags
}

func parseSinkFlags(args []string, output io.Writer) (*sinkOptions, error) {
	o := &sinkOptions{}
	fs := newFlagSet("sink", "sink [flags]", output)
	o.kafka.register(fs)
	o.db.register(fs)
	fs.intVar(&o.batchSize, "batch-size", "MHFZ_SINK_BATCH_SIZE", 5000, "records per transaction at most")
	fs.durationVar(&o.batchWait, "batch-wait", "MHFZ_SINK_BATCH_WAIT", 200*time.Millisecond,
		"how long a partial batch waits for more records before it is written")
	fs.intVar(&o.writers, "writers", "MHFZ_SINK_WRITERS", 2,
		"transactions written at once, each over its own share of the partitions (PostgreSQL connections at work)")
	fs.boolVar(&o.replay, "replay", "MHFZ_SINK_REPLAY", false,
		"rebuild the tables: empty them and reset the offsets in one transaction, then consume from offset zero")
	fs.durationVar(&o.progress, "progress", "MHFZ_PROGRESS_INTERVAL", 10*time.Second,
		"interval of the progress log lines (0: none)")
	fs.durationVar(&o.retryMax, "retry-max", "MHFZ_SINK_RETRY_MAX", 5*time.Second,
		"longest wait between two attempts while the database is unavailable")
	fs.stringVar(&o.instanceID, "instance-id", "MHFZ_SINK_INSTANCE_ID", "",
		"static consumer-group member id: a restarted sink gets its partitions back at once (one per replica)")
	registerSetupTimeout(fs, &o.setup)
	o.observe.register(fs)
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if err := errors.Join(o.kafka.check("sink"), o.observe.check("sink")); err != nil {
		return nil, err
	}
	switch {
	case o.db.url == "":
		return nil, usageError{"sink: --database-url is empty"}
	case o.batchSize < 1 || o.writers < 1:
		return nil, usageError{"sink: --batch-size and --writers must be >= 1"}
	case o.batchWait <= 0 || o.retryMax <= 0:
		return nil, usageError{"sink: --batch-wait and --retry-max must be > 0"}
	case o.progress < 0 || o.setup < 0:
		return nil, usageError{"sink: --progress and --setup-timeout must not be negative"}
	}
	return o, nil
}

func runSink(ctx context.Context, args []string, env runEnv) error {
	stdout, log := env.stdout, env.log
	o, err := parseSinkFlags(args, stdout)
	if err != nil {
		return err
	}
	progress := o.progress
	if progress == 0 {
		progress = -1 // the sink's "none"; its zero is its default
	}
	obs, stopServing, err := o.observe.start(env)
	if err != nil {
		return err
	}
	defer stopServing()
	cfg := sink.Config{
		Brokers: o.kafka.brokers, DatabaseURL: o.db.url, Names: o.kafka.names(),
		Kafka: kafka.Config("mhfz-sink"), Logger: log,
		BatchSize: o.batchSize, BatchWait: o.batchWait, Writers: o.writers, Replay: o.replay,
		RetryMax: o.retryMax, Progress: progress, InstanceID: o.instanceID, Startup: env.waiter(o.setup),
		Partitions: int32(o.kafka.partitions), Replication: int16(o.kafka.replication),
		StallTimeout: o.observe.stall, LagEvery: observe.DefaultLagEvery,
	}
	if obs != nil {
		cfg.Registry, cfg.Health = obs.Registry, obs.Health
	}
	s, err := sink.New(cfg)
	if err != nil {
		return err
	}
	if err := s.Run(ctx); err != nil {
		return err
	}
	st := s.Stats()
	fmt.Fprintf(stdout, "sink: %d received, %d stored, %d duplicates, %d conflicts, %d skipped, %d dead-lettered, %d lost, %d batches\n",
		st.Received, st.Stored, st.Duplicates, st.Conflicts, st.Skipped, st.DeadLettered, st.Lost, st.Batches)
	return nil
}
