package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
)

// TopicSpec describes a topic the pipeline needs.
type TopicSpec struct {
	Name        string
	Partitions  int32
	Replication int16
	Configs     map[string]string
}

// Compacted returns the configs of a compacted topic (goka group tables).
func Compacted() map[string]string {
	return map[string]string{"cleanup.policy": "compact"}
}

// EnsureTopics creates the topics that do not exist yet and leaves the others alone. It waits
// until the broker answers, up to ctx's deadline; a connection failure is retryable.
func EnsureTopics(ctx context.Context, brokers []string, cfg *sarama.Config, topics []TopicSpec) error {
	admin, err := connectAdmin(ctx, brokers, cfg)
	if err != nil {
		return err
	}
	defer admin.Close()
	existing, err := admin.ListTopics()
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	var created []string
	for _, t := range topics {
		if _, ok := existing[t.Name]; ok {
			continue
		}
		created = append(created, t.Name)
		detail := &sarama.TopicDetail{NumPartitions: t.Partitions, ReplicationFactor: t.Replication,
			ConfigEntries: map[string]*string{}}
		for k, v := range t.Configs {
			detail.ConfigEntries[k] = &v
		}
		err := admin.CreateTopic(t.Name, detail, false)
		if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return fmt.Errorf("create topic %s (%d partitions, replication %d): %w",
				t.Name, t.Partitions, t.Replication, err)
		}
	}
	return waitVisible(ctx, admin, created)
}

// waitVisible waits until every topic is in the broker's metadata with a leader for each
// partition. CreateTopic returns before that, and a client that looks the topic up in between
// (goka's topic manager does) sees no topic, tries to create it and fails with "already exists".
func waitVisible(ctx context.Context, admin sarama.ClusterAdmin, topics []string) error {
	for len(topics) > 0 {
		metas, err := admin.DescribeTopics(topics)
		if err == nil && allLed(metas) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics %v created but not visible in the metadata: %w", topics, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

func allLed(metas []*sarama.TopicMetadata) bool {
	for _, m := range metas {
		if !errors.Is(m.Err, sarama.ErrNoError) || len(m.Partitions) == 0 {
			return false
		}
		for _, p := range m.Partitions {
			if p.Leader < 0 {
				return false
			}
		}
	}
	return true
}

// DeleteTopics deletes the named topics; those that do not exist are ignored.
func DeleteTopics(ctx context.Context, brokers []string, cfg *sarama.Config, names ...string) error {
	admin, err := connectAdmin(ctx, brokers, cfg)
	if err != nil {
		return err
	}
	defer admin.Close()
	for _, name := range names {
		err := admin.DeleteTopic(name)
		if err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			return fmt.Errorf("delete topic %s: %w", name, err)
		}
	}
	return nil
}

func connectAdmin(ctx context.Context, brokers []string, cfg *sarama.Config) (sarama.ClusterAdmin, error) {
	for {
		admin, err := sarama.NewClusterAdmin(brokers, cfg)
		if err == nil {
			return admin, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to Kafka at %v: %w", brokers, err)
		case <-time.After(time.Second):
		}
	}
}
