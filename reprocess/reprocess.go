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
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/startup"
	"github.com/mhfz/mhfz-pipeline/migrations"
	"github.com/mhfz/mhfz-pipeline/processors"
	"github.com/mhfz/mhfz-pipeline/sink"
)

// Stats are what a re-processing did.
type Stats struct {
	Started  time.Time // when the switched re-processing began (its marker)
	Router   processors.Snapshot
	Sink     sink.Stats
	Duration time.Duration
	Switch   time.Duration // the switch transaction alone: how long readers may have waited
}

// Reprocessor re-processes weapon_data and switches the tables, once per Run.
type Reprocessor struct {
	cfg   Config
	mu    sync.Mutex
	stats Stats
}

// New checks cfg (every field: start from DefaultConfig) and connects to nothing: Run does.
func New(cfg Config) (*Reprocessor, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("reprocess: %w", err)
	}
	if cfg.Startup.Log == nil {
		cfg.Startup.Log = cfg.Logger
	}
	return &Reprocessor{cfg: cfg}, nil
}

// Stats are the counters of the last Run, as far as it went.
func (r *Reprocessor) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

func (r *Reprocessor) setStats(st Stats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats = st
}

// Run waits for Kafka and PostgreSQL, re-processes weapon_data and switches the tables. The live
// router must be stopped (its group must have no member); the live sink may run: it waits for
// the switch. A re-processing stopped before its switch (ctx cancelled) is not done: Run returns
// an error, and the live tables are as they were.
func (r *Reprocessor) Run(ctx context.Context) error {
	start, log := time.Now(), r.cfg.Logger
	log.Info("re-processing weapon_data into rebuilt tables; the live tables stay as they are until the switch",
		"input", r.cfg.Names.WeaponData(), "storage", r.cfg.Setup.StoragePath)
	s, err := r.connect(ctx)
	if err != nil {
		return fmt.Errorf("reprocess: %w", err)
	}
	defer s.close()
	if err := s.prepare(ctx); err != nil {
		return fmt.Errorf("reprocess: %w", err)
	}
	st, err := s.rebuild(ctx)
	r.setStats(st)
	if err != nil {
		return fmt.Errorf("reprocess: %w (the live tables are unchanged; run it again to finish)", err)
	}
	switchStart := time.Now()
	st.Started, err = s.rb.Switch(ctx)
	st.Switch, st.Duration = time.Since(switchStart), time.Since(start)
	r.setStats(st)
	if err != nil {
		return fmt.Errorf("reprocess: %w (the live tables are unchanged; run it again to finish)", err)
	}
	log.Info("switched to the rebuilt tables", append(st.Router.LogAttrs(), "stored", st.Sink.Stored,
		"sink_dead_lettered", st.Sink.DeadLettered, "switch", st.Switch.Round(time.Millisecond),
		"duration", st.Duration.Round(time.Millisecond))...)
	return nil
}

// session is one Run's connections to Kafka and PostgreSQL.
type session struct {
	cfg    Config
	client sarama.Client
	admin  sarama.ClusterAdmin
	rb     *sink.Rebuild
}

// connect waits for Kafka, then PostgreSQL, saying what it waits for, and connects to both.
func (r *Reprocessor) connect(ctx context.Context) (*session, error) {
	cfg := r.cfg
	pingKafka := func(ctx context.Context) error { return kafka.Ping(ctx, cfg.Setup.Brokers, cfg.Setup.Config) }
	if err := cfg.Startup.Wait(ctx, kafka.Target(cfg.Setup.Brokers), pingKafka, kafka.NotReady); err != nil {
		return nil, err
	}
	target, err := startup.PostgresTarget(cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := cfg.Startup.Wait(ctx, target, r.pingPostgres, startup.PostgresNotReady); err != nil {
		return nil, err
	}
	client, admin, err := kafka.Connect(ctx, cfg.Setup.Brokers, cfg.Setup.Config)
	if err != nil {
		return nil, err
	}
	rb, err := sink.NewRebuild(ctx, cfg.DatabaseURL, string(cfg.Names.SinkConsumer()), string(cfg.Names.SinkRebuildConsumer()))
	if err != nil {
		client.Close()
		admin.Close()
		return nil, err
	}
	return &session{cfg: cfg, client: client, admin: admin, rb: rb}, nil
}

func (r *Reprocessor) pingPostgres(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, r.cfg.DatabaseURL)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

func (s *session) close() {
	s.rb.Close()
	s.admin.Close()
	s.client.Close()
}

// prepare checks that the live router is stopped, sets the marker and empties the rebuilt
// tables, resets the router and deletes the derived topics' records.
func (s *session) prepare(ctx context.Context) error {
	cfg := s.cfg
	group := string(cfg.Names.RouterGroup())
	members, err := kafka.GroupMembers(s.admin, group)
	if err != nil {
		return err
	}
	if members > 0 {
		return fmt.Errorf("the processor is running (group %s has %d members): stop it first "+
			"(docker compose stop processor), then run this again", group, members)
	}
	// The marker first: from then on the live sink writes nothing, before any new record exists.
	if err := s.rb.Prepare(ctx); err != nil {
		return err
	}
	cfg.Logger.Info("rebuilt tables created; the live sink waits until the switch", "schema", migrations.RebuildSchema)
	if err := processors.Reset(ctx, cfg.Names, cfg.Setup); err != nil {
		return err
	}
	if err := processors.EnsureTopics(ctx, cfg.Names, cfg.Setup); err != nil {
		return err
	}
	if err := kafka.Truncate(ctx, s.client, s.admin, derivedTopics(cfg.Names)...); err != nil {
		return err
	}
	if cfg.CopyFrom != "" {
		if _, err := s.copyRaw(ctx); err != nil {
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
func (s *session) rebuild(ctx context.Context) (Stats, error) {
	router, sk, err := s.stages()
	if err != nil {
		return Stats{}, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return router.Run(gctx) })
	g.Go(func() error { return sk.Run(gctx) })
	caught := false
	g.Go(func() error {
		w := watcher{cfg: s.cfg, client: s.client, admin: s.admin, rb: s.rb, router: router, sink: sk}
		err := w.untilCaughtUp(gctx)
		caught = err == nil
		stop() // caught up (or failed): the router and the sink stop cleanly
		return err
	})
	err = g.Wait()
	st := Stats{Router: router.Stats(), Sink: sk.Stats()}
	switch {
	case err != nil && !errors.Is(err, context.Canceled):
		return st, err
	case !caught:
		return st, fmt.Errorf("stopped before the rebuilt tables caught up: %w", context.Cause(ctx))
	}
	return st, nil
}

// stages are the router and the rebuilding sink of a re-processing: the sink reads what the
// router writes and fills the rebuilt tables.
func (s *session) stages() (*processors.Router, *sink.Sink, error) {
	cfg := s.cfg
	rc := cfg.Router
	rc.Names, rc.Kafka, rc.Progress = cfg.Names, cfg.Setup, 0 // no progress lines: the re-processing logs its own
	rc.Registry, rc.Health, rc.LagEvery, rc.StallTimeout = cfg.Registry, cfg.Health, cfg.LagEvery, cfg.StallTimeout
	router, err := processors.New(rc, cfg.RouterOpts...)
	if err != nil {
		return nil, nil, err
	}
	sc := cfg.Sink
	sc.Brokers, sc.DatabaseURL, sc.Names, sc.Logger = cfg.Setup.Brokers, cfg.DatabaseURL, cfg.Names, cfg.Logger.With("stage", "sink")
	sc.Rebuild, sc.Replay, sc.CreateTopics = true, false, false
	sc.Registry, sc.Health, sc.LagEvery, sc.StallTimeout = cfg.Registry, cfg.Health, cfg.LagEvery, cfg.StallTimeout
	sk, err := sink.New(sc)
	if err != nil {
		return nil, nil, err
	}
	return router, sk, nil
}
