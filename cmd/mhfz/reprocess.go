package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mhfz/mhfz-pipeline/internal/observe"
	"github.com/mhfz/mhfz-pipeline/reprocess"
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
	def := reprocess.DefaultConfig()
	o := &reprocessOptions{}
	fs := newFlagSet("reprocess", "reprocess [flags]", output)
	o.kafka.register(fs)
	o.db.register(fs)
	o.router.register(fs)
	fs.durationVar(&o.progress, "progress", "MHFZ_PROGRESS_INTERVAL", def.Progress,
		"interval of the progress log lines (0: none)")
	o.observe.register(fs)
	fs.stringVar(&o.copyFrom, "copy-from", "MHFZ_REPROCESS_COPY_FROM", def.CopyFrom,
		"first copy the raw records of this topic (another deployment's weapon_data) into this deployment's: "+
			"how the partition count changes (docs/scaling.md)")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	return o, errors.Join(o.kafka.check("reprocess"), o.router.check("reprocess"), o.observe.check("reprocess"))
}

// config is the re-processing the flags ask for, reporting to obs (nil: nowhere).
func (o *reprocessOptions) config(env runEnv, obs *observe.Service) reprocess.Config {
	cfg := reprocess.DefaultConfig()
	cfg.Names, cfg.DatabaseURL, cfg.Logger = o.kafka.names(), o.db.url, env.log
	cfg.Router = o.router.config(o.kafka, "mhfz-reprocess", env)
	cfg.Router.Logger = env.log.With("stage", "router")
	cfg.Setup = cfg.Router.Kafka
	cfg.Startup = env.waiter(o.router.setupWithin)
	cfg.Progress, cfg.StallTimeout, cfg.CopyFrom = o.progress, o.observe.stall, o.copyFrom
	if obs != nil {
		cfg.Registry, cfg.Health = obs.Registry, obs.Health
	}
	return cfg
}

// runReprocess re-derives every weapon table from weapon_data with this build and switches the
// tables when the rebuilt ones have caught up (package reprocess). The processor must be
// stopped; the sink may keep running (it waits for the switch).
func runReprocess(ctx context.Context, args []string, env runEnv) error {
	o, err := parseReprocessFlags(args, env.stdout)
	if err != nil {
		return err
	}
	obs, stopServing, err := o.observe.start(env)
	if err != nil {
		return err
	}
	defer stopServing()
	r, err := reprocess.New(o.config(env, obs))
	if err != nil {
		return usageError{err.Error()} // the configuration is the flags'
	}
	if err := r.Run(ctx); err != nil {
		return err
	}
	st := r.Stats()
	fmt.Fprintf(env.stdout, "reprocess: read %d raw records, forwarded %d, dead letters %d; stored %d rows; switched in %s\n",
		st.Router.Read, st.Router.Forwarded, st.Router.DeadLetters, st.Sink.Stored, st.Duration.Round(time.Millisecond))
	return nil
}
