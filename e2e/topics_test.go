package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	gojson "github.com/goccy/go-json"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
)

// readTopic reads every message of topic up to its end as of the call, partition by partition,
// and returns how many it read. Kafka's retriable errors (a leader moving, say) are retried, as
// the services do; a partition that does not deliver its messages within a minute fails the test.
func readTopic(t testing.TB, brokers []string, cfg *sarama.Config, topic string, fn func(key string, value []byte)) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var parts []int32
	if err := kafka.Retry(ctx, "partitions of "+topic, 200*time.Millisecond, func() (err error) {
		parts, err = client.Partitions(topic)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range parts {
		// A retry starts the partition over, so fn sees each message once: collect, then deliver.
		var msgs []*sarama.ConsumerMessage
		err := kafka.Retry(ctx, fmt.Sprintf("read %s/%d", topic, p), 200*time.Millisecond, func() (err error) {
			msgs, err = readPartition(ctx, client, topic, p)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range msgs {
			fn(string(msg.Key), msg.Value)
		}
		n += len(msgs)
	}
	return n
}

// readPartition reads one partition from its oldest offset still held to its end.
func readPartition(ctx context.Context, client sarama.Client, topic string, p int32) ([]*sarama.ConsumerMessage, error) {
	if err := client.RefreshMetadata(topic); err != nil {
		return nil, err
	}
	start, err := client.GetOffset(topic, p, sarama.OffsetOldest)
	if err != nil {
		return nil, err
	}
	end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
	if err != nil || start >= end {
		return nil, err
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, err
	}
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(topic, p, start)
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	var msgs []*sarama.ConsumerMessage
	for {
		select {
		case msg := <-pc.Messages():
			msgs = append(msgs, msg)
			if msg.Offset >= end-1 {
				return msgs, nil
			}
		case err := <-pc.Errors():
			return nil, err.Err
		case <-ctx.Done():
			return nil, fmt.Errorf("read %s/%d: %d of offsets [%d, %d) read: %w", topic, p, len(msgs), start, end, ctx.Err())
		case <-time.After(time.Minute):
			return nil, fmt.Errorf("read %s/%d: no message for a minute after offset %d of [%d, %d)", topic, p,
				start+int64(len(msgs)), start, end)
		}
	}
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
