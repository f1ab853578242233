package scraper

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// Emitter sends raw records to the weapon_data topic with a goka Emitter, asynchronously, with
// a bound on the records waiting for their acknowledgement. Every promise is checked: Close
// reports every record the broker did not acknowledge, so nothing is lost silently.
type Emitter struct {
	emitter  *goka.Emitter
	topic    codecs.Topic
	inflight chan struct{}
	wg       sync.WaitGroup
	acked    atomic.Int64
	failed   atomic.Int64
	mu       sync.Mutex
	firstErr error
}

// NewEmitter builds an emitter on topic with the producer of cfg (kafka.Config: acks from all
// in-sync replicas, idempotent, LZ4), keyed by the record key. maxInFlight bounds the records
// sent but not yet acknowledged.
func NewEmitter(brokers []string, topic codecs.Topic, cfg *sarama.Config, maxInFlight int) (*Emitter, error) {
	switch {
	case len(brokers) == 0:
		return nil, errors.New("new emitter: no brokers")
	case topic == "":
		return nil, errors.New("new emitter: empty topic")
	case cfg == nil:
		return nil, errors.New("new emitter: nil sarama config")
	case maxInFlight < 1:
		return nil, fmt.Errorf("new emitter: max in flight must be at least 1, got %d", maxInFlight)
	}
	em, err := goka.NewEmitter(brokers, goka.Stream(topic), codecs.RawCodec{},
		goka.WithEmitterProducerBuilder(goka.ProducerBuilderWithConfig(cfg)))
	if err != nil {
		return nil, fmt.Errorf("new emitter on %s: %w", topic, err)
	}
	return &Emitter{emitter: em, topic: topic, inflight: make(chan struct{}, maxInFlight)}, nil
}

// Emit sends one record. It blocks while maxInFlight records wait for their acknowledgement,
// and returns the first failure seen so far (an asynchronous one included), so that a scrape
// stops early when the broker refuses records. Broker errors are retryable by sarama itself;
// one that reaches here is after sarama's retries.
func (e *Emitter) Emit(r *codecs.RawRecord) error {
	if err := e.Err(); err != nil {
		return err
	}
	e.inflight <- struct{}{}
	e.wg.Add(1)
	promise, err := e.emitter.Emit(r.Key, r)
	if err != nil {
		<-e.inflight
		e.wg.Done()
		e.fail(fmt.Errorf("emit %s to %s: %w", r.Key, e.topic, err))
		return e.Err()
	}
	key := r.Key
	promise.Then(func(err error) {
		defer e.wg.Done()
		<-e.inflight
		if err != nil {
			e.fail(fmt.Errorf("emit %s to %s: %w", key, e.topic, err))
			return
		}
		e.acked.Add(1)
	})
	return nil
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

// Close flushes and closes the producer.
func (e *Emitter) Close() error {
	flushErr := e.Flush()
	if err := e.emitter.Finish(); err != nil {
		return errors.Join(flushErr, fmt.Errorf("close emitter on %s: %w", e.topic, err))
	}
	return flushErr
}
