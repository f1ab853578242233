package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mhfz/mhfz-pipeline/sink"
)

// sinkOptions are the flags of `mhfz sink`: a sink.Config, its defaults from sink.DefaultConfig.
type sinkOptions struct {
	kafka   kafkaFlags
	db      databaseFlags
	setup   time.Duration
	observe observeFlags
	cfg     sink.Config
}

func parseSinkFlags(args []string, output io.Writer) (*sinkOptions, error) {
	o := &sinkOptions{cfg: sink.DefaultConfig()}
	c := &o.cfg
	fs := newFlagSet("sink", "sink [flags]", output)
	o.kafka.register(fs)
	o.db.register(fs)
	fs.intVar(&c.BatchSize, "batch-size", "MHFZ_SINK_BATCH_SIZE", c.BatchSize, "records per transaction at most")
	fs.durationVar(&c.BatchWait, "batch-wait", "MHFZ_SINK_BATCH_WAIT", c.BatchWait,
		"how long a partial batch waits for more records before it is written")
	fs.intVar(&c.Writers, "writers", "MHFZ_SINK_WRITERS", c.Writers,
		"transactions written at once, each over its own share of the partitions (PostgreSQL connections at work)")
	fs.boolVar(&c.Replay, "replay", "MHFZ_SINK_REPLAY", c.Replay,
		"rebuild the tables: empty them and reset the offsets in one transaction, then consume from offset zero")
	fs.durationVar(&c.Progress, "progress", "MHFZ_PROGRESS_INTERVAL", c.Progress,
		"interval of the progress log lines (0: none)")
	fs.durationVar(&c.RetryMax, "retry-max", "MHFZ_SINK_RETRY_MAX", c.RetryMax,
		"longest wait between two attempts while the database is unavailable")
	fs.stringVar(&c.InstanceID, "instance-id", "MHFZ_SINK_INSTANCE_ID", c.InstanceID,
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
	case c.BatchSize < 1 || c.Writers < 1:
		return nil, usageError{"sink: --batch-size and --writers must be >= 1"}
	case c.BatchWait <= 0 || c.RetryMax <= 0:
		return nil, usageError{"sink: --batch-wait and --retry-max must be > 0"}
	case c.Progress < 0 || o.setup < 0:
		return nil, usageError{"sink: --progress and --setup-timeout must not be negative"}
	}
	c.RetryMin = min(c.RetryMin, c.RetryMax)
	return o, nil
}

func runSink(ctx context.Context, args []string, env runEnv) error {
	o, err := parseSinkFlags(args, env.stdout)
	if err != nil {
		return err
	}
	obs, stopServing, err := o.observe.start(env)
	if err != nil {
		return err
	}
	defer stopServing()
	cfg := o.cfg
	cfg.Brokers, cfg.DatabaseURL, cfg.Names, cfg.Logger = o.kafka.brokers, o.db.url, o.kafka.names(), env.log
	cfg.Startup, cfg.StallTimeout = env.waiter(o.setup), o.observe.stall
	cfg.CreateTopics, cfg.Partitions, cfg.Replication = true, int32(o.kafka.partitions), int16(o.kafka.replication)
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
	fmt.Fprintf(env.stdout, "sink: %d received, %d stored, %d duplicates, %d conflicts, %d skipped, %d dead-lettered, %d lost, %d batches\n",
		st.Received, st.Stored, st.Duplicates, st.Conflicts, st.Skipped, st.DeadLettered, st.Lost, st.Batches)
	return nil
}
