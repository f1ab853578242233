package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
	"github.com/mhfz/mhfz-pipeline/internal/startup"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// Config configures a Sink. DefaultConfig gives every field but Brokers, DatabaseURL and Logger,
// which are required; New checks them all.
type Config struct {
	Brokers     []string
	DatabaseURL string
	Names       codecs.Names   // topic and group names (production naming)
	Kafka       *sarama.Config // the clients' (kafka.Config("mhfz-sink")); the sink uses a copy
	Logger      *slog.Logger

	BatchSize int           // records per transaction at most (>= 1)
	BatchWait time.Duration // how long a partial batch waits for more records (> 0)
	Writers   int           // transactions written at once, each over its own share of the partitions (>= 1)
	Replay    bool          // empty the tables and offsets first, then consume from offset zero

	// Rebuild makes this the sink of a re-processing (mhfz reprocess): it writes the tables of
	// migrations.RebuildSchema as consumer Names.SinkRebuildConsumer, and Rebuild.Switch later puts them in
	// place of the live ones. A sink without it writes nothing while a re-processing is in progress.
	Rebuild bool

	RetryMin time.Duration // first backoff after a database failure or a restart (> 0)
	RetryMax time.Duration // longest backoff (>= RetryMin)
	Progress time.Duration // interval of the progress logs (0: no progress lines)

	// Startup is how Run waits at start for Kafka, then PostgreSQL: saying what it waits for
	// (to Logger, whatever its Log), failing at once on what waiting cannot change (a wrong
	// password), for at most its Timeout (0: until stopped).
	Startup startup.Waiter

	RebuildLogEvery time.Duration // interval of the logs while a re-processing holds the sink (> 0)

	// InstanceID, if set, makes the sink a static member of its consumer group: restarted with
	// the same id (a container's restart), it gets its partitions back at once instead of
	// waiting for the group to evict its former self. Each replica needs its own.
	InstanceID string

	// CreateTopics: the weapon topics are created if missing (as the processor would create
	// them), with Partitions partitions (0: kafka.DefaultPartitions, and existing ones keep
	// theirs) of Replication replicas.
	CreateTopics bool
	Partitions   int32
	Replication  int16

	// Registry, if set, gets the sink's metrics (Metrics); Health, if set, its checks: alive
	// while no batch and no database call has been pending for longer than StallTimeout,
	// ready while Kafka and PostgreSQL answer and partitions are assigned. Both are measured every
	// LagEvery, with the lag per partition.
	Registry     prometheus.Registerer
	Health       *observe.Health
	StallTimeout time.Duration
	LagEvery     time.Duration
}

// DefaultConfig returns the defaults of every field that has one: the flags of mhfz sink start
// from them.
func DefaultConfig() Config {
	return Config{
		Kafka:     kafka.Config("mhfz-sink"),
		BatchSize: 5000, BatchWait: 200 * time.Millisecond, Writers: 2,
		RetryMin: 100 * time.Millisecond, RetryMax: 5 * time.Second,
		Progress: observe.DefaultProgress, RebuildLogEvery: 10 * time.Second,
		Replication:  kafka.DefaultReplication,
		StallTimeout: observe.DefaultStallTimeout, LagEvery: observe.DefaultLagEvery,
	}
}

// validate names every field of c that is wrong, and how.
func (c Config) validate() error {
	var errs []error
	for _, check := range []struct {
		bad  bool
		what string
	}{
		{len(c.Brokers) == 0, "Brokers: no Kafka broker given"},
		{c.DatabaseURL == "", "DatabaseURL: empty"},
		{c.Logger == nil, "Logger: nil"},
		{c.Kafka == nil, "Kafka: nil (start from DefaultConfig)"},
		{c.BatchSize < 1, fmt.Sprintf("BatchSize: %d, want >= 1", c.BatchSize)},
		{c.BatchWait <= 0, fmt.Sprintf("BatchWait: %s, want > 0", c.BatchWait)},
		{c.Writers < 1, fmt.Sprintf("Writers: %d, want >= 1", c.Writers)},
		{c.Rebuild && c.Replay, "Rebuild and Replay: exclude each other (a re-processing starts from empty tables)"},
		{c.RetryMin <= 0 || c.RetryMax < c.RetryMin,
			fmt.Sprintf("RetryMin %s, RetryMax %s: want 0 < RetryMin <= RetryMax", c.RetryMin, c.RetryMax)},
		{c.Progress < 0, fmt.Sprintf("Progress: %s, want >= 0 (0: none)", c.Progress)},
		{c.RebuildLogEvery <= 0, fmt.Sprintf("RebuildLogEvery: %s, want > 0", c.RebuildLogEvery)},
		{c.Partitions < 0, fmt.Sprintf("Partitions: %d, want >= 0 (0: the default)", c.Partitions)},
		{c.CreateTopics && c.Replication < 1, fmt.Sprintf("Replication: %d, want >= 1", c.Replication)},
		{c.StallTimeout <= 0, fmt.Sprintf("StallTimeout: %s, want > 0", c.StallTimeout)},
		{c.LagEvery <= 0, fmt.Sprintf("LagEvery: %s, want > 0", c.LagEvery)},
	} {
		if check.bad {
			errs = append(errs, errors.New("sink: config: "+check.what))
		}
	}
	return errors.Join(errs...)
}

// Stats counts what a sink did since it started.
type Stats struct {
	Received     int64 // messages read from Kafka
	Stored       int64 // rows inserted
	Duplicates   int64 // (key, version) already stored with the same content: upstream duplicates, not stored again
	Conflicts    int64 // (key, version) already stored with other content: kept in sink_conflict, not stored
	Skipped      int64 // messages below PostgreSQL's next_offset: already handled
	DeadLettered int64 // records stored in sink_dead_letter
	Lost         int64 // records deleted from Kafka before the sink stored them (a dead letter says where)
	Batches      int64 // committed transactions
	Retries      int64 // database operations retried
}

type counters struct {
	received, stored, duplicates, conflicts, skipped, deadLettered, lost, batches, retries atomic.Int64

	fallbacks atomic.Int64 // claims that started beyond next_offset and were read from it
	splits    atomic.Int64 // batches cut in two because they needed too many savepoints
}

// Sink consumes the weapon topics and stores them in PostgreSQL. Build it with New, run it
// with Run, once.
type Sink struct {
	cfg      Config
	log      *slog.Logger
	tables   map[string]string // topic -> table
	consumer string            // the sink's consumer group, and its name in the bookkeeping tables
	poolCfg  *pgxpool.Config
	kafkaCfg *sarama.Config // the group's: cfg.Kafka with the sink's assignment strategies and fetch sizes
	stats    counters
	dbDown   atomic.Bool
	obs      observation
	replayed bool // the replay's reset is done: a restart does not empty the tables again

	// Run's, while it runs.
	pool   *pgxpool.Pool
	store  *store
	client sarama.Client
	group  sarama.ConsumerGroup

	in    []chan *record    // decoded records, to each writer (writerOf: a partition's writer)
	flush []chan chan error // a flush request to each writer: write what is pending now

	sessMu sync.Mutex
	sess   sarama.ConsumerGroupSession // the current session, for the advisory Kafka commits
	starts map[kafka.Partition]int64   // PostgreSQL's next_offset of each claim of the session

	rebuildMu     sync.Mutex
	rebuildLogged time.Time // when waitRebuild last logged

	hooks testHooks
}

// testHooks are the tests' windows into a running sink (export_test.go sets them); production
// leaves them zero.
type testHooks struct {
	trace       func(event string) // "begin" once a batch's transaction holds its offsets, "commit" once committed
	onCommit    func(commit)       // after each committed transaction (the writers call it, maybe at once)
	noSetupSeek bool               // leave Kafka's committed offsets as they are, to exercise ConsumeClaim's checks
}

// New checks cfg and builds a sink, registering its metrics on cfg.Registry and its checks on
// cfg.Health. It connects to nothing: Run does.
func New(cfg Config) (*Sink, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	poolCfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("sink: config: DatabaseURL: %w", err)
	}
	poolCfg.MaxConns = int32(cfg.Writers + 2) // the writers, the offsets' load and a check
	poolCfg.ConnConfig.ConnectTimeout = 5 * time.Second
	poolCfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		registerJSONB(conn.TypeMap())
		return nil
	}
	consumer := string(cfg.Names.SinkConsumer())
	if cfg.Rebuild {
		consumer = string(cfg.Names.SinkRebuildConsumer())
		poolCfg.ConnConfig.RuntimeParams["search_path"] = migrations.RebuildSchema + ", public"
	}
	kcfg := *cfg.Kafka // the caller's config is not ours to change
	kcfg.Consumer.Group.InstanceId = cfg.InstanceID
	kcfg.Consumer.Group.Rebalance.Strategy = nil // sarama prefers it to GroupStrategies
	kcfg.Consumer.Group.Rebalance.GroupStrategies = groupStrategies()
	kcfg.Consumer.Fetch.Min, kcfg.Consumer.MaxWaitTime = fetchMin, fetchMaxWait
	s := &Sink{cfg: cfg, log: cfg.Logger, tables: topicTables(cfg.Names), consumer: consumer,
		poolCfg: poolCfg, kafkaCfg: &kcfg}
	if err := s.observe(); err != nil {
		return nil, err
	}
	return s, nil
}

// Stats returns the counts so far.
func (s *Sink) Stats() Stats {
	c := &s.stats
	return Stats{Received: c.received.Load(), Stored: c.stored.Load(), Duplicates: c.duplicates.Load(),
		Conflicts: c.conflicts.Load(), Skipped: c.skipped.Load(), DeadLettered: c.deadLettered.Load(),
		Lost: c.lost.Load(), Batches: c.batches.Load(), Retries: c.retries.Load()}
}

// logArgs are the counts as slog arguments, for the progress and summary lines.
func (st Stats) logArgs() []any {
	return []any{"received", st.Received, "stored", st.Stored, "duplicates", st.Duplicates,
		"conflicts", st.Conflicts, "skipped", st.Skipped, "dead_lettered", st.DeadLettered, "lost", st.Lost,
		"batches", st.Batches, "retries", st.Retries}
}

// Run consumes until ctx is done (nil: a clean stop) or a failure that retrying cannot cure
// (the error). It waits for Kafka and PostgreSQL first, and starts again after a failure that
// may go away (restartable). What was not committed when it stops is read again by the next run.
func (s *Sink) Run(ctx context.Context) error {
	if err := s.openPool(ctx); err != nil {
		return err
	}
	defer s.pool.Close()
	return s.restarting(ctx, s.runOnce)
}

// restarting calls run until it returns nil (a stop), ctx is done or it fails for good (not
// restartable), with a backoff between two runs.
func (s *Sink) restarting(ctx context.Context, run func(context.Context) error) error {
	delay := s.cfg.RetryMin
	for {
		err := run(ctx)
		if err == nil || ctx.Err() != nil || !restartable(err) {
			s.log.Info("sink stopped", s.Stats().logArgs()...)
			return err
		}
		s.log.Warn("sink failed, starting again", "err", err, "in", delay)
		sleep(ctx, delay)
		delay = min(2*delay, s.cfg.RetryMax)
	}
}

// openPool opens the database pool (lazily: connections are made when needed) and the store on
// it. The caller closes the pool.
func (s *Sink) openPool(ctx context.Context) error {
	pool, err := pgxpool.NewWithConfig(ctx, s.poolCfg)
	if err != nil {
		return fmt.Errorf("sink: database pool: %w", err)
	}
	s.pool, s.store = pool, &store{pool: pool, consumer: s.consumer, trace: s.hooks.trace}
	return nil
}

// runOnce connects to Kafka and PostgreSQL and consumes, until ctx is done or a failure.
func (s *Sink) runOnce(stop context.Context) error {
	ctx, cancel := context.WithCancelCause(stop)
	defer cancel(nil)
	// Stopped (SIGTERM) before Kafka and PostgreSQL ever answered: a failure to start
	// (startup.ErrNotStarted), not a clean stop. Stopped once connected, while replaying: a
	// clean stop, nothing was changed (the replay's reset is one transaction), and the next run
	// starts the same way.
	if err := s.connectKafka(ctx); err != nil {
		if errors.Is(err, startup.ErrNotStarted) {
			return err
		}
		return stoppedOr(stop, err)
	}
	defer func() { _ = s.group.Close(); _ = s.client.Close() }()
	monitorCtx, stopMonitor := context.WithCancel(context.Background())
	monitored := make(chan struct{})
	go func() { defer close(monitored); s.monitor(monitorCtx) }()
	defer func() { stopMonitor(); <-monitored }()
	if err := s.waitDatabase(ctx); err != nil {
		return err
	}
	if err := s.prepareDatabase(ctx); err != nil {
		return stoppedOr(stop, err)
	}
	return stoppedOr(stop, s.consume(ctx, cancel))
}

// prepareDatabase checks the schema and, for a replay, empties the tables and the offsets (once
// per Run).
func (s *Sink) prepareDatabase(ctx context.Context) error {
	if err := s.withRetry(ctx, "check the schema", func() error { return s.store.checkSchema(ctx) }); err != nil {
		return fmt.Errorf("sink: %w", explain(err))
	}
	if !s.cfg.Replay || s.replayed {
		return nil
	}
	if err := s.withRetry(ctx, "replay", func() error { return s.store.reset(ctx) }); err != nil {
		return fmt.Errorf("sink: replay: %w", err)
	}
	s.replayed = true
	s.log.Info("replay: tables emptied and offsets reset, consuming from offset zero")
	return nil
}

// consume runs the writers and the consumer group's sessions until ctx is done, and returns
// why it is (context.Cause: a failure that stopped the run, or the caller's stop).
func (s *Sink) consume(ctx context.Context, fail context.CancelCauseFunc) error {
	s.in, s.flush = make([]chan *record, s.cfg.Writers), make([]chan chan error, s.cfg.Writers)
	var wg sync.WaitGroup
	for i := range s.cfg.Writers {
		s.in[i], s.flush[i] = make(chan *record, s.cfg.BatchSize), make(chan chan error)
		wg.Go(func() { s.writeLoop(ctx, fail, s.in[i], s.flush[i]) })
	}
	wg.Go(func() { s.progressLoop(ctx) })
	go func() {
		for err := range s.group.Errors() {
			s.log.Warn("kafka consumer error", "err", err)
		}
	}()
	topics := make([]string, 0, len(s.tables))
	for _, t := range s.cfg.Names.WeaponTopics() {
		topics = append(topics, string(t))
	}
	s.log.Info("sink started", "topics", len(topics), "consumer", s.consumer,
		"batch_size", s.cfg.BatchSize, "batch_wait", s.cfg.BatchWait, "writers", s.cfg.Writers)
	for ctx.Err() == nil {
		if err := s.group.Consume(ctx, topics, &handler{s: s, ctx: ctx, fail: fail}); err != nil && ctx.Err() == nil {
			s.log.Warn("consumer group session ended, rejoining", "err", err)
			sleep(ctx, s.cfg.RetryMin)
		}
	}
	_ = s.group.Close()
	wg.Wait()
	return context.Cause(ctx)
}

// stoppedOr is nil if the caller stopped the Run (stop is its context: SIGTERM), else err. A
// failure is not taken for a stop because it wraps context.Canceled.
func stoppedOr(stop context.Context, err error) error {
	if stop.Err() != nil {
		return nil
	}
	return err
}

func (s *Sink) connectKafka(ctx context.Context) error {
	ping := func(ctx context.Context) error { return kafka.Ping(ctx, s.cfg.Brokers, s.kafkaCfg) }
	if err := s.waiter().Wait(ctx, kafka.Target(s.cfg.Brokers), ping, kafka.NotReady); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	return s.setupKafka(ctx)
}

// waiter is cfg.Startup, saying what it waits for in the sink's log.
func (s *Sink) waiter() startup.Waiter {
	w := s.cfg.Startup
	w.Log = s.log
	return w
}

// waitDatabase waits until PostgreSQL answers.
func (s *Sink) waitDatabase(ctx context.Context) error {
	target, err := startup.PostgresTarget(s.cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	if err := s.waiter().Wait(ctx, target, s.pool.Ping, startup.PostgresNotReady); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	return nil
}

// setupKafka creates the topics if asked, and the client and the consumer group.
func (s *Sink) setupKafka(ctx context.Context) error {
	if s.cfg.CreateTopics {
		specs := make([]kafka.TopicSpec, 0, len(s.tables))
		for t := range s.tables {
			specs = append(specs, kafka.TopicSpec{Name: t, Partitions: s.cfg.Partitions, Replication: s.cfg.Replication,
				Configs: kafka.Retained()})
		}
		if err := kafka.EnsureTopics(ctx, s.cfg.Brokers, s.kafkaCfg, specs); err != nil {
			return fmt.Errorf("sink: %w", err)
		}
	}
	client, err := sarama.NewClient(s.cfg.Brokers, s.kafkaCfg)
	if err != nil {
		return fmt.Errorf("sink: connect to Kafka at %v: %w", s.cfg.Brokers, err)
	}
	group, err := sarama.NewConsumerGroupFromClient(s.consumer, client)
	if err != nil {
		client.Close()
		return fmt.Errorf("sink: consumer group %s: %w", s.consumer, err)
	}
	s.client, s.group = client, group
	return nil
}

// The sink's fetches wait for fetchMin bytes (or fetchMaxWait), where sarama's default asks the
// broker to answer as soon as one byte is there. The sink reads every weapon topic's partitions
// (15 topics; 12 partitions each when this was measured, 2 by default now) in one fetch, and
// sarama uses no fetch sessions: each answer carries every partition, and a sink that keeps up
// with the router fetched a few records at a time. End to end (BenchmarkStackEndToEnd, 12 alternating pairs, docs/benchmarks.md) the
// sink's sarama fell from 0.93 to 0.52 CPU-s per snapshot and the sink's CPU from 3.8 to 3.3
// (medians); a record waits at most fetchMaxWait more (an idle fetch already waited 500 ms, the
// default). The router reads one topic's partitions: the same setting saved nothing
// measurable there, and the minimum is set here, for the sink's group only.
const (
	fetchMin     = 256 << 10
	fetchMaxWait = 250 * time.Millisecond
)

// groupStrategies are the assignment strategies the sink's consumer group may use, preferred
// first. Sticky spreads the partitions of all the weapon topics over any number of members (the
// kafka.Config that every client starts from has goka's copartitioning strategy, which suits the
// processor but gives a member the same partitions of every topic: members beyond the partition
// count idle, and topics of different partition counts cannot be assigned at all), and keeps a
// member's partitions across rebalances where it can. Copartitioning comes second only so that a
// sink of this version can join a group whose older members know nothing else (a rolling
// upgrade); the group switches to sticky once they are gone.
func groupStrategies() []sarama.BalanceStrategy {
	return []sarama.BalanceStrategy{sarama.NewBalanceStrategySticky(), goka.CopartitioningStrategy}
}

// withRetry runs f until it succeeds, fails for good (not retryable) or ctx is done, with an
// exponential backoff. It logs when the database goes down and when it is back, once each.
func (s *Sink) withRetry(ctx context.Context, what string, f func() error) error {
	delay := s.cfg.RetryMin
	done := s.obs.watch.Start(what)
	defer func() { done() }()
	for {
		err := f()
		if err == nil {
			if s.dbDown.CompareAndSwap(true, false) {
				s.log.Info("database available again", "while", what)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrRebuilding) {
			s.waitRebuild(ctx, err)
			done() // waiting for a re-processing is idle by design, not a stall
			done = s.obs.watch.Start(what)
			continue
		}
		if !retryable(err) {
			return notRetried(what, err)
		}
		if s.dbDown.CompareAndSwap(false, true) {
			s.log.Warn("database unavailable, retrying with backoff; offsets are not advanced",
				"while", what, "err", err)
		}
		s.stats.retries.Add(1)
		sleep(ctx, delay)
		delay = min(2*delay, s.cfg.RetryMax)
	}
}

// waitRebuild logs that the sink waits for a re-processing, at most every RebuildLogEvery, and
// waits a while before the caller checks again.
func (s *Sink) waitRebuild(ctx context.Context, err error) {
	s.rebuildMu.Lock()
	now := time.Now()
	due := now.Sub(s.rebuildLogged) >= s.cfg.RebuildLogEvery
	if due {
		s.rebuildLogged = now
	}
	s.rebuildMu.Unlock()
	if due {
		s.log.Warn("waiting: nothing is written while a re-processing is in progress", "reason", err)
	}
	sleep(ctx, s.cfg.RetryMax)
}

func (s *Sink) progressLoop(ctx context.Context) {
	if s.cfg.Progress == 0 {
		return
	}
	tick := time.NewTicker(s.cfg.Progress)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.log.Info("progress", s.Stats().logArgs()...)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
