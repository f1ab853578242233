// Package reprocess owns the re-processing of the pipeline's history: re-deriving every weapon
// table from weapon_data, the source of truth, with the current build, while readers keep the
// tables they have until the rebuilt ones have caught up.
//
// The design: the derived state is built again from nothing, exactly as a fresh pipeline would
// build it. The router starts over (its committed offsets, group table and local copy are
// deleted) and re-reads weapon_data from offset zero; the records of the derived topics (the
// weapon topics and the dead-letter topic) are deleted first, so that they then hold the new
// build's output only and a later `mhfz sink --replay` gives the same tables. A sink of its own
// fills a copy of the weapon tables in another schema. Once both have caught up, one PostgreSQL
// transaction moves the rebuilt tables in place of the live ones and hands the live sink the new
// offsets. Versions are numbered by the router from the raw records in their order, so the
// rebuilt history is the one a fresh pipeline would have: same keys, versions and contents.
//
// Until the switch, a marker in PostgreSQL holds the live sink (it writes nothing while a
// re-processing is in progress), so it never mixes the new build's records into the live tables.
// Interrupted at any point, a re-processing is run again from the start; the live tables are
// untouched until the switch.
package reprocess

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
	"github.com/mhfz/mhfz-pipeline/migrations"
	"github.com/mhfz/mhfz-pipeline/processors"
	"github.com/mhfz/mhfz-pipeline/sink"
)

// Config configures a re-processing. Setup, DatabaseURL and Logger are required.
type Config struct {
	Names       codecs.Names
	Setup       processors.KafkaSetup // the router's: brokers, sarama config, the live router's storage
	Router      processors.RouterConfig
	RouterOpts  []goka.ProcessorOption // added to Setup.Options (a logger, say)
	DatabaseURL string
	Sink        sink.Config // batch size and wait, retries (from sink.DefaultConfig); the rest is set here
	Logger      *slog.Logger
	Progress    time.Duration // interval of the progress logs (10s; negative: none)
	Poll        time.Duration // how often the catch-up is checked (1s)

	// Registry and Health, if set, get the router's and the rebuilding sink's metrics and checks
	// (their lag measured every LagEvery, 5s; stuck after StallTimeout, 5m).
	Registry     prometheus.Registerer
	Health       *observe.Health
	LagEvery     time.Duration
	StallTimeout time.Duration

	// CopyFrom, if set, is another deployment's raw topic (its weapon_data), copied into this
	// deployment's weapon_data before the re-processing: how the partition count changes (this
	// deployment's topics are created with Setup.Partitions). See copyRaw.
	CopyFrom string
}

// Result is what a re-processing did.
type Result struct {
	Started  time.Time
	Router   processors.Snapshot
	Sink     sink.Stats
	Duration time.Duration
	Switch   time.Duration // the switch transaction alone: how long readers may have waited
}

// Run re-processes weapon_data and switches the tables. The live router must be stopped (its
// group must have no member); the live sink may run: it waits for the switch.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Logger == nil || cfg.DatabaseURL == "" {
		return Result{}, errors.New("reprocess: a logger and a database URL are required")
	}
	if cfg.Progress == 0 {
		cfg.Progress = 10 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.LagEvery <= 0 {
		cfg.LagEvery = 5 * time.Second
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = observe.DefaultStallTimeout
	}
	start := time.Now()
	client, admin, err := kafka.Connect(ctx, cfg.Setup.Brokers, cfg.Setup.Config)
	if err != nil {
		return Result{}, fmt.Errorf("reprocess: %w", err)
	}
	defer client.Close()
	defer admin.Close()
	rb, err := sink.NewRebuild(ctx, cfg.DatabaseURL, string(cfg.Names.SinkConsumer()), string(cfg.Names.SinkRebuildConsumer()))
	if err != nil {
		return Result{}, fmt.Errorf("reprocess: %w", err)
	}
	defer rb.Close()
	if err := prepare(ctx, cfg, client, admin, rb); err != nil {
		return Result{}, fmt.Errorf("reprocess: %w", err)
	}
	res, err := rebuild(ctx, cfg, client, admin, rb)
	if err != nil {
		return res, fmt.Errorf("reprocess: %w (the live tables are unchanged; run it again to finish)", err)
	}
	switchStart := time.Now()
	res.Started, err = rb.Switch(ctx)
	res.Switch = time.Since(switchStart)
	if err != nil {
		return res, fmt.Errorf("reprocess: %w (the live tables are unchanged; run it again to finish)", err)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// prepare checks that the live router is stopped, sets the marker and empties the rebuilt
// tables, resets the router and deletes the derived topics' records.
func prepare(ctx context.Context, cfg Config, client sarama.Client, admin sarama.ClusterAdmin, rb *sink.Rebuild) error {
	group := string(cfg.Names.RouterGroup())
	members, err := kafka.GroupMembers(admin, group)
	if err != nil {
		return err
	}
	if members > 0 {
		return fmt.Errorf("the processor is running (group %s has %d members): stop it first "+
			"(docker compose stop processor), then run this again", group, members)
	}
	// The marker first: from then on the live sink writes nothing, before any new record exists.
	if err := rb.Prepare(ctx); err != nil {
		return err
	}
	cfg.Logger.Info("rebuilt tables created; the live sink waits until the switch", "schema", migrations.RebuildSchema)
	if err := processors.Reset(ctx, cfg.Names, cfg.Setup); err != nil {
		return err
	}
	if err := processors.EnsureTopics(ctx, cfg.Names, cfg.Setup); err != nil {
		return err
	}
	if err := kafka.Truncate(ctx, client, admin, derivedTopics(cfg.Names)...); err != nil {
		return err
	}
	if cfg.CopyFrom != "" {
		if _, err := copyRaw(ctx, cfg, client, admin); err != nil {
			return err
		}
	}
	cfg.Logger.Info("router reset and derived topics emptied", "group", group, "input", cfg.Names.WeaponData())
	return nil
}

// derivedTopics are the topics the router writes: the weapon topics and the dead letters.
func derivedTopics(names codecs.Names) []string {
	return append(weaponTopics(names), string(names.DeadLetter()))
}

func weaponTopics(names codecs.Names) []string {
	var topics []string
	for _, t := range names.WeaponTopics() {
		topics = append(topics, string(t))
	}
	return topics
}

// rebuild runs the router and the rebuilding sink until both have caught up, then stops them.
func rebuild(ctx context.Context, cfg Config, client sarama.Client, admin sarama.ClusterAdmin, rb *sink.Rebuild) (Result, error) {
	opts, err := cfg.Setup.Options()
	if err != nil {
		return Result{}, err
	}
	router, err := processors.NewRouter(cfg.Setup.Brokers, cfg.Names, cfg.Router, append(opts, cfg.RouterOpts...)...)
	if err != nil {
		return Result{}, err
	}
	sc := cfg.Sink
	sc.Brokers, sc.DatabaseURL, sc.Names, sc.Logger = cfg.Setup.Brokers, cfg.DatabaseURL, cfg.Names, cfg.Logger.With("stage", "sink")
	sc.Rebuild, sc.Replay, sc.Partitions = true, false, 0
	sc.Registry, sc.Health = cfg.Registry, cfg.Health
	if cfg.LagEvery > 0 { // else the sink's own (cfg.Sink, from sink.DefaultConfig)
		sc.LagEvery = cfg.LagEvery
	}
	if cfg.StallTimeout > 0 {
		sc.StallTimeout = cfg.StallTimeout
	}
	if sc.Kafka == nil {
		sc.Kafka = kafka.Config("mhfz-reprocess-sink")
	}
	sk, err := sink.New(sc)
	if err != nil {
		return Result{}, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return stopped(router.Processor.Run(gctx)) })
	g.Go(func() error { return sk.Run(gctx) })
	if cfg.Registry != nil || cfg.Health != nil {
		m, err := router.Observe(cfg.Names, cfg.Setup, cfg.Registry, cfg.Health, cfg.LagEvery, cfg.StallTimeout)
		if err != nil {
			stop()
			_ = g.Wait()
			return Result{}, err
		}
		g.Go(func() error { m.Run(gctx); return nil })
	}
	caught := false
	g.Go(func() error {
		w := watcher{cfg: cfg, client: client, admin: admin, rb: rb, router: router, sink: sk}
		err := w.untilCaughtUp(gctx)
		caught = err == nil
		stop() // caught up (or failed): the router and the sink stop cleanly
		return err
	})
	err = g.Wait()
	res := Result{Router: router.Stats.Snapshot(), Sink: sk.Stats()}
	switch {
	case err != nil && !errors.Is(err, context.Canceled):
		return res, err
	case !caught:
		return res, fmt.Errorf("stopped before the rebuilt tables caught up: %w", context.Cause(ctx))
	}
	return res, nil
}

// stopped is nil for the error of a run that was stopped from outside.
func stopped(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
