package processors

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/lovoo/goka"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/startup"
)

// Run runs the router until ctx ends: it waits for Kafka (saying so in the log), creates the
// router's topics (EnsureTopics), runs the goka processor and starts it again after a Kafka
// failure that passes by itself (kafka.Transient), measures the lag (with Config.Registry or
// Config.Health) and logs progress every Config.Progress. It returns nil when the caller stopped
// it; an error that wraps startup.ErrNotStarted when Kafka never answered or the topics could not
// be created; any other error stopped the router (exit status 1; a restart of the service may
// pass it). A Router runs once.
func (r *Router) Run(ctx context.Context) error {
	if r.onKafka() {
		if err := r.setup(ctx); err != nil {
			return notStarted{err}
		}
	}
	k, names := r.cfg.Kafka, r.cfg.Names
	r.cfg.Logger.Info("router starting", "group", names.RouterGroup(), "input", names.WeaponData(),
		"brokers", k.Brokers, "storage", k.StoragePath)
	start := time.Now()
	bg, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.logProgress(bg) }()
	go func() { defer wg.Done(); r.measureLag(bg) }()
	err := r.supervise(ctx)
	stop()
	wg.Wait()
	elapsed := time.Since(start)
	r.cfg.Logger.Info("router stopped", append(r.Stats().LogAttrs(), "duration", elapsed.Round(time.Millisecond))...)
	if err != nil {
		return fmt.Errorf("router %s: %w", names.RouterGroup(), err)
	}
	return nil
}

// notStarted is an error of the router's setup: a failure to start (startup.ErrNotStarted).
type notStarted struct{ err error }

func (e notStarted) Error() string   { return e.err.Error() }
func (e notStarted) Unwrap() []error { return []error{e.err, startup.ErrNotStarted} }

// setup waits for Kafka and creates the topics, within Config.SetupTimeout.
func (r *Router) setup(ctx context.Context) error {
	k := r.cfg.Kafka
	w := startup.Waiter{Log: r.cfg.Logger, Every: r.cfg.WaitEvery, Timeout: r.cfg.SetupTimeout}
	ping := func(ctx context.Context) error { return kafka.Ping(ctx, k.Brokers, k.Config) }
	if err := w.Wait(ctx, kafka.Target(k.Brokers), ping, kafka.NotReady); err != nil {
		return err
	}
	setupCtx, cancel := context.WithCancel(ctx)
	if r.cfg.SetupTimeout > 0 {
		setupCtx, cancel = context.WithTimeout(ctx, r.cfg.SetupTimeout)
	}
	defer cancel()
	return EnsureTopics(setupCtx, r.cfg.Names, k)
}

// supervise runs goka processors until ctx ends. A processor stopped by a Kafka failure that
// passes by itself is followed, after a pause, by a new one, which starts from the group's
// committed offsets and its local table: goka gives up at the first error of its consumer group,
// and a broker that dies while it coordinates the group (connection refused until the cluster
// moves the group to another one) would otherwise stop the processor, where sarama's clients and
// the other stages wait. Any other error ends the run: nobody classified it (kafka.Transient is
// an allow-list), so it is not retried forever.
func (r *Router) supervise(ctx context.Context) error {
	pause := r.pause
	for {
		started := time.Now()
		transient, err := r.runOnce(ctx)
		if ctx.Err() != nil {
			// A stop: goka reports one that comes while it recovers its table as an error of
			// its own ("context closed while waiting for startup tables"), not context.Canceled.
			return nil
		}
		switch {
		case err == nil:
			return nil
		case !transient:
			return fmt.Errorf("stopped by an error that is not a Kafka failure known to pass, so not retried: %w", err)
		}
		if time.Since(started) > 2*r.maxPause {
			pause = r.pause // it had been running fine: a new failure
		}
		r.cfg.Logger.Warn("router stopped by a Kafka failure that may pass (a broker down, a leader or coordinator moving): "+
			"starting it again", "err", err, "in", pause)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, r.maxPause)
	}
}

// runOnce makes a goka processor and runs it until it stops; transient says whether its error is
// a Kafka failure that passes by itself.
func (r *Router) runOnce(ctx context.Context) (transient bool, err error) {
	p, tms, err := r.nextProcessor()
	if err == nil {
		r.current.Store(p)
		err = p.Run(ctx)
	}
	transient = kafka.Transient(err)
	if tms != nil && !transient {
		// goka keeps only the text of its topic manager's errors: the probe kept their type.
		transient = kafka.Transient(tms.Failure())
	}
	return transient, err
}

// nextProcessor is the processor New made on goka's tester, or a new one on Kafka with the topic
// managers it builds.
func (r *Router) nextProcessor() (*goka.Processor, *kafka.ProbingTopicManagers, error) {
	if !r.onKafka() {
		if p := r.tester; p != nil {
			r.tester = nil
			return p, nil, nil
		}
		p, err := r.processor(nil)
		return p, nil, err
	}
	kopts, tms, err := r.cfg.Kafka.options()
	if err != nil {
		return nil, nil, fmt.Errorf("new router %s: %w", r.cfg.Names.RouterGroup(), err)
	}
	kopts = append(kopts, goka.WithLogger(kafka.GokaLogger(r.cfg.Logger)))
	p, err := r.processor(kopts)
	return p, tms, err
}

// logProgress logs the counters and the rate every Config.Progress until ctx ends.
func (r *Router) logProgress(ctx context.Context) {
	every := r.cfg.Progress
	if every == 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s := r.Stats()
			rate := float64(s.Read-last) / every.Seconds()
			last = s.Read
			r.cfg.Logger.Info("progress", append(s.LogAttrs(), "records_per_s", int64(rate))...)
		}
	}
}

// measureLag runs the lag monitor until ctx ends, when the router runs on Kafka and shows its
// metrics or health.
func (r *Router) measureLag(ctx context.Context) {
	if r.onKafka() && (r.cfg.Registry != nil || r.cfg.Health != nil) {
		r.monitor.Run(ctx)
	}
}
