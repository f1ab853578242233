package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
)

// ElectionWait is how long a lookup waits out a leader election before it fails: as long as
// the producers' retries (Config), longer than a broker's fencing (broker.session.timeout.ms,
// 9 s by default) and the election after it.
const ElectionWait = 40 * time.Second

// RetryingTopicManager builds goka topic managers whose lookups (a partition's offsets, a
// topic's partitions) retry Kafka's retriable errors for up to ElectionWait. goka asks for the
// offsets of its table's partitions when a partition is assigned to the processor, and gives up
// at the first error: a processor started, or rebalanced, while a broker restarts (its
// partitions' leaders move, "not the leader for some partition") would stop instead of waiting
// for the new leader.
func RetryingTopicManager(build goka.TopicManagerBuilder) goka.TopicManagerBuilder {
	return func(brokers []string) (goka.TopicManager, error) {
		tm, err := build(brokers)
		if err != nil {
			return nil, err
		}
		return retryingTopicManager{tm}, nil
	}
}

type retryingTopicManager struct {
	goka.TopicManager
}

func (m retryingTopicManager) GetOffset(topic string, partition int32, time int64) (int64, error) {
	var offset int64
	err := retryLookup(fmt.Sprintf("offset of %s/%d", topic, partition), func() error {
		var err error
		offset, err = m.TopicManager.GetOffset(topic, partition, time)
		return err
	})
	return offset, err
}

func (m retryingTopicManager) Partitions(topic string) ([]int32, error) {
	var parts []int32
	err := retryLookup("partitions of "+topic, func() error {
		var err error
		parts, err = m.TopicManager.Partitions(topic)
		return err
	})
	return parts, err
}

func retryLookup(what string, f func() error) error {
	ctx, cancel := context.WithTimeout(context.Background(), ElectionWait)
	defer cancel()
	return Retry(ctx, what, 250*time.Millisecond, f)
}

// ProbingTopicManagers builds goka topic managers (RetryingTopicManager) and keeps, typed, why
// the last one could not be built. goka's topic manager checks a broker of the cluster when it
// is made, and goka formats that failure with %v (a broker down fails a new processor whenever
// goka checks it first, while the others would answer): when a build fails, the brokers are
// probed with sarama, whose errors keep their type (Failure).
type ProbingTopicManagers struct {
	build goka.TopicManagerBuilder
	cfg   *sarama.Config

	mu      sync.Mutex
	failure error
}

// NewProbingTopicManagers wraps build; cfg is the sarama config the probe connects with.
func NewProbingTopicManagers(build goka.TopicManagerBuilder, cfg *sarama.Config) *ProbingTopicManagers {
	return &ProbingTopicManagers{build: RetryingTopicManager(build), cfg: cfg}
}

// Build is the goka.TopicManagerBuilder.
func (p *ProbingTopicManagers) Build(brokers []string) (goka.TopicManager, error) {
	tm, err := p.build(brokers)
	if err == nil {
		return tm, nil
	}
	failure := err
	if cause := ProbeBrokers(brokers, p.cfg); cause != nil {
		failure = fmt.Errorf("build a topic manager: %w (goka: %v)", cause, err)
	} else if tm, again := p.build(brokers); again == nil {
		return tm, nil // every broker answers now: the one goka checked came back meanwhile
	} else {
		failure = again
	}
	p.mu.Lock()
	p.failure = failure
	p.mu.Unlock()
	return nil, failure
}

// Failure is the error of the last build that failed, with its cause's type where a probe of
// the brokers found one; nil if none failed.
func (p *ProbingTopicManagers) Failure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failure
}

// ProbeBrokers connects to every broker of the cluster once, as goka's topic manager connects to
// one of them, and returns the first failure with its sarama or net type (nil: all answer).
func ProbeBrokers(brokers []string, cfg *sarama.Config) error {
	probe := *cfg // the caller's config is not ours to change
	probe.Metadata.Retry.Max = 0
	client, err := sarama.NewClient(brokers, &probe)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", Target(brokers), err)
	}
	defer client.Close()
	for _, b := range client.Brokers() {
		if err := b.Open(&probe); err != nil && !errors.Is(err, sarama.ErrAlreadyConnected) {
			return fmt.Errorf("open broker %s: %w", b.Addr(), err)
		}
		connected, err := b.Connected()
		switch {
		case err != nil:
			return fmt.Errorf("connect to broker %s: %w", b.Addr(), err)
		case !connected:
			return fmt.Errorf("connect to broker %s: %w", b.Addr(), sarama.ErrNotConnected)
		}
	}
	return nil
}
