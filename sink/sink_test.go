package sink

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// TestSchemaMatchesColumns keeps the migration and the sink's column lists in step, and the
// columns whose values checkRow checks against PostgreSQL's integer range.
func TestSchemaMatchesColumns(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t)
	migrate(t, url)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, table := range migrations.WeaponTables() {
		rows, _ := conn.Query(context.Background(), `SELECT column_name FROM information_schema.columns
			WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`, table)
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if want := columnNames(tableColumns(table)); !slices.Equal(got, want) {
			t.Errorf("table %s has columns\n%v\nthe sink writes\n%v", table, got, want)
		}
		rows, _ = conn.Query(context.Background(), `SELECT column_name FROM information_schema.columns
			WHERE table_schema = 'public' AND table_name = $1 AND data_type = 'integer' ORDER BY ordinal_position`, table)
		integers, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		var checked []string
		for _, c := range tableColumns(table) {
			if c.integer {
				checked = append(checked, c.name)
			}
		}
		if !slices.Equal(integers, checked) {
			t.Errorf("table %s has integer columns\n%v\nthe sink checks\n%v", table, integers, checked)
		}
		rows, _ = conn.Query(context.Background(), `SELECT atttypid FROM pg_attribute
			WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, table)
		oids, err := pgx.CollectRows(rows, pgx.RowTo[uint32])
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range tableColumns(table) {
			if i < len(oids) && oids[i] != columnOID(c) {
				t.Errorf("table %s column %s: type %d, the tests' copyEncoder uses %d", table, c.name, oids[i], columnOID(c))
			}
		}
	}
}

// TestStoresEveryTypeOnce stores synthetic weapons of every type and the partners, with
// upstream duplicates, and checks every row and its typed columns.
func TestStoresEveryTypeOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	msgs, want := synthMessages(t, f.names, 0, 600)
	dups := msgs[100:130] // the processor re-emitting after a crash of its own
	f.produce(t, append(slices.Clone(msgs), dups...))
	r := start(t, f.config(nil), nil)
	f.waitConsumed(t, int64(len(msgs)+len(dups)), time.Minute)
	r.settled(t)
	st := r.stop(t)
	f.checkExactlyOnce(t, want)
	if st.Stored != int64(len(want)) || st.Duplicates != int64(len(dups)) || st.DeadLettered != 0 || st.Conflicts != 0 {
		t.Errorf("stats %+v: want %d stored, %d duplicates, 0 dead-lettered, no conflict", st, len(want), len(dups))
	}

	// The typed columns hold the weapon's values; source, where its raw record was read.
	w := synthWeapon(41) // version 2 of weapon 40, a heavy bowgun
	var name, element, status, rankSystem, reload, ammo string
	var attack, affinity, elementValue int
	var source codecs.Source
	err := f.db.QueryRow(context.Background(), `SELECT name, attack, affinity, element, element_value, status,
		rank_system, reload, ammo->1->>'ammo', source FROM heavy_bowgun_current WHERE key = $1`, w.Key).
		Scan(&name, &attack, &affinity, &element, &elementValue, &status, &rankSystem, &reload, &ammo, &source)
	if err != nil {
		t.Fatal(err)
	}
	if name != w.Name || attack != *w.Attack || affinity != *w.Affinity || element != "fire" ||
		elementValue != w.Elements[0].Value || status != "poison" || rankSystem != "GR" ||
		reload != w.Bowgun.Reload || ammo != w.Bowgun.Ammo[1].Ammo || source != w.Source {
		t.Errorf("heavy_bowgun_current row %s: %q %d %d %q %d %q %q %q %q %+v, want the values of %+v",
			w.Key, name, attack, affinity, element, elementValue, status, rankSystem, reload, ammo, source, w)
	}
	var versions []int64
	rows, _ := f.db.Query(context.Background(), `SELECT version FROM heavy_bowgun_history($1)`, w.Key)
	if versions, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil || !slices.Equal(versions, []int64{1, 2}) {
		t.Errorf("history of %s: versions %v (%v), want [1 2]", w.Key, versions, err)
	}
	for _, q := range []string{"SELECT name, rarity, attack, affinity FROM long_sword LIMIT 10",
		"SELECT name, rarity, attack, affinity FROM long_sword_current LIMIT 10"} {
		rows, _ := f.db.Query(context.Background(), q)
		n := 0
		_, err := pgx.ForEachRow(rows, []any{new(string), new(int), new(int), new(int)}, func() error { n++; return nil })
		if err != nil || n != 10 {
			t.Errorf("%s: %d rows (%v), want 10", q, n, err)
		}
	}
}

// TestBadInput: records that cannot be decoded or stored go to sink_dead_letter with their
// offset and reason; a name full of quotes and SQL is stored as text, never executed; the sink
// goes on with the records after them.
func TestBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	topic := string(f.names.Type(codecs.LongSword))
	good := func(i int, edit func(w *codecs.Weapon)) message {
		w := synthWeapon(i*len(codecs.WeaponTypes)*30 + 1*30) // a long sword (id % 14 == 1), not a partner
		w.Key = fmt.Sprintf("long_sword/base/bad-input-%d", i)
		w.WeaponType, w.PageKind = codecs.LongSword, codecs.KindBase
		if edit != nil {
			edit(w)
		}
		m := weaponMessage(t, f.names, w)
		m.topic = topic
		return m
	}
	const injection = `Robert'); DROP TABLE long_sword; -- "quoted" $$ \ ''`
	cases := []struct {
		name   string
		msg    message
		reason string // "" : stored
	}{
		{"not JSON", message{topic, "k1", []byte("this is not JSON")}, "malformed JSON"},
		{"empty", message{topic, "k2", nil}, "empty message"},
		{"unknown schema", message{topic, "k3", []byte(`{"schema":99,"key":"x","version":1}`)}, "unknown"},
		{"version zero", good(1, func(w *codecs.Weapon) { w.Version = 0 }), "version 0, want >= 1"},
		{"negative attack: stored as the site shows it", good(2, func(w *codecs.Weapon) { w.Attack = ptr(-5) }), ""},
		{"wrong type for the topic", good(3, func(w *codecs.Weapon) { w.WeaponType = codecs.Bow }), "long_sword_type_check"},
		{"NUL byte in the name", good(4, func(w *codecs.Weapon) { w.Name = "bad\x00name" }), "store long_sword/base/bad-input-4"},
		{"SQL in the name", good(5, func(w *codecs.Weapon) { w.Name = injection }), ""},
		{"fine after all that", good(6, nil), ""},
	}
	var msgs []message
	for _, c := range cases {
		msgs = append(msgs, c.msg)
	}
	f.produce(t, msgs)
	r := start(t, f.config(nil), nil)
	f.waitConsumed(t, int64(len(msgs)), time.Minute)
	r.settled(t)
	st := r.stop(t)

	dead := map[string]string{} // key -> reason
	rows, _ := f.db.Query(context.Background(), `SELECT convert_from(coalesce(key, ''), 'UTF8'), reason
		FROM sink_dead_letter WHERE consumer = $1 AND kafka_topic = $2`, string(f.names.SinkConsumer()), topic)
	var k, reason string
	if _, err := pgx.ForEachRow(rows, []any{&k, &reason}, func() error { dead[k] = reason; return nil }); err != nil {
		t.Fatal(err)
	}
	wantDead := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stored int
			if err := f.db.QueryRow(context.Background(), `SELECT count(*) FROM long_sword WHERE key = $1`, c.msg.key).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if c.reason == "" {
				if stored != 1 || dead[c.msg.key] != "" {
					t.Errorf("stored %d times, dead-lettered %q; want stored once", stored, dead[c.msg.key])
				}
				return
			}
			wantDead++
			if stored != 0 || !strings.Contains(dead[c.msg.key], c.reason) {
				t.Errorf("stored %d times, dead-lettered with %q; want dead-lettered with %q", stored, dead[c.msg.key], c.reason)
			}
		})
	}
	if st.DeadLettered != int64(wantDead) || len(dead) != wantDead {
		t.Errorf("%d dead-lettered (%d rows), want %d", st.DeadLettered, len(dead), wantDead)
	}
	var name string
	if err := f.db.QueryRow(context.Background(), `SELECT name FROM long_sword WHERE key = 'long_sword/base/bad-input-5'`).Scan(&name); err != nil || name != injection {
		t.Errorf("name %q (%v), want %q stored as text", name, err, injection)
	}
}

// TestRestartSeeksPostgresOffsets restarts the sink with Kafka's committed offsets ahead of,
// behind, equal to and missing from PostgreSQL's: it always starts where PostgreSQL says,
// storing what was lost (ahead) and nothing twice (behind). With Setup's seek switched off, the
// checks in ConsumeClaim must give the same result.
func TestRestartSeeksPostgresOffsets(t *testing.T) {
	t.Parallel()
	for _, seek := range []bool{true, false} {
		for _, kafkaAt := range []string{"ahead", "behind", "equal", "none"} {
			t.Run(fmt.Sprintf("kafka %s, setup seek %v", kafkaAt, seek), func(t *testing.T) {
				t.Parallel()
				testRestart(t, kafkaAt, seek)
			})
		}
	}
}

func testRestart(t *testing.T, kafkaAt string, seek bool) {
	f := newFixture(t)
	msgs, want := synthMessages(t, f.names, 0, 300)
	f.produce(t, msgs)
	r := start(t, f.config(nil), nil)
	f.waitConsumed(t, int64(len(msgs)), time.Minute)
	r.stop(t)
	ends, err := f.store(t).loadOffsets(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// PostgreSQL goes back to `half` on every partition (as if the last batches had not been
	// written); Kafka's committed offsets are put around it.
	const half = 3
	ctx := context.Background()
	var lost int64
	err = pgx.BeginFunc(ctx, f.db, func(tx pgx.Tx) error {
		for _, table := range migrations.WeaponTables() {
			if _, err := tx.Exec(ctx, fmt.Sprintf("DELETE FROM %s WHERE kafka_offset >= $1", table), half); err != nil {
				return err
			}
		}
		err := tx.QueryRow(ctx, `SELECT sum(next_offset - least(next_offset, $1))::bigint FROM kafka_offsets
			WHERE consumer = $2`, half, string(f.names.SinkConsumer())).Scan(&lost)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE kafka_offsets SET next_offset = least(next_offset, $1) WHERE consumer = $2`,
			half, string(f.names.SinkConsumer()))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Kafka's offset stays within the partition, as a real committed offset would.
	kafkaOffset := map[string]func(end int64) int64{
		"ahead":  func(end int64) int64 { return end },
		"behind": func(end int64) int64 { return min(end, half) - 2 },
		"equal":  func(end int64) int64 { return min(end, half) },
	}[kafkaAt]
	f.commitKafka(t, kafkaAt, ends, kafkaOffset)

	r = start(t, f.config(nil), withSetupSeek(seek))
	f.waitConsumed(t, int64(len(msgs)), time.Minute)
	r.settled(t)
	st := r.stop(t)
	f.checkExactlyOnce(t, want)
	if st.Duplicates != 0 {
		t.Errorf("%d duplicates: the sink stored again what PostgreSQL had", st.Duplicates)
	}
	// With Setup's seek, every claim starts at next_offset; without it, ConsumeClaim corrects.
	fallbacks := r.sink.stats.fallbacks.Load()
	switch {
	case seek && (st.Skipped != 0 || fallbacks != 0):
		t.Errorf("Setup's seek missed: %d messages skipped, %d claims read from next_offset", st.Skipped, fallbacks)
	case !seek && kafkaAt == "ahead" && fallbacks == 0:
		t.Error("no claim was read from next_offset although Kafka was ahead")
	case !seek && kafkaAt == "behind" && st.Skipped == 0:
		t.Error("no message skipped although Kafka was behind")
	}
	if st.Stored != lost || lost == 0 {
		t.Errorf("stored %d rows, want %d (what was lost)", st.Stored, lost)
	}
}

// commitKafka sets the sink group's committed offset of every partition (no member is in the
// group now), or deletes the group ("none").
func (f *fixture) commitKafka(t *testing.T, kafkaAt string, ends map[kafka.Partition]int64, offset func(end int64) int64) {
	t.Helper()
	group := string(f.names.SinkConsumer())
	admin, err := sarama.NewClusterAdmin(f.brokers, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if kafkaAt == "none" {
		if err := admin.DeleteConsumerGroup(group); err != nil {
			t.Fatalf("delete group %s: %v", group, err)
		}
		return
	}
	client, err := sarama.NewClient(f.brokers, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	om, err := sarama.NewOffsetManagerFromClient(group, client)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range f.names.WeaponTopics() {
		for id := range int32(testPartitions) {
			pom, err := om.ManagePartition(string(topic), id)
			if err != nil {
				t.Fatal(err)
			}
			pom.ResetOffset(offset(ends[kafka.Partition{Topic: string(topic), ID: id}]), "")
			pom.MarkOffset(offset(ends[kafka.Partition{Topic: string(topic), ID: id}]), "")
		}
	}
	om.Commit()
	if err := om.Close(); err != nil {
		t.Fatal(err)
	}
	offsets, err := admin.ListConsumerGroupOffsets(group, nil)
	if err != nil {
		t.Fatal(err)
	}
	for topic, parts := range offsets.Blocks {
		for id, b := range parts {
			if want := offset(ends[kafka.Partition{Topic: topic, ID: id}]); b.Offset != want && want >= 0 {
				t.Fatalf("Kafka's committed offset of %s/%d is %d, want %d", topic, id, b.Offset, want)
			}
		}
	}
}

// TestReplay rebuilds the tables from offset zero: dumped in order, they are the same before
// and after, and the dead letters are rebuilt too.
func TestReplay(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	msgs, want := synthMessages(t, f.names, 0, 450)
	clash := synthWeapon(0) // its version 1 again, with other content
	clash.ContentHash, clash.Name = "other", "Weapon 0, another parse"
	msgs = append(msgs, message{string(f.names.Partner()), "junk", []byte("{")}, weaponMessage(t, f.names, clash))
	f.produce(t, msgs)
	r := start(t, f.config(nil), nil)
	f.waitConsumed(t, int64(len(msgs)), time.Minute)
	r.stop(t)
	before := f.dump(t)

	var firstDetected time.Time
	if err := f.db.QueryRow(context.Background(), `SELECT detected_at FROM sink_conflict WHERE key = $1`, clash.Key).Scan(&firstDetected); err != nil {
		t.Fatalf("the conflict of %s is not recorded: %v", clash.Key, err)
	}

	cfg := f.config(nil)
	cfg.Replay = true
	r = start(t, cfg, nil)
	r.waitStats(t, func(st Stats) bool { return st.Stored+st.DeadLettered+st.Conflicts == int64(len(msgs)) }, time.Minute)
	f.waitConsumed(t, int64(len(msgs)), time.Minute)
	r.settled(t)
	st := r.stop(t)
	after := f.dump(t)
	f.checkExactlyOnce(t, want)
	if st.Stored != int64(len(want)) || st.DeadLettered != 1 || st.Conflicts != 1 {
		t.Errorf("replay stored %d, dead-lettered %d, %d conflicts; want %d, 1 and 1", st.Stored, st.DeadLettered,
			st.Conflicts, len(want))
	}
	// The replay emptied the conflicts and found this one again.
	rows, _ := f.db.Query(context.Background(), `SELECT detected_at FROM sink_conflict WHERE key = $1`, clash.Key)
	if detected, err := pgx.CollectRows(rows, pgx.RowTo[time.Time]); err != nil || len(detected) != 1 || !detected[0].After(firstDetected) {
		t.Errorf("conflicts of %s after the replay detected at %v (%v), want one, after %v", clash.Key, detected, err, firstDetected)
	}
	if !slices.Equal(before, after) {
		t.Fatalf("tables differ after the replay: %d rows before, %d after", len(before), len(after))
	}
	if len(before) != len(want) {
		t.Fatalf("dump has %d rows, want %d", len(before), len(want))
	}
}

// syncBuffer is a log destination the sink's goroutines may share.
type syncBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{mu: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}
