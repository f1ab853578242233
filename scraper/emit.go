package scraper

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// EmitterOptions configure an Emitter. Start from DefaultEmitterOptions(): a zero is no default.
type EmitterOptions struct {
	MaxInFlight  int           // records sent but not yet acknowledged, at most
	WaitLogEvery time.Duration // how often records waiting while none is acknowledged are logged
	Log          *slog.Logger
}

// DefaultEmitterOptions are the emitter's options of `mhfz scrape` without flags.
func DefaultEmitterOptions() EmitterOptions {
	return EmitterOptions{MaxInFlight: 10000, WaitLogEvery: 10 * time.Second, Log: slog.Default()}
}

// Emitter sends raw records to the weapon_data topic with a goka Emitter, asynchronously, with
// a bound on the records waiting for their acknowledgement. Every promise is checked: Close
// reports every record the broker did not acknowledge, so nothing is lost silently. While
// records wait and none is acknowledged (Kafka is down or unreachable), it says so every
// WaitLogEvery, with how many wait.
type Emitter struct {
	emitter  *goka.Emitter
	topic    codecs.Topic
	opts     EmitterOptions
	inflight chan struct{}
	wg       sync.WaitGroup
	waiting  atomic.Int64 // sent, not yet acknowledged nor failed
	settled  atomic.Int64 // acknowledged or failed, since the start
	acked    atomic.Int64
	failed   atomic.Int64 // since the last Flush
	mu       sync.Mutex
	firstErr error
	stop     chan struct{}
	stopOnce sync.Once
	watched  chan struct{}
}

// NewEmitter builds an emitter on topic with the producer of cfg (kafka.Config: acks from all
// in-sync replicas, idempotent, LZ4), keyed by the record key.
func NewEmitter(brokers []string, topic codecs.Topic, cfg *sarama.Config, opts EmitterOptions) (*Emitter, error) {
	switch {
	case len(brokers) == 0:
		return nil, errors.New("new emitter: no brokers")
	case topic == "":
		return nil, errors.New("new emitter: empty topic")
	case cfg == nil:
		return nil, errors.New("new emitter: nil sarama config")
	case opts.MaxInFlight < 1:
		return nil, fmt.Errorf("new emitter: max in flight must be at least 1, got %d", opts.MaxInFlight)
	case opts.WaitLogEvery <= 0:
		return nil, fmt.Errorf("new emitter: wait log interval must be positive, got %v", opts.WaitLogEvery)
	case opts.Log == nil:
		return nil, errors.New("new emitter: nil logger")
	}
	em, err := goka.NewEmitter(brokers, goka.Stream(topic), codecs.RawCodec{},
		goka.WithEmitterProducerBuilder(goka.ProducerBuilderWithConfig(cfg)))
	if err != nil {
		return nil, fmt.Errorf("new emitter on %s: %w", topic, err)
	}
	e := &Emitter{emitter: em, topic: topic, opts: opts, inflight: make(chan struct{}, opts.MaxInFlight),
		stop: make(chan struct{}), watched: make(chan struct{})}
	go e.watch()
	return e, nil
}

// watch logs, every WaitLogEvery, the records that wait for their acknowledgement when none was
// settled since the last look: sarama retries a broker that is down for a long time before it
// fails a record, and without this the scrape would just look stuck.
func (e *Emitter) watch() {
	defer close(e.watched)
	tick := time.NewTicker(e.opts.WaitLogEvery)
	defer tick.Stop()
	log := e.opts.Log.With("topic", e.topic)
	lastSettled, lastTick := e.settled.Load(), time.Now()
	var stalledSince time.Time
	for {
		var now time.Time
		select {
		case <-e.stop:
			return
		case now = <-tick.C:
		}
		settled, waiting := e.settled.Load(), e.waiting.Load()
		switch {
		case waiting > 0 && settled == lastSettled:
			if stalledSince.IsZero() {
				stalledSince = lastTick
			}
			log.Warn("records wait for Kafka's acknowledgement; none acknowledged lately (is Kafka down?)",
				"waiting", waiting, "stalled_for", now.Sub(stalledSince).Round(time.Millisecond),
				"acknowledged_so_far", e.acked.Load())
		case !stalledSince.IsZero():
			log.Info("the wait for Kafka is over: records are acknowledged or failed again", "waiting", waiting,
				"stalled_for", now.Sub(stalledSince).Round(time.Millisecond), "acknowledged_so_far", e.acked.Load())
			stalledSince = time.Time{}
		}
		lastSettled, lastTick = settled, now
	}
}

// Emit sends one record. It blocks while maxInFlight records wait for their acknowledgement,
// and returns the first failure seen so far (an asynchronous one included), so that a scrape
// stops early when the broker refuses records. Broker errors are retryable by sarama itself;
// one that reaches here is after sarama's retries.
func (e *Emitter) Emit(r *codecs.RawRecord) error {
	if err := e.Err(); err != nil {
		return err
	}
	e.waiting.Add(1)
	e.inflight <- struct{}{}
	e.wg.Add(1)
	promise, err := e.emitter.Emit(r.Key, r)
	if err != nil {
		e.settle()
		e.fail(fmt.Errorf("emit %s to %s: %w", r.Key, e.topic, err))
		return e.Err()
	}
	key := r.Key
	promise.Then(func(err error) {
		defer e.settle()
		if err != nil {
			e.fail(fmt.Errorf("emit %s to %s: %w", key, e.topic, err))
			return
		}
		e.acked.Add(1)
	})
	return nil
}

// settle ends the wait of one record.
func (e *Emitter) settle() {
	e.waiting.Add(-1)
	e.settled.Add(1)
	<-e.inflight
	e.wg.Done()
}

func (e *Emitter) fail(err error) {
	e.failed.Add(1)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.firstErr == nil {
		e.firstErr = err
	}
}

// Err is the first failure so far, if any.
func (e *Emitter) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.firstErr
}

// Flush waits until every record sent so far is acknowledged or failed, and returns the first
// failure (with the count of failed records). It then forgets the failures, so that the next
// round of a repeated scrape starts afresh.
func (e *Emitter) Flush() error {
	e.wg.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	err, failed := e.firstErr, e.failed.Swap(0)
	e.firstErr = nil
	if err != nil {
		return fmt.Errorf("%d records not acknowledged, the first: %w", failed, err)
	}
	return nil
}

// Acked is the number of records the broker acknowledged.
func (e *Emitter) Acked() int64 { return e.acked.Load() }

// Waiting is the number of records sent and not yet acknowledged nor failed.
func (e *Emitter) Waiting() int64 { return e.waiting.Load() }

// Close flushes and closes the producer.
func (e *Emitter) Close() error {
	flushErr := e.Flush()
	e.stopOnce.Do(func() { close(e.stop) })
	<-e.watched
	if err := e.emitter.Finish(); err != nil {
		return errors.Join(flushErr, fmt.Errorf("close emitter on %s: %w", e.topic, err))
	}
	return flushErr
}
