package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// deleteRecords deletes the records of topic's partition below offset (what retention or a
// re-processing does), retrying Kafka's retriable errors.
func (f *fixture) deleteRecords(t testing.TB, topic string, partition int32, offset int64) {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(f.brokers, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for attempt := 1; ; attempt++ {
		err := admin.DeleteRecords(topic, map[int32]int64{partition: offset})
		var kerr sarama.KError
		if err == nil || attempt == 20 || (errors.As(err, &kerr) && !retriableKafka(kerr)) {
			if err != nil {
				t.Fatalf("delete the records of %s/%d below %d: %v", topic, partition, offset, err)
			}
			return
		}
		time.Sleep(250 * time.Millisecond) // a leader change: wait for the metadata to settle
	}
}

func retriableKafka(err sarama.KError) bool {
	switch err {
	case sarama.ErrNotLeaderForPartition, sarama.ErrLeaderNotAvailable, sarama.ErrRequestTimedOut,
		sarama.ErrNotEnoughReplicas, sarama.ErrNotEnoughReplicasAfterAppend, sarama.ErrUnknownTopicOrPartition:
		return true
	}
	return false
}

// TestStartsAtOldestOffset deletes the first records of a partition: a sink that never read it
// starts at the oldest record left; a sink whose next offset was deleted (the records were lost
// before it stored them, and sarama's group consumer would silently jump to the oldest record)
// says so at ERROR, counts them, leaves a dead letter saying which offsets, and goes on from the
// oldest record; a restart reports nothing more. With Setup's seek and without it (then
// ConsumeClaim's checks place the claims).
func TestStartsAtOldestOffset(t *testing.T) {
	t.Parallel()
	for _, seek := range []bool{true, false} {
		t.Run(fmt.Sprintf("setup seek %v", seek), func(t *testing.T) {
			t.Parallel()
			testStartsAtOldest(t, seek)
		})
	}
}

func testStartsAtOldest(t *testing.T, seek bool) {
	f := newFixture(t)
	tweak := withSetupSeek(seek)
	topic := string(f.names.Type(codecs.LongSword))
	msgs := make([]message, 70)
	for i := range msgs {
		w := longSword(fmt.Sprintf("oldest-%d", i), 1, "H")
		msgs[i] = message{topic, w.Key, encode(t, w)}
	}
	keysStored := func() int {
		var n int
		if err := f.db.QueryRow(context.Background(), `SELECT count(*) FROM long_sword`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// A fresh sink: records 0..14 are gone.
	f.produceTo(t, 1, msgs[:40])
	f.deleteRecords(t, topic, 1, 15)
	r := start(t, f.config(nil), tweak)
	f.waitConsumed(t, 40, time.Minute)
	r.settled(t)
	st := r.stop(t)
	if st.Stored != 25 || st.Lost != 0 || keysStored() != 25 {
		t.Errorf("fresh sink: stats %+v, %d rows; want the 25 records left stored, none lost", st, keysStored())
	}
	if n := r.sink.stats.fallbacks.Load(); n != 0 {
		t.Errorf("%d claims started beyond where Setup put them: the fresh partition was not started at its oldest record", n)
	}

	// The sink is at 40; records 40..54 are deleted before it comes back.
	f.produceTo(t, 1, msgs[40:])
	f.deleteRecords(t, topic, 1, 55)
	logs := newSyncBuffer()
	r = start(t, f.config(slog.New(slog.NewTextHandler(logs, nil))), tweak)
	f.waitConsumed(t, 70, time.Minute)
	r.settled(t)
	st = r.stop(t)
	if st.Stored != 15 || st.Lost != 15 || keysStored() != 40 {
		t.Errorf("after the gap: stats %+v, %d rows; want 15 lost, 15 stored", st, keysStored())
	}
	if line := lineWith(logs.String(), "level=ERROR"); !strings.Contains(line, "lost=15") || !strings.Contains(line, "oldest_offset=55") {
		t.Errorf("the loss is logged as %q, want an ERROR with lost=15 and oldest_offset=55", line)
	}
	if reason := f.deadLetters(t)[40]; !strings.Contains(reason, "offsets 40 to 54 (15 records) were deleted") {
		t.Errorf("dead letter at offset 40: %q, want the gap", reason)
	}

	// Restarted: nothing more is lost, nothing stored again.
	logs = newSyncBuffer()
	r = start(t, f.config(slog.New(slog.NewTextHandler(logs, nil))), tweak)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(logs.String(), "partitions assigned") {
		if time.Now().After(deadline) {
			t.Fatalf("the restarted sink got no partitions in a minute: %s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	st = r.stop(t)
	if st.Lost != 0 || st.Stored != 0 || strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("restart: stats %+v, log %s; want nothing lost or stored", st, logs)
	}
	var next int64
	err := f.db.QueryRow(context.Background(), `SELECT next_offset FROM kafka_offsets WHERE consumer = $1 AND topic = $2 AND partition = 1`,
		string(f.names.SinkConsumer()), topic).Scan(&next)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) || next != 70 {
		t.Errorf("next_offset %d (%v), want 70", next, err)
	}
}
