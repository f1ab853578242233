package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
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
	fs.stringVar(&r.storage, "storage", "MHFZ_PROCESS_STORAGE", "data/router",
		"folder of the group table's local copy (a volume: kept between restarts, else re-read from Kafka)")
	fs.intVar(&r.maxMessage, "max-message-bytes", "MHFZ_PROCESS_MAX_MESSAGE_BYTES", processors.DefaultMaxMessageBytes,
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
func (r *routerFlags) setup(k kafkaFlags, cfg *sarama.Config) processors.KafkaSetup {
	return processors.KafkaSetup{Brokers: k.brokers, Config: cfg, Partitions: int32(k.partitions),
		Replication: int16(k.replication), StoragePath: r.storage}
}

func parseProcessFlags(args []string, output io.Writer) (*processOptions, error) {
	o := &processOptions{}
	fs := newFlagSet("process", "process [flags]", output)
	o.kafka.register(fs)
	o.router.register(fs)
	fs.durationVar(&o.progress, "progress", "MHFZ_PROGRESS_INTERVAL", 10*time.Second,
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

// runProcess runs the router until ctx ends (SIGTERM, SIGINT) or Kafka fails: it creates the
// topics, logs progress and a summary. A clean stop returns nil;
// a Kafka failure returns it (exit status 1; retryable: restart the service).
func runProcess(ctx context.Context, args []string, env runEnv) error {
	stdout, log := env.stdout, env.log
	o, err := parseProcessFlags(args, stdout)
	if err != nil {
		return err
	}
	names := o.kafka.names()
	obs, stopServing, err := o.observe.start(env)
	if err != nil {
		return err
	}
	defer stopServing()
	cfg := kafka.Config("mhfz-process")
	if err := waitForKafka(ctx, env, o.kafka.brokers, cfg, o.router.setupWithin); err != nil {
		return fmt.Errorf("process: %w", err)
	}
	setup := o.router.setup(o.kafka, cfg)
	setupCtx, cancel := setupContext(ctx, o.router.setupWithin)
	defer cancel()
	if err := processors.EnsureTopics(setupCtx, names, setup); err != nil {
		return fmt.Errorf("process: %w", err)
	}
	opts, err := setup.Options()
	if err != nil {
		return fmt.Errorf("process: %w", err)
	}
	opts = append(opts, goka.WithLogger(kafka.GokaLogger(log)))
	stats := processors.NewStats()
	routerCfg := processors.RouterConfig{MaxMessageBytes: o.router.maxMessage, Logger: log, Stats: stats}
	log.Info("router starting", "group", names.RouterGroup(), "input", names.WeaponData(),
		"brokers", o.kafka.brokers, "storage", o.router.storage)
	monitor := &routerMonitor{names: names, setup: setup, obs: obs, stall: o.observe.stall}
	start := time.Now()
	done := make(chan struct{})
	go logProgress(log, stats, o.progress, done)
	err = runRouter(ctx, log, o.kafka.brokers, names, routerCfg, opts, monitor.follow)
	close(done)
	monitor.stop()
	s := stats.Snapshot()
	elapsed := time.Since(start)
	log.Info("router stopped", append(s.LogAttrs(), "duration", elapsed.Round(time.Millisecond))...)
	fmt.Fprintf(stdout, "process: read %d, forwarded %d, re-emitted %d, unchanged %d, stale %d, dead letters %d, in %s\n",
		s.Read, s.Forwarded, s.Reemitted, s.Unchanged, s.Stale, s.DeadLetters, elapsed.Round(time.Millisecond))
	if err != nil && !(errors.Is(err, context.Canceled) && ctx.Err() != nil) { // stopped, not failed
		return fmt.Errorf("process: router %s: %w", names.RouterGroup(), err)
	}
	return nil
}

// routerMonitor registers the router's metrics and checks on obs (none if nil) and measures its
// lag, following each router runRouter starts, until stop.
type routerMonitor struct {
	names   codecs.Names
	setup   processors.KafkaSetup
	obs     *observe.Service
	stall   time.Duration
	monitor *processors.Monitor
	cancel  context.CancelFunc
	done    chan struct{}
}

func (m *routerMonitor) follow(router *processors.Router) error {
	switch {
	case m.obs == nil:
		return nil
	case m.monitor != nil:
		return m.monitor.Follow(router)
	}
	mon, err := router.Observe(m.names, m.setup, m.obs.Registry, m.obs.Health, observe.DefaultLagEvery, m.stall)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.monitor, m.cancel, m.done = mon, cancel, make(chan struct{})
	go func() { defer close(m.done); mon.Run(ctx) }()
	return nil
}

func (m *routerMonitor) stop() {
	if m.cancel != nil {
		m.cancel()
		<-m.done
	}
}

// runRouter runs the router until ctx ends. A router stopped by a Kafka failure that passes by
// itself is started again, after a pause, from its group's committed offsets and its local
// table: goka gives up at the first error of its consumer group, and a broker that dies while it
// coordinates the group (connection refused until the cluster moves the group to another one)
// would otherwise stop the processor, where sarama's clients and the other stages wait. Any other
// error ends the run.
// Each router made is passed to onStart before it runs.
func runRouter(ctx context.Context, log *slog.Logger, brokers []string, names codecs.Names,
	cfg processors.RouterConfig, opts []goka.ProcessorOption, onStart func(*processors.Router) error) error {
	const maxPause = 30 * time.Second
	pause := time.Second
	for {
		router, err := processors.NewRouter(brokers, names, cfg, opts...)
		started := time.Now()
		if err == nil {
			err = onStart(router)
		}
		if err == nil {
			err = router.Processor.Run(ctx)
		}
		if ctx.Err() != nil {
			// A stop: goka reports one that comes while it recovers its table as an error of
			// its own ("context closed while waiting for startup tables"), not context.Canceled.
			return nil
		}
		if err == nil || !(kafka.Retriable(err) || kafka.Unreachable(err)) {
			return err
		}
		if time.Since(started) > 2*maxPause {
			pause = time.Second // it had been running fine: a new failure
		}
		log.Warn("router stopped by a Kafka failure that may pass (a broker down, a leader or coordinator moving): "+
			"starting it again", "err", err, "in", pause)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, maxPause)
	}
}

// logProgress logs the counters and the rate every interval until done.
func logProgress(log *slog.Logger, stats *processors.Stats, every time.Duration, done <-chan struct{}) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-done:
			return
		case <-t.C:
			s := stats.Snapshot()
			rate := float64(s.Read-last) / every.Seconds()
			last = s.Read
			log.Info("progress", append(s.LogAttrs(), "records_per_s", int64(rate))...)
		}
	}
}
