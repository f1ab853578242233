package e2e

import (
	"fmt"
	"testing"

	"github.com/IBM/sarama"
	gojson "github.com/goccy/go-json"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// readTopic reads every message of topic up to its end as of the call, partition by partition,
// and returns how many it read.
func readTopic(t testing.TB, brokers []string, cfg *sarama.Config, topic string, fn func(key string, value []byte)) int {
	t.Helper()
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range parts {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		if end == 0 {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		for msg := range pc.Messages() {
			fn(string(msg.Key), msg.Value)
			n++
			if msg.Offset >= end-1 {
				break
			}
		}
		pc.Close()
	}
	return n
}

// readDeadLetters reads the processor's dead-letter topic.
func readDeadLetters(t testing.TB, brokers []string, cfg *sarama.Config, topic codecs.Topic) []*codecs.DeadLetter {
	t.Helper()
	var out []*codecs.DeadLetter
	readTopic(t, brokers, cfg, string(topic), func(key string, value []byte) {
		var d codecs.DeadLetter
		if err := gojson.Unmarshal(value, &d); err != nil {
			t.Fatalf("dead letter %s: %v", key, err)
		}
		out = append(out, &d)
	})
	return out
}

// topicEnds returns the end offset of every partition of the topics, by "topic/partition".
func topicEnds(client sarama.Client, topics []codecs.Topic) (map[string]int64, error) {
	ends := map[string]int64{}
	for _, topic := range topics {
		parts, err := client.Partitions(string(topic))
		if err != nil {
			return nil, fmt.Errorf("partitions of %s: %w", topic, err)
		}
		for _, p := range parts {
			end, err := client.GetOffset(string(topic), p, sarama.OffsetNewest)
			if err != nil {
				return nil, fmt.Errorf("end of %s/%d: %w", topic, p, err)
			}
			ends[fmt.Sprintf("%s/%d", topic, p)] = end
		}
	}
	return ends, nil
}

// groupLag is how many messages of topic the consumer group has not committed yet.
func groupLag(client sarama.Client, admin sarama.ClusterAdmin, group codecs.Group, topic codecs.Topic) (int64, error) {
	parts, err := client.Partitions(string(topic))
	if err != nil {
		return -1, err
	}
	committed, err := admin.ListConsumerGroupOffsets(string(group), map[string][]int32{string(topic): parts})
	if err != nil {
		return -1, err
	}
	var lag int64
	for _, p := range parts {
		end, err := client.GetOffset(string(topic), p, sarama.OffsetNewest)
		if err != nil {
			return -1, err
		}
		if block := committed.GetBlock(string(topic), p); block != nil && block.Offset >= 0 {
			end -= block.Offset
		}
		lag += end
	}
	return lag, nil
}
