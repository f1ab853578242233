package deadletter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
)

// TestRedrive: the processor's dead letters land on weapon_data with their key, value and the
// headers naming them, on the partition of their key; the sink's rows land on their weapon
// topic; both are marked, and a second redrive sends nothing.
func TestRedrive(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	topicIDs, tableIDs := seed(t, f)
	ctx := context.Background()
	st, err := f.tool(t, Filter{}).Redrive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Stats{Selected: 6, Blocked: 2, Sent: 4}); st != want {
		t.Errorf("redrive: %+v, want %+v", st, want)
	}
	got := f.redriven(t, f.names.WeaponData(), f.names.Type(codecs.Bow), f.names.Partner(), f.names.Type(codecs.Lance))
	byID := map[string]record{}
	for _, r := range got {
		byID[r.headers[HeaderID]] = r
	}
	if len(got) != 4 || len(byID) != 4 {
		t.Fatalf("%d records re-driven (%d dead letters), want 4: %+v", len(got), len(byID), got)
	}
	hash := sarama.NewCustomHashPartitioner(goka.DefaultHasher())
	for _, c := range []struct {
		id, topic, key, value, kind string
		from                        kafka.Position
	}{
		{topicIDs[0], string(f.names.WeaponData()), "great_sword|base|a1|1", `{"schema":1,"key":"great_sword|base|a1|1","cells":["x"]}`, "parse", position0(t, topicIDs[0])},
		{topicIDs[1], string(f.names.WeaponData()), "bow|g|b2|1", "{\"schema\":1,\x01 broken", "json", position0(t, topicIDs[1])},
		{tableIDs[0], string(f.names.Type(codecs.Bow)), "bow|g|w1|1", `{"key":"bow|g|w1|1","attack":99999999999}`, KindSink, kafka.Partition{Topic: string(f.names.Type(codecs.Bow)), ID: 1}.At(7)},
		{tableIDs[1], string(f.names.Partner()), "tonfa|partner|w2|1", `{"key":"tonfa|partner|w2|1"}`, KindSink, kafka.Partition{Topic: string(f.names.Partner()), ID: 3}.At(2)},
	} {
		r, ok := byID[c.id]
		if !ok {
			t.Errorf("%s was not re-driven", c.id)
			continue
		}
		if r.topic != c.topic || r.key != c.key || r.value != c.value {
			t.Errorf("%s re-driven as %s %q %q, want %s %q %q", c.id, r.topic, r.key, r.value, c.topic, c.key, c.value)
		}
		want, _ := hash(c.topic).Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(c.key)}, dataPartitions)
		if r.partition != want {
			t.Errorf("%s landed on partition %d, want %d (its key's)", c.id, r.partition, want)
		}
		h := r.headers
		if h[HeaderTopic] != c.from.Topic || h[HeaderPartition] != fmt.Sprint(c.from.ID) ||
			h[HeaderOffset] != fmt.Sprint(c.from.Offset) || h[HeaderKind] != c.kind || h[HeaderReason] == "" || h[HeaderRedrive] == "" {
			t.Errorf("%s: headers %v, want the dead letter at %s, kind %s, a reason and a redrive", c.id, h, c.from, c.kind)
		}
	}
	// Marked: the list says so, and sink_dead_letter's rows have their column.
	ls, err := f.tool(t, Filter{}).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if (l.RedrivenAt != nil) != (l.Blocked == "") {
			t.Errorf("%s: redriven at %v, blocked %q", l.ID, l.RedrivenAt, l.Blocked)
		}
	}
	var marked int
	if err := f.db.QueryRow(ctx, `SELECT count(*) FROM sink_dead_letter WHERE redriven_at IS NOT NULL`).Scan(&marked); err != nil || marked != 2 {
		t.Errorf("%d rows of sink_dead_letter marked (%v), want 2", marked, err)
	}
	// Once: a second redrive sends nothing.
	st, err = f.tool(t, Filter{}).Redrive(ctx)
	if err != nil || st != (Stats{Selected: 2, Blocked: 2}) {
		t.Errorf("second redrive: %+v (%v), want nothing sent", st, err)
	}
	if n := len(f.redriven(t, f.names.WeaponData(), f.names.Type(codecs.Bow), f.names.Partner())); n != 4 {
		t.Errorf("%d records after the second redrive, want still 4", n)
	}
	waitCommitted(t, f, f.names.WeaponData(), 2)

	// The sink's --replay empties its dead letters and stores the same failure again, at the
	// same position: pending again, and re-driven again despite its old mark.
	if _, err := f.db.Exec(ctx, `UPDATE sink_dead_letter SET redriven_at = NULL
		WHERE kafka_topic = $1`, string(f.names.Type(codecs.Bow))); err != nil {
		t.Fatal(err)
	}
	st, err = f.tool(t, Filter{}).Redrive(ctx)
	if err != nil || st != (Stats{Selected: 3, Blocked: 2, Sent: 1}) {
		t.Errorf("redrive after a replay: %+v (%v), want the stored-again row sent", st, err)
	}
	if n := len(f.redriven(t, f.names.WeaponData(), f.names.Type(codecs.Bow), f.names.Partner())); n != 5 {
		t.Errorf("%d records after the redrive after a replay, want 5", n)
	}
}

// position0 is the position of a topic dead letter's id.
func position0(t *testing.T, id string) kafka.Position {
	t.Helper()
	p, err := parseID(id)
	if err != nil {
		t.Fatal(err)
	}
	return p.Position
}

// waitCommitted waits until a consumer (read_committed, as strict as any) has seen n re-driven
// records on topic.
func waitCommitted(t *testing.T, f *fixture, topic codecs.Topic, n int) {
	t.Helper()
	cfg := kafka.Config("dlq-test-committed")
	cfg.Consumer.IsolationLevel = sarama.ReadCommitted
	consumer, err := sarama.NewConsumer(f.brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	msgs := make(chan *sarama.ConsumerMessage)
	for p := int32(0); p < dataPartitions; p++ {
		pc, err := consumer.ConsumePartition(string(topic), p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		go func() {
			for m := range pc.Messages() {
				msgs <- m
			}
		}()
	}
	deadline := time.After(time.Minute)
	for seen := 0; seen < n; {
		select {
		case <-msgs:
			seen++
		case <-deadline:
			t.Fatalf("a read_committed consumer saw %d re-driven records of %s, want %d", seen, topic, n)
		}
	}
}

// TestRedriveStoppedHalfWay: a redrive stopped as if killed at each step of its second batch,
// then run again, sends every dead letter exactly once and marks each.
func TestRedriveStoppedHalfWay(t *testing.T) {
	for _, c := range []struct {
		point             string
		settled, released int
	}{
		{"claimed", 0, 2}, // claimed, nothing sent: sent again
		{"sent", 2, 0},    // sent and acknowledged, not marked: found on the topic, marked
	} {
		t.Run(c.point, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			var letters []deadLetter
			for i := range 7 {
				letters = append(letters, deadLetter{kind: "parse", key: fmt.Sprintf("long_sword|base|k%d|1", i),
					value: fmt.Appendf(nil, `{"row":%d}`, i), at: t0.Add(time.Duration(i) * time.Minute)})
			}
			want := f.produceDeadLetters(t, letters)
			stopping := f.tool(t, Filter{}, func(cfg *Config) {
				cfg.BatchSize = 2
				cfg.stopAt = func(point string, n int) bool { return point == c.point && n == 2 }
			})
			st, err := stopping.Redrive(context.Background())
			t.Cleanup(func() {
				if stopping.abandoned != nil {
					_ = stopping.abandoned.Close()
				}
			})
			if !errors.Is(err, errStopped) || st.Sent != 2 {
				t.Fatalf("stopped redrive: %+v, %v; want 2 sent, then stopped", st, err)
			}
			st, err = f.tool(t, Filter{}, func(cfg *Config) { cfg.BatchSize = 2 }).Redrive(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if st.Settled != c.settled || st.Released != c.released || st.Sent != 5-c.settled {
				t.Errorf("second redrive: %+v, want %d settled, %d released, %d sent", st, c.settled, c.released, 5-c.settled)
			}
			var got []string
			for _, r := range f.redriven(t, f.names.WeaponData()) {
				got = append(got, r.headers[HeaderID])
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("re-driven records by dead letter:\n%q\nwant each once:\n%q", got, want)
			}
			ls, err := f.tool(t, Filter{Pending: true}).List(context.Background())
			if err != nil || len(ls) != 0 {
				t.Errorf("%d dead letters still pending (%v), want none", len(ls), err)
			}
			st, err = f.tool(t, Filter{}).Redrive(context.Background())
			if err != nil || st.Sent != 0 || st.Settled+st.Released != 0 {
				t.Errorf("third redrive: %+v (%v), want nothing", st, err)
			}
		})
	}
}

// TestRedriveOneAtATime: while a redrive holds the deployment's lock, another stops at once
// without sending anything.
func TestRedriveOneAtATime(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.produceDeadLetters(t, []deadLetter{{kind: "parse", key: "bow|g|x|1", value: []byte(`{}`), at: t0}})
	ctx := context.Background()
	conn, err := f.db.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	name := "mhfz dlq redrive " + f.names.Prefix
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtext($1))`, name); err != nil {
		t.Fatal(err)
	}
	st, err := f.tool(t, Filter{}).Redrive(ctx)
	if !errors.Is(err, ErrRunning) || st.Sent != 0 {
		t.Errorf("redrive beside a running one: %+v, %v; want ErrRunning and nothing sent", st, err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtext($1))`, name); err != nil {
		t.Fatal(err)
	}
	if st, err := f.tool(t, Filter{}).Redrive(ctx); err != nil || st.Sent != 1 {
		t.Errorf("redrive once the other ended: %+v, %v; want 1 sent", st, err)
	}
}
