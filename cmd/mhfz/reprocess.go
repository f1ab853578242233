package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/lovoo/goka"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
	"github.com/mhfz/mhfz-pipeline/internal/reprocess"
	"github.com/mhfz/mhfz-pipeline/processors"
	"github.com/mhfz/mhfz-pipeline/sink"
)

// reprocessOptions are the flags of `mhfz reprocess`.
type reprocessOptions struct {
	kafka    kafkaFlags
	db       databaseFlags
	router   routerFlags
	progress time.Duration
	observe  observeFlags
	copyFrom string
}

func parseReprocessFlags(args []string, output io.Writer) (*reprocessOptions, error) {
	o := &reprocessOptions{}
	fs := newFlagSet("reprocess", "reprocess [flags]", output)
	o.kafka.register(fs)
	o.db.register(fs)
	o.router.register(fs)
	fs.durationVar(&o.progress, "progress", "MHFZ_PROGRESS_INTERVAL", 10*time.Second,
		"interval of the progress log lines (0: none)")
	o.observe.register(fs)
	fs.stringVar(&o.copyFrom, "copy-from", "MHFZ_REPROCESS_COPY_FROM", "",
		"first copy the raw records of this topic (another deployment's weapon_data) into this deployment's: "+
			"how the partition count changes (README, Scaling out)")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	switch {
	case o.db.url == "":
		return nil, usageError{"reprocess: --database-url is empty"}
	case o.copyFrom != "" && o.copyFrom == string(o.kafka.names().WeaponData()):
		return nil, usageError{"reprocess: --copy-from " + o.copyFrom + " is this deployment's own raw topic: " +
			"give the new deployment another --topic-prefix"}
	case o.progress < 0:
		return nil, usageError{"reprocess: --progress must not be negative"}
	}
	return o, errors.Join(o.kafka.check("reprocess"), o.router.check("reprocess"), o.observe.check("reprocess"))
}

// runReprocess re-derives every weapon table from weapon_data with this build and switches the
// tables when the rebuilt ones have caught up (see internal/reprocess). The processor must be
// stopped; the sink may keep running (it waits for the switch).
func runReprocess(ctx context.Context, args []string, env runEnv) error {
	stdout, log := env.stdout, env.log
	o, err := parseReprocessFlags(args, stdout)
	if err != nil {
		return err
	}
	obs, stopServing, err := o.observe.start(env)
	if err != nil {
		return err
	}
	defer stopServing()
	cfg := kafka.Config("mhfz-reprocess")
	if err := waitForKafka(ctx, env, o.kafka.brokers, cfg, o.router.setupWithin); err != nil {
		return fmt.Errorf("reprocess: %w", err)
	}
	progress := o.progress
	if progress == 0 {
		progress = -1
	}
	log.Info("re-processing weapon_data into rebuilt tables; the live tables stay as they are until the switch",
		"input", o.kafka.names().WeaponData(), "storage", o.router.storage)
	rcfg := reprocess.Config{
		Names: o.kafka.names(), Setup: o.router.setup(o.kafka, cfg),
		Router:      processors.RouterConfig{MaxMessageBytes: o.router.maxMessage, Logger: log.With("stage", "router")},
		RouterOpts:  []goka.ProcessorOption{goka.WithLogger(kafka.GokaLogger(log))},
		DatabaseURL: o.db.url, Sink: sink.DefaultConfig(), Logger: log, Progress: progress, CopyFrom: o.copyFrom,
		LagEvery: observe.DefaultLagEvery, StallTimeout: o.observe.stall,
	}
	if obs != nil {
		rcfg.Registry, rcfg.Health = obs.Registry, obs.Health
	}
	res, err := reprocess.Run(ctx, rcfg)
	if err != nil {
		return err
	}
	log.Info("switched to the rebuilt tables", append(res.Router.LogAttrs(), "stored", res.Sink.Stored,
		"sink_dead_lettered", res.Sink.DeadLettered, "switch", res.Switch.Round(time.Millisecond),
		"duration", res.Duration.Round(time.Millisecond))...)
	fmt.Fprintf(stdout, "reprocess: read %d raw records, forwarded %d, dead letters %d; stored %d rows; switched in %s\n",
		res.Router.Read, res.Router.Forwarded, res.Router.DeadLetters, res.Sink.Stored, res.Duration.Round(time.Millisecond))
	return nil
}
