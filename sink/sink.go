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
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
	"github.com/mhfz/mhfz-pipeline/internal/startup"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// Config configures a Sink. Brokers, DatabaseURL and Logger are required; zero values of the
// others take the defaults in parentheses.
type Config struct {
	Brokers     []string
	DatabaseURL string
	Names       codecs.Names   // topic and group names (production naming)
	Kafka       *sarama.Config // (kafka.Config("mhfz-sink"))
	Logger      *slog.Logger

	BatchSize int           // records per transaction at most (5000)
	BatchWait time.Duration // how long a partial batch waits for more records (200ms)
	Writers   int           // transactions written at once, each over its own share of the partitions (2)
	Replay    bool          // empty the tables and offsets first, then consume from offset zero

	// Rebuild makes this the sink of a re-processing (mhfz reprocess): it writes the tables of
	// migrations.RebuildSchema as consumer Names.SinkRebuildConsumer, and Rebuild.Switch later puts them in
	// place of the live ones. A sink without it writes nothing while a re-processing is in progress.
	Rebuild bool

	RetryMin time.Duration // first backoff after a database failure (100ms)
	RetryMax time.Duration // longest backoff (5s)
	Progress time.Duration // interval of the progress logs (10s; negative: none)

	// Startup is how Run waits at start for Kafka, then PostgreSQL: saying what it waits for,
	// failing at once on what waiting cannot change (a wrong password), for at most its
	// Timeout (0: until stopped). Its Log defaults to Logger.
	Startup startup.Waiter

	RebuildLogEvery time.Duration // interval of the logs while a re-processing holds the sink (10s)

	// InstanceID, if set, makes the sink a static member of its consumer group: restarted with
	// the same id (a container's restart), it gets its partitions back at once instead of
	// waiting for the group to evict its former self. Each replica needs its own.
	InstanceID string

	// Topics, when Partitions > 0, are created if missing (as the processor would create them).
	Partitions  int32
	Replication int16

	// Registry, if set, gets the sink's metrics (Metrics); Health, if set, its checks: alive
	// while no batch and no database call has been pending for longer than StallTimeout (5m),
	// ready while Kafka and PostgreSQL answer and partitions are assigned. Both are measured every
	// LagEvery (5s), with the lag per partition.
	Registry     prometheus.Registerer
	Health       *observe.Health
	StallTimeout time.Duration
	LagEvery     time.Duration

	// Trace, if set, is called with "begin" once a batch's transaction holds its offsets and
	// "commit" once it has committed (the crash tests kill the sink on them).
	Trace func(event string)

	// OnCommit, if set, is called after each committed transaction with what it held and when
	// (the tests of parallel sinks check from it who owned which partition when); the writers
	// call it, possibly at the same time.
	OnCommit func(Commit)
}

// Commit describes one committed transaction of a sink. It held the locks of its partitions'
// offsets at least from Locked to Written (they are released at the commit, between Written and
// Committed): two transactions whose [Locked, Written] overlap held their locks at the same time.
type Commit struct {
	Partitions []Partition // whose offsets it locked and moved
	Locked     time.Time   // when it held their offsets' locks
	Written    time.Time   // when it had written everything, before its COMMIT
	Committed  time.Time   // when it had committed
	Records    int         // in its batch
}

// Partition names one Kafka partition.
type Partition struct {
	Topic string
	ID    int32
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
	cfg    Config
	log    *slog.Logger
	tables map[string]string // topic -> table
	pool   *pgxpool.Pool
	store  *store
	stats  counters
	dbDown atomic.Bool
	obs    observation

	client sarama.Client
	group  sarama.ConsumerGroup

	in    []chan *record    // decoded records, to each writer (writerOf: a partition's writer)
	flush []chan chan error // a flush request to each writer: write what is pending now

	sessMu sync.Mutex
	sess   sarama.ConsumerGroupSession // the current session, for the advisory Kafka commits
	starts map[partition]int64         // PostgreSQL's next_offset of each claim of the session

	rebuildMu     sync.Mutex
	rebuildLogged time.Time // when waitRebuild last logged

	noSetupSeek bool // tests: leave Kafka's committed offsets as they are, to exercise ConsumeClaim's checks
}

// New validates cfg and connects the clients (lazily: a database or broker that is down is not
// an error yet).
func New(cfg Config) (*Sink, error) {
	switch {
	case len(cfg.Brokers) == 0:
		return nil, errors.New("sink: no Kafka brokers given")
	case cfg.DatabaseURL == "":
		return nil, errors.New("sink: no database URL given")
	case cfg.Logger == nil:
		return nil, errors.New("sink: no logger given")
	case cfg.Rebuild && cfg.Replay:
		return nil, errors.New("sink: Rebuild and Replay exclude each other (a re-processing starts from empty tables)")
	case cfg.StallTimeout < 0 || cfg.LagEvery < 0:
		return nil, fmt.Errorf("sink: negative stall timeout %s or lag interval %s", cfg.StallTimeout, cfg.LagEvery)
	case cfg.BatchSize < 0 || cfg.BatchWait < 0 || cfg.RetryMin < 0 || cfg.RetryMax < 0 || cfg.Writers < 0:
		return nil, fmt.Errorf("sink: negative batch size %d, batch wait %s, retry delay %s/%s or writers %d",
			cfg.BatchSize, cfg.BatchWait, cfg.RetryMin, cfg.RetryMax, cfg.Writers)
	}
	setDefaults(&cfg)
	poolCfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("sink: database URL: %w", err)
	}
	poolCfg.MaxConns = int32(cfg.Writers + 2) // the writers, the offsets' load and a check
	consumer := string(cfg.Names.SinkConsumer())
	if cfg.Rebuild {
		consumer = string(cfg.Names.SinkRebuildConsumer())
		poolCfg.ConnConfig.RuntimeParams["search_path"] = migrations.RebuildSchema + ", public"
	}
	poolCfg.ConnConfig.ConnectTimeout = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(context.Background(), poolCfg)
	if err != nil {
		return nil, fmt.Errorf("sink: database pool: %w", err)
	}
	s := &Sink{
		cfg: cfg, log: cfg.Logger, tables: topicTables(cfg.Names), pool: pool,
		store: &store{pool: pool, consumer: consumer, trace: cfg.Trace},
	}
	for range cfg.Writers {
		s.in = append(s.in, make(chan *record, cfg.BatchSize))
		s.flush = append(s.flush, make(chan chan error))
	}
	if err := s.observe(); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func setDefaults(cfg *Config) {
	if cfg.Kafka == nil {
		cfg.Kafka = kafka.Config("mhfz-sink")
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 5000
	}
	if cfg.BatchWait == 0 {
		cfg.BatchWait = 200 * time.Millisecond
	}
	if cfg.Writers == 0 {
		cfg.Writers = 2
	}
	if cfg.RetryMin == 0 {
		cfg.RetryMin = 100 * time.Millisecond
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 5 * time.Second
	}
	if cfg.RebuildLogEvery == 0 {
		cfg.RebuildLogEvery = 10 * time.Second
	}
	if cfg.Progress == 0 {
		cfg.Progress = 10 * time.Second
	}
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = observe.DefaultStallTimeout
	}
	if cfg.LagEvery == 0 {
		cfg.LagEvery = 5 * time.Second
	}
	if cfg.Trace == nil {
		cfg.Trace = func(string) {}
	}
	if cfg.Startup.Log == nil {
		cfg.Startup.Log = cfg.Logger
	}
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
// (the error). What was not committed when it stops is read again by the next run.
func (s *Sink) Run(ctx context.Context) error {
	defer s.pool.Close()
	stop := ctx
	ctx, cancel := context.WithCancelCause(ctx)
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
	defer s.client.Close()
	monitorCtx, stopMonitor := context.WithCancel(context.Background())
	monitored := make(chan struct{})
	go func() { defer close(monitored); s.monitor(monitorCtx) }()
	defer func() { stopMonitor(); <-monitored }()
	if err := s.waitDatabase(ctx); err != nil {
		return err
	}
	if err := s.withRetry(ctx, "check the schema", func() error { return s.store.checkSchema(ctx) }); err != nil {
		return stoppedOr(stop, fmt.Errorf("sink: %w", explain(err)))
	}
	if s.cfg.Replay {
		if err := s.withRetry(ctx, "replay", func() error { return s.store.reset(ctx) }); err != nil {
			return stoppedOr(stop, fmt.Errorf("sink: replay: %w", err))
		}
		s.log.Info("replay: tables emptied and offsets reset, consuming from offset zero")
	}
	var wg sync.WaitGroup
	for i := range s.cfg.Writers {
		wg.Add(1)
		go func() { defer wg.Done(); s.writeLoop(ctx, cancel, s.in[i], s.flush[i]) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); s.progressLoop(ctx) }()
	go func() {
		for err := range s.group.Errors() {
			s.log.Warn("kafka consumer error", "err", err)
		}
	}()

	topics := make([]string, 0, len(s.tables))
	for _, t := range s.cfg.Names.WeaponTopics() {
		topics = append(topics, string(t))
	}
	s.log.Info("sink started", "topics", len(topics), "consumer", s.store.consumer,
		"batch_size", s.cfg.BatchSize, "batch_wait", s.cfg.BatchWait, "writers", s.cfg.Writers)
	for ctx.Err() == nil {
		if err := s.group.Consume(ctx, topics, &handler{s: s, ctx: ctx, fail: cancel}); err != nil && ctx.Err() == nil {
			s.log.Warn("consumer group session ended, rejoining", "err", err)
			sleep(ctx, s.cfg.RetryMin)
		}
	}
	_ = s.group.Close()
	wg.Wait()
	s.log.Info("sink stopped", s.Stats().logArgs()...)
	return stoppedOr(stop, context.Cause(ctx))
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
	ping := func(ctx context.Context) error { return kafka.Ping(ctx, s.cfg.Brokers, s.cfg.Kafka) }
	if err := s.cfg.Startup.Wait(ctx, kafka.Target(s.cfg.Brokers), ping, kafka.NotReady); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	return s.setupKafka(ctx)
}

// waitDatabase waits until PostgreSQL answers.
func (s *Sink) waitDatabase(ctx context.Context) error {
	target, err := startup.PostgresTarget(s.cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	if err := s.cfg.Startup.Wait(ctx, target, s.pool.Ping, startup.PostgresNotReady); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	return nil
}

// setupKafka creates the topics if asked, and the client and the consumer group.
func (s *Sink) setupKafka(ctx context.Context) error {
	if s.cfg.Partitions > 0 {
		specs := make([]kafka.TopicSpec, 0, len(s.tables))
		for t := range s.tables {
			specs = append(specs, kafka.TopicSpec{Name: t, Partitions: s.cfg.Partitions, Replication: s.cfg.Replication,
				Configs: kafka.Retained()})
		}
		if err := kafka.EnsureTopics(ctx, s.cfg.Brokers, s.cfg.Kafka, specs); err != nil {
			return fmt.Errorf("sink: %w", err)
		}
	}
	kcfg := *s.cfg.Kafka // the caller's config is not ours to change
	kcfg.Consumer.Group.InstanceId = s.cfg.InstanceID
	kcfg.Consumer.Group.Rebalance.Strategy = nil // sarama prefers it to GroupStrategies
	kcfg.Consumer.Group.Rebalance.GroupStrategies = groupStrategies()
	s.cfg.Kafka = &kcfg
	client, err := sarama.NewClient(s.cfg.Brokers, s.cfg.Kafka)
	if err != nil {
		return fmt.Errorf("sink: connect to Kafka at %v: %w", s.cfg.Brokers, err)
	}
	group, err := sarama.NewConsumerGroupFromClient(s.store.consumer, client)
	if err != nil {
		client.Close()
		return fmt.Errorf("sink: consumer group %s: %w", s.store.consumer, err)
	}
	s.client, s.group = client, group
	return nil
}

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
			return err
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
	if s.cfg.Progress < 0 {
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
