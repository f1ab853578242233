package sink

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// CorpusRecords is the number of typed weapons the whole newest corpus gives: the crash test
// and the benchmark use as many synthetic ones.
const CorpusRecords = 145955

const testPartitions = 4

func ptr[T any](v T) *T { return &v }

// synthWeapon builds the i-th synthetic weapon: every type and the partners in turn, every
// tenth record a version 2 of the record before it, with the nested parts of its type.
func synthWeapon(i int) *codecs.Weapon {
	id, version := i, int64(1)
	if i%10 == 1 {
		id, version = i-1, 2
	}
	t := codecs.WeaponTypes[id%len(codecs.WeaponTypes)]
	kind, layout := []codecs.PageKind{codecs.KindBase, codecs.KindG, codecs.KindSP}[id%3], codecs.LayoutBlademaster
	if id%15 == 14 {
		kind = codecs.KindPartner
	}
	w := &codecs.Weapon{
		Schema: codecs.WeaponSchemaVersion, Key: codecs.RecordKey(t, kind, fmt.Sprintf("w%d", id), 1),
		Version: version, ContentHash: fmt.Sprintf("%064x", i), WeaponType: t, PageKind: kind,
		Layout: layout, Page: codecs.PageName(t, kind), URL: "https://example.test/" + codecs.PageName(t, kind),
		RowID: fmt.Sprintf("w%d", id), ScrapedAt: time.Date(2025, 10, 22, 0, 0, i%60, 0, time.UTC),
		Source: codecs.Source{Topic: "weapon_data", Partition: int32(i % 4), Offset: int64(i)},
		Name:   fmt.Sprintf("Weapon %d v%d", id, version), Level: ptr(1 + i%7), Rarity: ptr(1 + id%12),
		GRank: ptr(id % 3), Attack: ptr(100 + i%1500), Affinity: ptr(i%61 - 30),
		Elements: []codecs.Element{{Kind: "fire", Value: 10 * (i % 50)}, {Kind: "poison", Value: 120}},
		Defense:  ptr(i % 20), Slots: ptr(i % 4), Rank: &codecs.Rank{System: "GR", Level: ptr(1 + i%999)},
		Price: ptr(1000 * (i % 90)), Description: fmt.Sprintf("A synthetic weapon, row %d.", i),
		Sharpness:   [][]codecs.Sharpness{{{Colour: "red", Hits: 10}, {Colour: "white", Hits: 40}}},
		Creation:    [][]codecs.Material{{{ItemID: "i1", Name: "Iron Ore", Quantity: 1 + i%5, Key: true}}},
		UpgradeFrom: []codecs.WeaponRef{{RowID: fmt.Sprintf("w%d", id-15), Name: "Previous"}},
		Extra:       map[string]string{"note": fmt.Sprint(i % 13)},
	}
	switch t {
	case codecs.LightBowgun, codecs.HeavyBowgun:
		w.Layout = codecs.LayoutGun
		w.Bowgun = &codecs.Bowgun{Reload: "Fast", Recoil: "Small", BulletSpeed: "Normal",
			Ammo: []codecs.Ammo{{Ammo: "Normal", Level: 1, Capacity: ptr(5)}, {Ammo: "Pierce", Level: 2}}}
	case codecs.Bow:
		w.Layout = codecs.LayoutBow
		w.Bow = &codecs.BowStats{ArcShot: "Wide", Coatings: []string{"Power", "Poison"},
			ChargeLevels: []codecs.ChargeLevel{{Stage: 1, Shot: "Rpd", Level: 2}, {Stage: 4, Shot: "Spr", Level: 3, Locked: true}}}
	case codecs.HuntingHorn:
		w.HornNotes = []string{"white", "red", "blue"}
	case codecs.Gunlance:
		w.Shelling = "Normal Shot LV1"
	case codecs.SwitchAxeF:
		w.Phial = "Ele Phial"
	}
	return w
}

// expected is where a weapon must end up: its table and identity.
type rowID struct {
	table   string
	key     string
	version int64
}

func tableOf(w *codecs.Weapon) string {
	if w.PageKind == codecs.KindPartner {
		return migrations.PartnerTable
	}
	return string(w.WeaponType)
}

// fixture is one test's topics, database and consumer.
type fixture struct {
	names   codecs.Names
	brokers []string
	url     string // the owner's: the tests' own checks
	writer  string // mhfz_writer's: the sink's, as in a deployment
	db      *pgxpool.Pool
	cfg     *sarama.Config
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureOn(t, testenv.KafkaBrokers(t), 1, func(codecs.Topic) int32 { return testPartitions })
}

// newFixtureOn makes a fixture on brokers whose weapon topics have the replication given and
// the partition counts partitions gives.
func newFixtureOn(t testing.TB, brokers []string, replication int16, partitions func(codecs.Topic) int32) *fixture {
	t.Helper()
	f := &fixture{names: codecs.Names{Prefix: testenv.Name(t, "sink") + "."}, brokers: brokers,
		url: testenv.DatabaseURL(t), cfg: kafka.Config("sink-test")}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	migrate(t, f.url)
	f.writer = writerURL(t, f.url)
	specs := []kafka.TopicSpec{}
	var names []string
	for _, topic := range f.names.WeaponTopics() {
		specs = append(specs, kafka.TopicSpec{Name: string(topic), Partitions: partitions(topic), Replication: replication})
		names = append(names, string(topic))
	}
	if err := kafka.EnsureTopics(ctx, f.brokers, f.cfg, specs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kafka.DeleteTopics(context.Background(), f.brokers, f.cfg, names...) })
	db, err := pgxpool.New(ctx, f.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	f.db = db
	return f
}

func migrate(t testing.TB, url string) {
	t.Helper()
	if err := migrations.Up(context.Background(), url); err != nil {
		t.Fatal(err)
	}
}

// writerURL is dbURL as mhfz_writer, the role the sink connects as.
func writerURL(t testing.TB, dbURL string) string {
	return testenv.RoleURL(t, dbURL, migrations.WriterRole)
}

// message is one value to produce to one topic.
type message struct {
	topic string
	key   string
	value []byte
}

func weaponMessage(t testing.TB, names codecs.Names, w *codecs.Weapon) message {
	t.Helper()
	topic, err := names.Route(w.WeaponType, w.PageKind)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	return message{string(topic), w.Key, b}
}

// synthMessages encodes the synthetic weapons [from, to) and the rows they must give.
func synthMessages(t testing.TB, names codecs.Names, from, to int) ([]message, []rowID) {
	msgs := make([]message, 0, to-from)
	rows := make([]rowID, 0, to-from)
	for i := from; i < to; i++ {
		w := synthWeapon(i)
		msgs = append(msgs, weaponMessage(t, names, w))
		rows = append(rows, rowID{tableOf(w), w.Key, w.Version})
	}
	return msgs, rows
}

// produce writes msgs (keyed: a weapon's versions stay in order on one partition) and waits
// for every acknowledgement.
func (f *fixture) produce(t testing.TB, msgs []message) {
	t.Helper()
	p, err := sarama.NewAsyncProducer(f.brokers, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var failed error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range msgs {
			select {
			case <-p.Successes():
			case err := <-p.Errors():
				failed = err
			}
		}
	}()
	for _, m := range msgs {
		p.Input() <- &sarama.ProducerMessage{Topic: m.topic, Key: sarama.StringEncoder(m.key), Value: sarama.ByteEncoder(m.value)}
	}
	wg.Wait()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if failed != nil {
		t.Fatalf("produce: %v", failed)
	}
}

func (f *fixture) config(logger *slog.Logger) Config {
	if logger == nil && testing.Verbose() && os.Getenv("MHFZ_SINK_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg := DefaultConfig()
	cfg.Brokers, cfg.DatabaseURL, cfg.Names, cfg.Logger = f.brokers, f.writer, f.names, logger
	cfg.BatchSize, cfg.BatchWait, cfg.RetryMin, cfg.RetryMax = 1000, 50*time.Millisecond, 20*time.Millisecond, 500*time.Millisecond
	return cfg
}

// running is a sink running in this process.
type running struct {
	sink   *Sink
	cancel context.CancelFunc
	done   chan error
}

func start(t testing.TB, cfg Config, tweak func(*Sink)) *running {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{sink: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop stops the sink (idempotent) and fails the test if it did not stop cleanly.
func (r *running) stop(t testing.TB) Stats {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("sink stopped with %v", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(time.Minute):
		t.Fatal("sink did not stop within a minute")
	}
	return r.sink.Stats()
}

// waitStats waits until the sink's stats satisfy ok.
func (r *running) waitStats(t testing.TB, ok func(Stats) bool, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok(r.sink.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v after %s", r.sink.Stats(), timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settled waits until the sink has counted every message it read (stored, duplicate, conflict,
// skipped or dead-lettered). PostgreSQL shows a batch's offsets as soon as it commits, a moment
// before the sink counts the batch: a test that waits for the offsets and then stops the sink
// would otherwise find the rows stored and the stats without them.
func (r *running) settled(t testing.TB) {
	t.Helper()
	r.waitStats(t, func(s Stats) bool {
		return s.Stored+s.Duplicates+s.Conflicts+s.Skipped+s.DeadLettered >= s.Received
	}, time.Minute)
}

// store returns a store on the fixture's database as the sink's role, for the tests to call
// and to read the offsets.
func (f *fixture) store(t testing.TB) *store {
	pool, err := pgxpool.New(context.Background(), f.writer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &store{pool: pool, consumer: string(f.names.SinkConsumer()), trace: func(string) {}}
}

// consumed returns the sum of the next offsets the sink holds: with topics starting at zero,
// the number of messages it has handled.
func (f *fixture) consumed(t testing.TB) int64 {
	var n int64
	err := f.db.QueryRow(context.Background(), `SELECT coalesce(sum(next_offset), 0)::bigint FROM kafka_offsets
		WHERE consumer = $1`, string(f.names.SinkConsumer())).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitConsumed waits until the sink has handled want messages.
func (f *fixture) waitConsumed(t testing.TB, want int64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := f.consumed(t)
		if got == want {
			return
		}
		if got > want {
			t.Fatalf("sink handled %d messages, only %d were produced", got, want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink handled %d of %d messages in %s", got, want, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// storedRows returns every stored (table, key, version) with how many times it is stored.
func (f *fixture) storedRows(t testing.TB) map[rowID]int {
	t.Helper()
	out := map[rowID]int{}
	for _, table := range migrations.WeaponTables() {
		rows, err := f.db.Query(context.Background(), fmt.Sprintf("SELECT key, version FROM %s", table))
		if err != nil {
			t.Fatal(err)
		}
		r := rowID{table: table}
		_, err = pgx.ForEachRow(rows, []any{&r.key, &r.version}, func() error { out[r]++; return nil })
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// checkExactlyOnce fails unless the stored rows are exactly want, each once.
func (f *fixture) checkExactlyOnce(t testing.TB, want []rowID) {
	t.Helper()
	got := f.storedRows(t)
	missing := 0
	for _, r := range want {
		if got[r] != 1 {
			if missing++; missing <= 5 {
				t.Errorf("row %v stored %d times, want once", r, got[r])
			}
		}
		delete(got, r)
	}
	for r, n := range got {
		t.Errorf("row %v stored %d times, never produced", r, n)
	}
	if missing > 0 {
		t.Fatalf("%d of %d rows not stored exactly once", missing, len(want))
	}
	checkLatest(t, f.db)
}

// latestColumns are weapon_latest's columns, as its triggers compute them from a weapon row
// (weapon_table aside).
const latestColumns = `key, version, weapon_type, page_kind, row_id, quality IS NOT NULL AS flagged, name,
	lower(name) AS name_lower, level, rarity, g_rank, attack, affinity, element_value, status_value, defense, slots,
	price, elements`

// checkLatest fails unless weapon_latest holds exactly the latest version of every key of the
// weapon tables whose latest version is not a level row, with its columns: what its triggers
// must keep, whatever the inserts (and replays, conflicts, crashes) that led there.
func checkLatest(t testing.TB, db *pgxpool.Pool) {
	t.Helper()
	var want []string
	for _, table := range migrations.WeaponTables() {
		want = append(want, fmt.Sprintf(`SELECT %s, '%s' FROM (SELECT DISTINCT ON (key) * FROM %s ORDER BY key, version DESC) t
			WHERE NOT hidden`, latestColumns, table, pgx.Identifier{table}.Sanitize()))
	}
	cols := "key, version, weapon_type, page_kind, row_id, flagged, name, name_lower, level, rarity, g_rank, attack, " +
		"affinity, element_value, status_value, defense, slots, price, elements, weapon_table"
	q := fmt.Sprintf(`WITH want AS (%s), got AS (SELECT %s FROM %s)
		SELECT 'missing or different: ' || w.key FROM (SELECT * FROM want EXCEPT ALL SELECT * FROM got) w
		UNION ALL SELECT 'not latest or different: ' || g.key FROM (SELECT * FROM got EXCEPT ALL SELECT * FROM want) g
		UNION ALL SELECT 'rows: ' || (SELECT count(*) FROM got) WHERE (SELECT count(*) FROM got) <> (SELECT count(*) FROM want)`,
		strings.Join(want, " UNION ALL "), cols, migrations.LatestTable)
	rows, err := db.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("compare %s with the weapon tables: %v", migrations.LatestTable, err)
	}
	diffs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("compare %s with the weapon tables: %v", migrations.LatestTable, err)
	}
	if len(diffs) > 0 {
		t.Fatalf("%s is not the latest visible version of every key: %d differences: %v", migrations.LatestTable, len(diffs),
			diffs[:min(len(diffs), 5)])
	}
}

// dump returns every weapon table, every row as text, in key and version order.
func (f *fixture) dump(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, table := range migrations.WeaponTables() {
		rows, err := f.db.Query(context.Background(), fmt.Sprintf("SELECT t::text FROM %s t ORDER BY key, version", table))
		if err != nil {
			t.Fatal(err)
		}
		var s string
		if _, err := pgx.ForEachRow(rows, []any{&s}, func() error { out = append(out, table+" "+s); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	// The tests fail when one of them leaves a goroutine running.
	testenv.VerifyNoLeaks(m)
}

// copyEncoder encodes rows as pgx encodes them for COPY (binary, with the OIDs of the columns'
// types), without PostgreSQL: what the benchmarks and the tests of the rows' values compare.
type copyEncoder struct {
	types *pgtype.Map
	buf   []byte // the last row encoded
}

func newCopyEncoder() *copyEncoder {
	types := pgtype.NewMap()
	registerJSONB(types) // as the sink's connections
	return &copyEncoder{types: types}
}

// encode encodes the row of every record of recs, records of table, keeping only the last in e.buf.
func (e *copyEncoder) encode(table string, recs []*record) error {
	cols := tableColumns(table)
	var values []any
	for _, r := range recs {
		values = rowOf(r, cols, values)
		var err error
		if e.buf, err = e.row(cols, values, e.buf[:0]); err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
	}
	return nil
}

// row appends the COPY encoding of one row's values to buf: each value's length and bytes, -1
// for NULL.
func (e *copyEncoder) row(cols []column, values []any, buf []byte) ([]byte, error) {
	for i, v := range values {
		sp := len(buf)
		buf = binary.BigEndian.AppendUint32(buf, math.MaxUint32) // -1
		out, err := e.types.Encode(columnOID(cols[i]), pgtype.BinaryFormatCode, v, buf)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", cols[i].name, err)
		}
		if out != nil {
			buf = out
			binary.BigEndian.PutUint32(buf[sp:], uint32(len(buf)-sp-4))
		}
	}
	return buf, nil
}

// columnOID is the OID of a column's type in the migrations (TestSchemaMatchesColumns checks).
func columnOID(c column) uint32 {
	switch {
	case c.integer:
		return pgtype.Int4OID
	case c.name == "version" || c.name == "kafka_offset":
		return pgtype.Int8OID
	case c.name == "hidden":
		return pgtype.BoolOID
	case c.name == "scraped_at":
		return pgtype.TimestamptzOID
	case c.name == "coatings" || c.name == "horn_notes":
		return pgtype.TextArrayOID
	case jsonbColumns[c.name]:
		return pgtype.JSONBOID
	}
	return pgtype.TextOID
}

var jsonbColumns = map[string]bool{"elements": true, "upgrade_from": true, "upgrade_to": true, "sharpness": true,
	"materials": true, "tower": true, "ammo": true, "charge_levels": true, "extra": true, "quality": true, "source": true}
