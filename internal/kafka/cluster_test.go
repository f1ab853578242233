package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// TestEnsureTopicsOnCluster: on the three-broker cluster a topic of replication 3 has three
// replicas per partition and min.insync.replicas=2; one of replication 1 keeps the broker's
// minimum, even when a spec asks for 3 later (2 in-sync replicas of 1 would refuse every write).
func TestEnsureTopicsOnCluster(t *testing.T) {
	c := testenv.KafkaCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := kafka.Config("cluster-topics-test")
	replicated, single := testenv.Name(t, "r3"), testenv.Name(t, "r1")
	t.Cleanup(func() { _ = kafka.DeleteTopics(context.Background(), c.Brokers, cfg, replicated, single) })
	err := kafka.EnsureTopics(ctx, c.Brokers, cfg, []kafka.TopicSpec{
		{Name: replicated, Partitions: 3, Replication: 3, Configs: kafka.Retained()},
		{Name: single, Partitions: 1, Replication: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = kafka.EnsureTopics(ctx, c.Brokers, cfg, []kafka.TopicSpec{{Name: single, Partitions: 1, Replication: 3}})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sarama.NewClusterAdmin(c.Brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	metas, err := admin.DescribeTopics([]string{replicated})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range metas[0].Partitions {
		if len(p.Replicas) != 3 {
			t.Errorf("%s/%d: replicas %v, want 3", replicated, p.ID, p.Replicas)
		}
	}
	for topic, want := range map[string]string{replicated: kafka.MinInSync, single: "1"} {
		if got := topicConfig(t, admin, topic, "min.insync.replicas"); got != want {
			t.Errorf("%s: min.insync.replicas %s, want %s", topic, got, want)
		}
	}
	if got := topicConfig(t, admin, replicated, "retention.ms"); got != "-1" {
		t.Errorf("%s: retention.ms %s, want -1 (the spec's configs are kept beside min.insync.replicas)", replicated, got)
	}
}

func topicConfig(t *testing.T, admin sarama.ClusterAdmin, topic, name string) string {
	t.Helper()
	entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name == name {
			return e.Value
		}
	}
	t.Fatalf("topic %s has no config %s", topic, name)
	return ""
}

// TestProducerOutlastsLeaderKill sends records without a pause while the leader of their
// partition is killed with SIGKILL and started again: with the pipeline's producer config (acks
// from all in-sync replicas, idempotence, retries outlasting an election) every send is
// acknowledged, and the partition holds each record exactly once, in the order sent.
func TestProducerOutlastsLeaderKill(t *testing.T) {
	c := testenv.KafkaClusterExclusive(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := kafka.Config("cluster-failover-test")
	topic := testenv.Name(t, "failover")
	t.Cleanup(func() { _ = kafka.DeleteTopics(context.Background(), c.Brokers, cfg, topic) })
	if err := kafka.EnsureTopics(ctx, c.Brokers, cfg, []kafka.TopicSpec{{Name: topic, Partitions: 1, Replication: 3}}); err != nil {
		t.Fatal(err)
	}
	producer, err := sarama.NewSyncProducer(c.Brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	// Sent in batches of 10, each waiting for its acknowledgements: a send waits for its batch to
	// fill or for Flush.Frequency, and 400 sends one at a time would wait 400 times.
	sent := 0
	send := func(n int) {
		for range n / 10 {
			batch := make([]*sarama.ProducerMessage, 10)
			for i := range batch {
				batch[i] = &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder("k"),
					Value: sarama.StringEncoder(fmt.Sprint(sent + i))}
			}
			if err := producer.SendMessages(batch); err != nil {
				t.Fatalf("send %d-%d: %v", sent, sent+len(batch)-1, err)
			}
			sent += len(batch)
		}
	}
	send(100)
	leader := partitionLeader(t, ctx, c, cfg, topic)
	// Sends go on while the leader dies: the first ones after the kill wait for the election.
	done := make(chan struct{})
	go func() { defer close(done); c.Kill(int(leader)) }()
	send(200)
	<-done
	after := partitionLeader(t, ctx, c, cfg, topic)
	c.Start(int(leader))
	send(100)
	c.WaitBrokers(3, time.Minute)
	t.Logf("leader %d killed, %d elected, %d restarted; %d records sent", leader, after, leader, sent)
	if after == leader {
		t.Errorf("the leader is still broker %d after its kill", leader)
	}
	readBack(t, ctx, c.Brokers, cfg, topic, sent)
}

// partitionLeader waits until partition 0 of topic has a live leader and returns it.
func partitionLeader(t *testing.T, ctx context.Context, c *testenv.Cluster, cfg *sarama.Config, topic string) int32 {
	t.Helper()
	var leader int32 = -1
	err := kafka.Retry(ctx, "find the leader of "+topic, 200*time.Millisecond, func() error {
		client, err := sarama.NewClient(c.Brokers, cfg)
		if err != nil {
			return fmt.Errorf("%w: %w", sarama.ErrOutOfBrokers, err)
		}
		defer client.Close()
		b, err := client.Leader(topic, 0)
		if err != nil {
			return err
		}
		leader = b.ID()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return leader
}

// readBack reads the partition and checks it holds the values 0..n-1 once each, in order.
func readBack(t *testing.T, ctx context.Context, brokers []string, cfg *sarama.Config, topic string, n int) {
	t.Helper()
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
			if string(msg.Value) != fmt.Sprint(i) {
				t.Fatalf("record %d is %q, want %d: lost, duplicated or reordered", i, msg.Value, i)
			}
		case err := <-pc.Errors():
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatalf("read %d of %d records", i, n)
		}
	}
	if hwm := pc.HighWaterMarkOffset(); hwm != int64(n) {
		t.Fatalf("the partition ends at offset %d, %d records were sent: duplicates", hwm, n)
	}
}
