package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// longSword is a long sword of the given key suffix, version and content hash.
func longSword(key string, version int64, hash string) *codecs.Weapon {
	w := synthWeapon(0)
	w.WeaponType, w.PageKind, w.Layout = codecs.LongSword, codecs.KindBase, codecs.LayoutBlademaster
	w.Bowgun, w.Bow, w.HornNotes, w.Shelling, w.Phial = nil, nil, nil, "", ""
	w.Key, w.Version, w.ContentHash = "long_sword/base/"+key, version, hash
	w.Name = fmt.Sprintf("%s v%d (%s)", key, version, hash)
	return w
}

func encode(t testing.TB, w *codecs.Weapon) []byte {
	t.Helper()
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dbFixture is a fixture without Kafka: a migrated database, for tests that call the store or
// Sink.writeBatch directly.
func dbFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{names: codecs.Names{Prefix: testenv.Name(t, "sink") + "."}, url: testenv.DatabaseURL(t)}
	migrate(t, f.url)
	f.writer = writerURL(t, f.url)
	f.db = f.store(t).pool
	return f
}

// directSink is a Sink that is never run: the tests hand batches to its writeBatch.
func (f *fixture) directSink(t testing.TB) *Sink {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Brokers, cfg.DatabaseURL, cfg.Names = []string{"kafka.invalid:9092"}, f.writer, f.names
	cfg.Logger, cfg.RetryMin = slog.New(slog.NewTextHandler(io.Discard, nil)), 10*time.Millisecond
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	openDatabase(t, s)
	return s
}

// records decodes weapons as the sink would, as the messages of one partition from offset first.
func (s *Sink) records(t testing.TB, partition int32, first int64, ws ...*codecs.Weapon) []*record {
	t.Helper()
	topic := string(s.cfg.Names.Type(codecs.LongSword))
	recs := make([]*record, len(ws))
	for i, w := range ws {
		recs[i] = s.decode(&sarama.ConsumerMessage{Topic: topic, Partition: partition, Offset: first + int64(i),
			Key: []byte(w.Key), Value: encode(t, w)})
	}
	return recs
}

// storedConflict is a row of sink_conflict.
type storedConflict struct {
	key            string
	version        int64
	stored, coming string
	offset         int64
	value          []byte
}

func (f *fixture) conflicts(t testing.TB) []storedConflict {
	t.Helper()
	rows, err := f.db.Query(context.Background(), `SELECT key, version, stored_hash, incoming_hash, kafka_offset, value
		FROM sink_conflict WHERE consumer = $1 ORDER BY kafka_topic, kafka_partition, kafka_offset`, string(f.names.SinkConsumer()))
	if err != nil {
		t.Fatal(err)
	}
	var out []storedConflict
	var c storedConflict
	_, err = pgx.ForEachRow(rows, []any{&c.key, &c.version, &c.stored, &c.coming, &c.offset, &c.value}, func() error {
		out = append(out, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (f *fixture) storedHash(t testing.TB, key string, version int64) string {
	t.Helper()
	var h string
	if err := f.db.QueryRow(context.Background(), `SELECT content_hash FROM long_sword WHERE key = $1 AND version = $2`,
		key, version).Scan(&h); err != nil {
		t.Fatalf("%s version %d: %v", key, version, err)
	}
	return h
}

// TestConflicts: a (key, version) that comes again with another hash is a conflict, kept in
// sink_conflict with both hashes and the incoming record, whichever way the batch is written
// (the staging table, a row alone); with the same hash it is a duplicate. A batch written again
// records nothing twice; a replay's reset empties the conflicts.
func TestConflicts(t *testing.T) {
	t.Parallel()
	a1, a1other, a1again, b1 := longSword("a", 1, "H1"), longSword("a", 1, "H2"), longSword("a", 1, "H1"), longSword("b", 1, "HB")
	cases := []struct {
		name    string
		batches [][]int // indexes into the four records, in offset order
	}{
		{"one batch: staging table", [][]int{{0, 1, 2, 3}}},
		{"stored before: staging table", [][]int{{0}, {1, 2, 3}}},
		{"one row at a time", [][]int{{0}, {1}, {2}, {3}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := dbFixture(t)
			s := f.directSink(t)
			recs := s.records(t, 0, 0, a1, a1other, a1again, b1)
			for _, idx := range c.batches {
				var batch []*record
				for _, i := range idx {
					batch = append(batch, recs[i])
				}
				if err := s.writeBatch(context.Background(), batch); err != nil {
					t.Fatal(err)
				}
			}
			st := s.Stats()
			if st.Stored != 2 || st.Conflicts != 1 || st.Duplicates != 1 || st.DeadLettered != 0 {
				t.Errorf("stats %+v: want 2 stored, 1 conflict, 1 duplicate", st)
			}
			if h := f.storedHash(t, a1.Key, 1); h != "H1" {
				t.Errorf("%s version 1 stored with hash %s, want H1 (the first content stays)", a1.Key, h)
			}
			want := storedConflict{a1.Key, 1, "H1", "H2", 1, recs[1].value}
			got := f.conflicts(t)
			if len(got) != 1 || got[0].key != want.key || got[0].version != 1 || got[0].stored != want.stored ||
				got[0].coming != want.coming || got[0].offset != want.offset || !bytes.Equal(got[0].value, want.value) {
				t.Fatalf("sink_conflict holds %+v, want one row %+v", got, want)
			}

			// The whole partition again (a replay after a crash): skipped, nothing recorded twice.
			if err := s.writeBatch(context.Background(), recs); err != nil {
				t.Fatal(err)
			}
			if st := s.Stats(); st.Skipped != 4 || st.Conflicts != 1 || len(f.conflicts(t)) != 1 {
				t.Errorf("written again: stats %+v, %d conflicts stored; want all 4 skipped, still 1", st, len(f.conflicts(t)))
			}
			if err := s.store.reset(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := len(f.conflicts(t)); n != 0 {
				t.Errorf("%d conflicts left after the replay's reset, want 0", n)
			}
		})
	}
}

// TestManyBadRows writes one batch of 5000 rows of which 300 PostgreSQL rejects (a negative
// attack, a NUL byte in the name, 9 slots), with 2 that pgx cannot encode among them: every
// good row is stored, every bad one dead-lettered with its reason, no transaction takes more
// than maxSavepoints savepoints (so the batch had to be cut), and the offsets cover it all.
func TestManyBadRows(t *testing.T) {
	t.Parallel()
	const n, every = 5000, 16 // every 16th row bad, 300 of them
	f := dbFixture(t)
	s := f.directSink(t)
	ws := make([]*codecs.Weapon, n)
	bad := map[int64]string{} // offset -> what the reason must say
	for i := range ws {
		ws[i] = longSword(fmt.Sprintf("many-%d", i), 1, fmt.Sprintf("%064x", i))
		if i%every != 3 || len(bad) == 300 {
			continue
		}
		switch len(bad) % 3 {
		case 0:
			ws[i].WeaponType, bad[int64(i)] = codecs.Lance, "long_sword_type_check"
		case 1:
			ws[i].Name, bad[int64(i)] = "bad\x00name", "0x00"
		default:
			ws[i].WeaponType, bad[int64(i)] = codecs.Bow, "long_sword_type_check"
		}
	}
	recs := s.records(t, 0, 0, ws...)
	// Values pgx cannot encode, set after the sink's own check (which refuses them when it
	// decodes): the COPY fails with query_canceled, and the row alone is found and dead-lettered.
	for _, i := range []int64{100, 4100} { // not 3 modulo 16
		attack := 3_000_000_000
		recs[i].weapon.Attack, bad[i] = &attack, "column attack"
	}
	if err := s.writeBatch(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	peak, splits := s.store.peakSavepoints.Load(), s.stats.splits.Load()
	t.Logf("stats %+v; %d savepoints at most in one transaction, %d splits", st, peak, splits)
	if st.Stored != int64(n-len(bad)) || st.DeadLettered != int64(len(bad)) || st.Retries != 0 {
		t.Errorf("stats %+v: want %d stored, %d dead-lettered, no retry", st, n-len(bad), len(bad))
	}
	if peak > maxSavepoints || splits == 0 {
		t.Errorf("%d savepoints in one transaction (cap %d), %d splits: want the cap kept by cutting the batch",
			peak, maxSavepoints, splits)
	}
	dead := f.deadLetters(t)
	t.Logf("dead letters, for example:\n%s\n%s\n%s\n%s", dead[3], dead[19], dead[35], dead[100])
	for off, want := range bad {
		if !strings.Contains(dead[off], want) || !strings.Contains(dead[off], ws[off].Key) {
			t.Errorf("offset %d: dead letter %q, want its key and %q", off, dead[off], want)
		}
	}
	if len(dead) != len(bad) {
		t.Errorf("%d dead letters, want %d", len(dead), len(bad))
	}
	var rows int
	if err := f.db.QueryRow(context.Background(), `SELECT count(*) FROM long_sword`).Scan(&rows); err != nil || rows != n-len(bad) {
		t.Errorf("long_sword holds %d rows (%v), want %d", rows, err, n-len(bad))
	}
	if got := f.consumed(t); got != n {
		t.Errorf("offsets cover %d messages, want %d", got, n)
	}
}

// deadLetters returns the reasons of the consumer's dead letters by offset.
func (f *fixture) deadLetters(t testing.TB) map[int64]string {
	t.Helper()
	rows, err := f.db.Query(context.Background(), `SELECT kafka_offset, reason FROM sink_dead_letter WHERE consumer = $1`,
		string(f.names.SinkConsumer()))
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]string{}
	var off int64
	var reason string
	if _, err := pgx.ForEachRow(rows, []any{&off, &reason}, func() error { out[off] = reason; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOffsetsOnlyForward: two transactions on a partition that has no offset yet (two
// instances during a rebalance): the second waits for the first, then skips what it stored, and
// the offset never goes back. And a transaction locks only its own partitions' offsets: a batch of
// another partition goes on while it holds them.
func TestOffsetsOnlyForward(t *testing.T) {
	t.Parallel()
	t.Run("first batches of a partition at once", func(t *testing.T) {
		t.Parallel()
		f := dbFixture(t)
		s := f.directSink(t)
		ws := make([]*codecs.Weapon, 100)
		for i := range ws {
			ws[i] = longSword(fmt.Sprintf("fwd-%d", i), 1, "H")
		}
		recs := s.records(t, 0, 0, ws...)
		ahead, stale := f.store(t), f.store(t)
		held, release := make(chan struct{}), make(chan struct{})
		ahead.trace = func(ev string) {
			if ev == "begin" {
				close(held)
				<-release
			}
		}
		staleBegan := make(chan struct{}, 1)
		stale.trace = func(ev string) {
			if ev == "begin" {
				staleBegan <- struct{}{}
			}
		}
		done := make(chan error, 1)
		go func() { _, err := ahead.write(context.Background(), recs); done <- err }()
		<-held
		type result struct {
			res batchResult
			err error
		}
		staleDone := make(chan result, 1)
		go func() { res, err := stale.write(context.Background(), recs[:50]); staleDone <- result{res, err} }()
		waitLockWait(t, f)
		select {
		case <-staleBegan:
			t.Fatal("the second transaction took the partition's offset while the first held it")
		default:
		}
		close(release)
		r := <-staleDone
		if r.err != nil || <-done != nil {
			t.Fatal(r.err)
		}
		if r.res.skipped != 50 || r.res.stored+r.res.duplicates != 0 {
			t.Errorf("the second batch: %+v, want its 50 records skipped (the first one stored them)", r.res)
		}
		if got := f.consumed(t); got != 100 {
			t.Errorf("next_offset is %d after both batches, want 100", got)
		}
	})
	t.Run("other partitions are not locked", func(t *testing.T) {
		t.Parallel()
		f := dbFixture(t)
		s := f.directSink(t)
		p0 := s.records(t, 0, 0, longSword("p0-a", 1, "H"), longSword("p0-b", 1, "H"))
		p1 := s.records(t, 1, 0, longSword("p1-a", 1, "H"), longSword("p1-b", 1, "H"))
		if err := s.writeBatch(context.Background(), []*record{p0[0], p1[0]}); err != nil {
			t.Fatal(err)
		}
		holder, other := f.store(t), f.store(t)
		held, release := make(chan struct{}), make(chan struct{})
		holder.trace = func(ev string) {
			if ev == "begin" {
				close(held)
				<-release
			}
		}
		done := make(chan error, 1)
		go func() { _, err := holder.write(context.Background(), p0[1:]); done <- err }()
		<-held
		otherDone := make(chan error, 1)
		go func() { _, err := other.write(context.Background(), p1[1:]); otherDone <- err }()
		select {
		case err := <-otherDone:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(30 * time.Second):
			t.Error("a batch of partition 1 waited 30s for the lock of a batch of partition 0")
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := f.consumed(t); got != 4 {
			t.Errorf("offsets cover %d messages, want 4", got)
		}
	})
}

// TestClassification lists every error the sink classifies: which dead-letter a row, which
// halve a COPY, which are retried, which restart a Run; and that any other error stops it.
func TestClassification(t *testing.T) {
	t.Parallel()
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	cases := []struct {
		err                                error
		dead, rejectedCopy, retry, restart bool
	}{
		{&pgconn.PgError{Code: "22021"}, true, true, false, false},                                  // a NUL byte in a text
		{&pgconn.PgError{Code: "22003"}, true, true, false, false},                                  // numeric value out of range
		{&pgconn.PgError{Code: "23514"}, true, true, false, false},                                  // a CHECK
		{&pgconn.PgError{Code: "23505"}, true, true, false, false},                                  // a unique violation (the staging table handles it first)
		{&pgconn.PgError{Code: "54000"}, true, true, false, false},                                  // an index row too large
		{&pgconn.PgError{Code: "57014"}, false, true, true, true},                                   // cancelled: pgx's own abort of a COPY, or a timeout
		{&pgconn.PgError{Code: "57P01"}, false, false, true, true},                                  // admin shutdown
		{&pgconn.PgError{Code: "57P03"}, false, false, true, true},                                  // the server is starting
		{&pgconn.PgError{Code: "08006"}, false, false, true, true},                                  // connection failure
		{&pgconn.PgError{Code: "53300"}, false, false, true, true},                                  // too many connections
		{&pgconn.PgError{Code: "40001"}, false, false, true, true},                                  // serialization failure
		{&pgconn.PgError{Code: "40P01"}, false, false, true, true},                                  // deadlock
		{&pgconn.PgError{Code: "58030"}, false, false, true, true},                                  // I/O error
		{&pgconn.PgError{Code: "42P01"}, false, false, false, false},                                // a missing table: the schema is not migrated
		{&pgconn.PgError{Code: "42501"}, false, false, false, false},                                // permission denied
		{&pgconn.PgError{Code: "28P01"}, false, false, false, false},                                // a wrong password
		{fmt.Errorf("write batch: %w", reset), false, false, true, true},                            // the connection was reset
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, false, false, true, true}, // refused
		{&net.DNSError{Err: "no such host", Name: "db", IsNotFound: true}, false, false, true, true},
		{fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), false, false, true, true}, // the server went away
		{fmt.Errorf("query: %w", context.DeadlineExceeded), false, false, true, true},
		{fmt.Errorf("write batch: %w", context.Canceled), false, false, false, false},
		{fmt.Errorf("store 10 rows: %w", errSavepointCap), false, false, false, false},
		{fmt.Errorf("join: %w", sarama.ErrOutOfBrokers), false, false, false, true},        // Kafka is not there
		{fmt.Errorf("join: %w", sarama.ErrRebalanceInProgress), false, false, false, true}, // a KError Kafka calls retriable
		{fmt.Errorf("join: %w", sarama.ErrGroupAuthorizationFailed), false, false, false, false},
		{errors.New("a bug: index out of range"), false, false, false, false}, // unclassified: stops the sink
	}
	for _, c := range cases {
		dead, rejected, retry, restart := neverStorable(c.err), copyRejected(c.err), retryable(c.err), restartable(c.err)
		if dead != c.dead || rejected != c.rejectedCopy || retry != c.retry || restart != c.restart {
			t.Errorf("%v: dead-letter %v, COPY rejected %v, retry %v, restart %v; want %v, %v, %v, %v",
				c.err, dead, rejected, retry, restart, c.dead, c.rejectedCopy, c.retry, c.restart)
		}
	}
	if err := explain(&pgconn.PgError{Code: "42P01", Message: `relation "sink_conflict" does not exist`}); !strings.Contains(err.Error(), "mhfz migrate") {
		t.Errorf("a missing table: %v, want a hint to migrate", err)
	}
	check := &pgconn.PgError{Code: "23514", Message: "new row violates check constraint", TableName: "long_sword",
		ConstraintName: "long_sword_level_check"}
	if got := rejection(check); !strings.HasPrefix(got, "constraint long_sword_level_check, table long_sword: ") {
		t.Errorf("rejection(%v) = %q, want the constraint and the table named from the error's fields", check, got)
	}
}

// An error nobody classified stops the work at once, saying it was unexpected, instead of being
// retried for ever; a known transient one is retried.
func TestUnclassifiedErrorStops(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Brokers, cfg.DatabaseURL = []string{"kafka.invalid:9092"}, "postgres://u@db.invalid/db"
	cfg.Logger, cfg.RetryMin = slog.New(slog.NewTextHandler(io.Discard, nil)), time.Millisecond
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	bug := errors.New("a bug: index out of range")
	err = s.withRetry(context.Background(), "write batch", func() error { return bug })
	if !errors.Is(err, bug) || !strings.Contains(err.Error(), "unexpected error, not retried") {
		t.Errorf("an unclassified error: %v, want it said unexpected and not retried", err)
	}
	if st := s.Stats(); st.Retries != 0 {
		t.Errorf("%d retries of an unclassified error, want none", st.Retries)
	}
	attempts := 0
	err = s.withRetry(context.Background(), "write batch", func() error {
		if attempts++; attempts < 3 {
			return &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
		}
		return nil
	})
	if err != nil || s.Stats().Retries != 2 {
		t.Errorf("a connection reset twice: %v after %d retries, want success after 2", err, s.Stats().Retries)
	}
}

// TestSchemaNotMigrated: a database without the schema stops the sink at once with an error
// that says so, instead of retrying.
func TestSchemaNotMigrated(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Brokers, cfg.DatabaseURL = testenv.KafkaBrokers(t), testenv.DatabaseURL(t)
	cfg.Names, cfg.Logger = codecs.Names{Prefix: testenv.Name(t, "sink") + "."}, slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = s.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "mhfz migrate") || ctx.Err() != nil {
		t.Fatalf("Run on an empty database: %v, want an error asking for the migration", err)
	}
	if st := s.Stats(); st.Retries != 0 {
		t.Errorf("%d retries, want none", st.Retries)
	}
}

// produceTo writes msgs to one partition of their topics, in order.
func (f *fixture) produceTo(t testing.TB, partition int32, msgs []message) {
	t.Helper()
	cfg := *f.cfg
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer(f.brokers, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	batch := make([]*sarama.ProducerMessage, len(msgs))
	for i, m := range msgs {
		batch[i] = &sarama.ProducerMessage{Topic: m.topic, Partition: partition, Key: sarama.StringEncoder(m.key),
			Value: sarama.ByteEncoder(m.value)}
	}
	if err := p.SendMessages(batch); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// TestPoisonOnWeaponTopic puts on one partition of a weapon topic, between good records, an
// attack of 3e9 (more than PostgreSQL's integer), a NUL byte in a name, a version conflict and
// an upstream duplicate: the first two are in sink_dead_letter, the conflict in sink_conflict,
// every good record is stored, nothing is retried, and the summary line counts them. Written
// as one batch and one record per batch.
func TestPoisonOnWeaponTopic(t *testing.T) {
	t.Parallel()
	for _, batch := range []int{1000, 1} {
		t.Run(fmt.Sprintf("batch size %d", batch), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			topic := string(f.names.Type(codecs.LongSword))
			msg := func(w *codecs.Weapon) message { return message{topic, w.Key, encode(t, w)} }
			big, nul := longSword("big-attack", 1, "HX"), longSword("nul-name", 1, "HN")
			big.Attack, nul.Name = ptr(3_000_000_000), "bad\x00name"
			var msgs []message
			var good []*codecs.Weapon
			for i := range 5 {
				good = append(good, longSword(fmt.Sprintf("before-%d", i), 1, "H"))
			}
			first := longSword("versioned", 1, "H1")
			good = append(good, first)
			for _, w := range good {
				msgs = append(msgs, msg(w))
			}
			clash, again := longSword("versioned", 1, "H2"), longSword("versioned", 1, "H1")
			msgs = append(msgs, msg(big), msg(nul), msg(clash), msg(again))
			for i := range 20 {
				w := longSword(fmt.Sprintf("after-%d", i), 1, "H")
				good, msgs = append(good, w), append(msgs, msg(w))
			}
			f.produceTo(t, 2, msgs)

			logs := newSyncBuffer()
			cfg := f.config(slog.New(slog.NewTextHandler(logs, nil)))
			cfg.BatchSize = batch
			r := start(t, cfg, nil)
			f.waitConsumed(t, int64(len(msgs)), time.Minute)
			r.settled(t)
			st := r.stop(t)

			if st.Stored != int64(len(good)) || st.DeadLettered != 2 || st.Conflicts != 1 || st.Duplicates != 1 || st.Retries != 0 {
				t.Errorf("stats %+v: want %d stored, 2 dead-lettered, 1 conflict, 1 duplicate, no retry", st, len(good))
			}
			for _, w := range good {
				if h := f.storedHash(t, w.Key, 1); h != w.ContentHash {
					t.Errorf("%s stored with hash %s, want %s", w.Key, h, w.ContentHash)
				}
			}
			dead := f.deadLetters(t)
			for off, want := range map[int64]string{6: "column attack: 3000000000 is out of range", 7: "0x00"} {
				if !strings.Contains(dead[off], want) {
					t.Errorf("dead letter at offset %d: %q, want %q", off, dead[off], want)
				}
			}
			if c := f.conflicts(t); len(c) != 1 || c[0].offset != 8 || c[0].stored != "H1" || c[0].coming != "H2" {
				t.Errorf("conflicts %+v, want the record at offset 8, H1 stored, H2 incoming", c)
			}
			summary := lineWith(logs.String(), "sink stopped")
			for _, want := range []string{"conflicts=1", "dead_lettered=2", "duplicates=1", "retries=0"} {
				if !strings.Contains(summary, want) {
					t.Errorf("summary %q lacks %s", summary, want)
				}
			}
		})
	}
}

// lineWith returns the first line of log that contains s.
func lineWith(log, s string) string {
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}
