package scraper

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// kafkaTopic creates a fresh weapon_data topic under a unique prefix, deleted at the end.
func kafkaTopic(t testing.TB, brokers []string, partitions int32) (codecs.Topic, *sarama.Config) {
	t.Helper()
	cfg := kafka.Config("scraper-test")
	topic := codecs.Names{Prefix: testenv.Name(t, "scraper") + "."}.WeaponData()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, brokers, cfg, []kafka.TopicSpec{{Name: string(topic), Partitions: partitions, Replication: 1}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kafka.DeleteTopics(context.Background(), brokers, cfg, string(topic)) })
	return topic, cfg
}

// readKeys reads every message of a topic (up to the high-water marks as they are now) and
// returns how many there are and their distinct keys.
func readKeys(t testing.TB, brokers []string, cfg *sarama.Config, topic codecs.Topic) (int, map[string]struct{}) {
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
	partitions, err := client.Partitions(string(topic))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]struct{}{}
	total := 0
	for _, p := range partitions {
		hwm, err := client.GetOffset(string(topic), p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		if hwm == 0 {
			continue
		}
		pc, err := consumer.ConsumePartition(string(topic), p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		timeout := time.After(2 * time.Minute)
	read:
		for {
			select {
			case msg := <-pc.Messages():
				total++
				keys[string(msg.Key)] = struct{}{}
				if msg.Offset >= hwm-1 {
					break read
				}
			case err := <-pc.Errors():
				t.Fatal(err)
			case <-timeout:
				t.Fatalf("partition %d: read %d messages before the deadline", p, total)
			}
		}
		pc.Close()
	}
	return total, keys
}

// TestEmitterReportsFailures: a record the broker refuses (too big for the topic) is reported
// by Flush, counted, and does not stop the others.
func TestEmitterReportsFailures(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	cfg := kafka.Config("scraper-test")
	topic := codecs.Names{Prefix: testenv.Name(t, "scraper") + "."}.WeaponData()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, brokers, cfg, []kafka.TopicSpec{{Name: string(topic), Partitions: 1, Replication: 1,
		Configs: map[string]string{"max.message.bytes": "2000"}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kafka.DeleteTopics(context.Background(), brokers, cfg, string(topic)) })
	em, err := NewEmitter(brokers, topic, cfg, emitterOptions(2, DefaultEmitterOptions().WaitLogEvery, quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	small := &codecs.RawRecord{Schema: 1, Key: "bow/base/l1", WeaponType: codecs.Bow, RowID: "l1"}
	big := &codecs.RawRecord{Schema: 1, Key: "bow/base/l2", WeaponType: codecs.Bow, RowID: "l2",
		Cells: []codecs.RawCell{{HTML: string(make([]byte, 1<<20))}}}
	if err := em.Emit(small); err != nil {
		t.Fatal(err)
	}
	// Acknowledged before the big one is sent: in one batch with it, the broker would refuse both.
	if err := em.Flush(); err != nil {
		t.Fatal(err)
	}
	_ = em.Emit(big) // may fail now or later: Flush must tell
	err = em.Flush()
	if err == nil {
		t.Fatal("a record over the topic's max.message.bytes: Flush reported nothing")
	}
	if em.Acked() != 1 {
		t.Errorf("%d records acknowledged, want the small one", em.Acked())
	}
	if err := em.Emit(small); err != nil {
		t.Errorf("emitting after a reported failure: %v", err)
	}
	if err := em.Close(); err != nil {
		t.Errorf("close after a good record: %v", err)
	}
}

func TestNewEmitterValidates(t *testing.T) {
	cfg := kafka.Config("x")
	for _, tc := range []struct {
		brokers []string
		topic   codecs.Topic
		cfg     *sarama.Config
		opts    EmitterOptions
	}{
		{nil, "t", cfg, DefaultEmitterOptions()},
		{[]string{"b:9092"}, "", cfg, DefaultEmitterOptions()},
		{[]string{"b:9092"}, "t", nil, DefaultEmitterOptions()},
		{[]string{"b:9092"}, "t", cfg, emitterOptions(-1, time.Second, quietLog())},
		{[]string{"b:9092"}, "t", cfg, emitterOptions(0, time.Second, quietLog())},
		{[]string{"b:9092"}, "t", cfg, emitterOptions(1, -time.Second, quietLog())},
		{[]string{"b:9092"}, "t", cfg, emitterOptions(1, 0, quietLog())},
		{[]string{"b:9092"}, "t", cfg, emitterOptions(1, time.Second, nil)},
	} {
		if _, err := NewEmitter(tc.brokers, tc.topic, tc.cfg, tc.opts); err == nil {
			t.Errorf("NewEmitter(%v, %q, %+v) accepted", tc.brokers, tc.topic, tc.opts)
		}
	}
}

// unreachableBroker returns the address of a local port that nothing listens on: connecting to
// it is refused at once, as to a broker that is down.
func unreachableBroker(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestEmitterLogsWhileKafkaIsDown: while no record is acknowledged, the emitter logs every
// interval how many records wait, and Close still reports every one of them as not
// acknowledged.
func TestEmitterLogsWhileKafkaIsDown(t *testing.T) {
	cfg := kafka.Config("scraper-test")
	// Both contact the broker when the producer is built; without them the emitter starts and
	// then meets the unreachable broker with its first records, as one that died mid-scrape.
	cfg.Producer.Idempotent = false
	cfg.Metadata.Full = false
	cfg.Metadata.Retry.Max, cfg.Metadata.Retry.Backoff = 3, 200*time.Millisecond // give up sooner
	logs, log := newLogBuffer()
	em, err := NewEmitter([]string{unreachableBroker(t)}, "scraper-test.weapon_data", cfg,
		emitterOptions(10, 20*time.Millisecond, log))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		r := &codecs.RawRecord{Schema: 1, Key: fmt.Sprintf("bow/base/l%d", i), WeaponType: codecs.Bow, RowID: "l1"}
		if err := em.Emit(r); err != nil {
			t.Fatalf("emit %d: %v", i, err)
		}
	}
	waitLine := regexp.MustCompile(`level=WARN msg="records wait for Kafka's acknowledgement.*waiting=3 `)
	lines := logs.waitLines(t, waitLine, 2, time.Minute)
	if em.Acked() != 0 {
		t.Errorf("%d records acknowledged by no broker", em.Acked())
	}
	if !strings.Contains(lines[0], "topic=scraper-test.weapon_data") {
		t.Errorf("the wait line does not name the topic: %s", lines[0])
	}
	// sarama gives up on the records after its retries: they are failed, no longer waiting.
	err = em.Flush()
	if err == nil || !strings.Contains(err.Error(), "3 records not acknowledged") {
		t.Errorf("flush: %v, want the 3 records reported", err)
	}
	if em.Waiting() != 0 {
		t.Errorf("%d records still waiting after Flush", em.Waiting())
	}
	logs.waitLines(t, regexp.MustCompile(`level=INFO msg="the wait for Kafka is over.* waiting=0 `), 1, time.Minute)
	if err := em.Close(); err != nil {
		t.Errorf("close after the failures were reported: %v", err)
	}
}

func emitterOptions(maxInFlight int, waitLogEvery time.Duration, log *slog.Logger) EmitterOptions {
	return EmitterOptions{MaxInFlight: maxInFlight, WaitLogEvery: waitLogEvery, Log: log}
}

// quietEmitter are the default emitter options, quiet.
func quietEmitter() EmitterOptions {
	o := DefaultEmitterOptions()
	o.Log = quietLog()
	return o
}
