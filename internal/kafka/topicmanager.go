package kafka

import (
	"context"
	"fmt"
	"time"

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
