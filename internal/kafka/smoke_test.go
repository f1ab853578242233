package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// TestProduceConsumeRoundTrip proves the wiring with the real broker: the pipeline's config
// creates a topic, a goka emitter writes to it (idempotent, acks=all, compressed), and a plain
// sarama consumer reads back every key in order.
func TestProduceConsumeRoundTrip(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cfg := kafka.Config("smoke-test")
	topic := testenv.Name(t, "topic")
	if err := kafka.EnsureTopics(ctx, brokers, cfg, []kafka.TopicSpec{{Name: topic, Partitions: 1, Replication: 1}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kafka.DeleteTopics(context.Background(), brokers, cfg, topic) })

	emitter, err := goka.NewEmitter(brokers, goka.Stream(topic), new(codec.String),
		goka.WithEmitterProducerBuilder(goka.ProducerBuilderWithConfig(cfg)))
	if err != nil {
		t.Fatalf("new emitter: %v", err)
	}
	// Sent as the stages send, without waiting for each: a send waits for its batch (up to
	// Flush.Frequency), and 100 sends one at a time would take 100 batches.
	const n = 100
	promises := make([]*goka.Promise, n)
	for i := range n {
		if promises[i], err = emitter.Emit(fmt.Sprintf("key-%03d", i), fmt.Sprintf("value %d", i)); err != nil {
			t.Fatalf("emit %d: %v", i, err)
		}
	}
	if err := emitter.Finish(); err != nil {
		t.Fatal(err)
	}
	for i, p := range promises {
		p.Then(func(err error) {
			if err != nil {
				t.Errorf("emit %d: %v", i, err)
			}
		})
	}

	consumer, err := sarama.NewConsumer(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for i := range n {
		select {
		case msg := <-pc.Messages():
			if want := fmt.Sprintf("key-%03d", i); string(msg.Key) != want || msg.Offset != int64(i) {
				t.Fatalf("message %d: key %q offset %d, want key %q offset %d", i, msg.Key, msg.Offset, want, i)
			}
		case err := <-pc.Errors():
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatalf("read %d of %d messages before the deadline", i, n)
		}
	}
}

// TestConfigVersionIsNewerThanGokaDefault documents why Config sets Version: goka's own default
// (V2_0_0_0) is older than what a Kafka 4 broker accepts, while the pipeline's config works.
func TestConfigVersionIsNewerThanGokaDefault(t *testing.T) {
	cfg := kafka.Config("x")
	if !cfg.Version.IsAtLeast(sarama.V2_1_0_0) {
		t.Fatalf("Version %s: Kafka 4 refuses protocol versions older than 2.1 (KIP-896)", cfg.Version)
	}
	if goka.DefaultConfig().Version.IsAtLeast(sarama.V2_1_0_0) {
		t.Log("goka's default version is now >= 2.1: the override in Config may be removed")
	}
	if !cfg.Producer.Idempotent || cfg.Producer.RequiredAcks != sarama.WaitForAll {
		t.Fatal("the producer must be idempotent with acks from all in-sync replicas")
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}
