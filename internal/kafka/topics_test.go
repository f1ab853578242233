package kafka_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// TestEnsureTopicsReconciles: an existing topic with another partition count is an error that
// names both counts, and an existing topic created with the broker's retention gets the spec's.
func TestEnsureTopicsReconciles(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := kafka.Config("topics-test")
	topic := testenv.Name(t, "raw")
	if err := kafka.EnsureTopics(ctx, brokers, cfg, []kafka.TopicSpec{{Name: topic, Partitions: 2, Replication: 1}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kafka.DeleteTopics(context.Background(), brokers, cfg, topic) })
	if got := retention(t, brokers, cfg, topic); got == "-1" {
		t.Fatalf("a topic created without configs has retention.ms %s, want the broker's default", got)
	}

	err := kafka.EnsureTopics(ctx, brokers, cfg, []kafka.TopicSpec{{Name: topic, Partitions: 3, Replication: 1}})
	var mismatch *kafka.PartitionMismatchError
	if !errors.As(err, &mismatch) || mismatch.Existing != 2 || mismatch.Requested != 3 {
		t.Fatalf("EnsureTopics with 3 partitions on a topic of 2: got %v, want a PartitionMismatchError 2/3", err)
	}

	spec := kafka.TopicSpec{Name: topic, Partitions: 2, Replication: 1, Configs: kafka.Retained()}
	if err := kafka.EnsureTopics(ctx, brokers, cfg, []kafka.TopicSpec{spec}); err != nil {
		t.Fatal(err)
	}
	if got := retention(t, brokers, cfg, topic); got != "-1" {
		t.Fatalf("retention.ms after EnsureTopics with Retained: %s, want -1", got)
	}
}

// TestEnsureTopicsWithoutACount: a topic asked for without a count is created with
// DefaultPartitions, and an existing one keeps its own count (3 here), unlike one asked for with a
// count (TestEnsureTopicsReconciles).
func TestEnsureTopicsWithoutACount(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := kafka.Config("topics-test")
	created, existing := testenv.Name(t, "created"), testenv.Name(t, "existing")
	t.Cleanup(func() { _ = kafka.DeleteTopics(context.Background(), brokers, cfg, created, existing) })
	if err := kafka.EnsureTopics(ctx, brokers, cfg, []kafka.TopicSpec{{Name: existing, Partitions: 3, Replication: 1}}); err != nil {
		t.Fatal(err)
	}
	err := kafka.EnsureTopics(ctx, brokers, cfg, []kafka.TopicSpec{{Name: created, Replication: 1}, {Name: existing, Replication: 1}})
	if err != nil {
		t.Fatalf("EnsureTopics without a count, on a new topic and on one of 3 partitions: %v", err)
	}
	for topic, want := range map[string]int{created: kafka.DefaultPartitions, existing: 3} {
		if got := testenv.PartitionCount(t, brokers, cfg, topic); got != want {
			t.Errorf("%s: %d partitions, want %d", topic, got, want)
		}
	}
}

func retention(t *testing.T, brokers []string, cfg *sarama.Config, topic string) string {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name == "retention.ms" {
			return e.Value
		}
	}
	t.Fatalf("topic %s has no retention.ms", topic)
	return ""
}
