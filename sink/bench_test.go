package sink

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// decodedCorpus decodes the synthetic corpus as the sink would: the rows of each table.
func decodedCorpus(b *testing.B, f *fixture, msgs []message) map[string][][]any {
	b.Helper()
	s := &Sink{tables: topicTables(f.names)}
	rows := map[string][][]any{}
	for i, m := range msgs {
		r := s.decode(&sarama.ConsumerMessage{Topic: m.topic, Partition: 0, Offset: int64(i), Key: []byte(m.key), Value: m.value})
		if !r.storable() {
			b.Fatalf("message %d: %s", i, r.reason)
		}
		rows[r.table] = append(rows[r.table], rowOf(r, tableColumns(r.table), nil))
	}
	return rows
}

// BenchmarkCeiling is the most the tables take: the corpus' rows, decoded beforehand, copied
// with pgx CopyFrom straight into the same tables, in one transaction.
func BenchmarkCeiling(b *testing.B) {
	f := newFixture(b)
	msgs, _ := synthMessages(b, f.names, 0, CorpusRecords)
	rows := decodedCorpus(b, f, msgs)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if _, err := f.db.Exec(ctx, "TRUNCATE "+identifiers(append(migrations.WeaponTables(), migrations.LatestTable))); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		err := pgx.BeginFunc(ctx, f.db, func(tx pgx.Tx) error {
			for table, rs := range rows {
				n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columnNames(tableColumns(table)), pgx.CopyFromRows(rs))
				if err != nil || n != int64(len(rs)) {
					return fmt.Errorf("copy %s: %d of %d rows: %v", table, n, len(rs), err)
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(CorpusRecords)/time.Since(start).Seconds(), "rows/s")
	}
}

// BenchmarkSink is the sink's throughput: the corpus' weapons, already on the 15 topics, read,
// decoded and stored with their offsets (a --replay from offset zero each time), from the
// start of the sink until PostgreSQL's offsets cover every message.
func BenchmarkSink(b *testing.B) {
	f := newFixture(b)
	msgs, _ := synthMessages(b, f.names, 0, CorpusRecords)
	f.produce(b, msgs)
	b.ResetTimer()
	for range b.N {
		cfg := f.config(nil)
		cfg.BatchSize, cfg.BatchWait = 5000, 200*time.Millisecond
		cfg.Replay = true
		t0 := time.Now()
		r := start(b, cfg, nil)
		r.waitStats(b, func(st Stats) bool { return st.Stored == CorpusRecords }, 5*time.Minute)
		elapsed := time.Since(t0)
		b.StopTimer()
		if got := f.consumed(b); got != CorpusRecords {
			b.Fatalf("offsets cover %d messages, want %d", got, CorpusRecords)
		}
		r.stop(b)
		b.StartTimer()
		b.ReportMetric(float64(CorpusRecords)/elapsed.Seconds(), "records/s")
		b.ReportMetric(elapsed.Seconds(), "s/corpus")
	}
}

// BenchmarkDecode is the sink's own work on each message, without Kafka or PostgreSQL: the
// synthetic corpus' weapons decoded (Sink.decode) and their rows encoded as the COPY sends them
// (appendCopy, into one reused buffer).
func BenchmarkDecode(b *testing.B) {
	names := codecs.Names{Prefix: "bench."}
	msgs, _ := synthMessages(b, names, 0, CorpusRecords)
	s := &Sink{tables: topicTables(names)}
	var buf []byte // reused, as copyInto's buffers are
	b.ReportAllocs()
	runtime.GC()
	cpu0 := processCPU(b)
	for b.Loop() {
		for i, m := range msgs {
			r := s.decode(&sarama.ConsumerMessage{Topic: m.topic, Offset: int64(i), Key: []byte(m.key), Value: m.value})
			if !r.storable() {
				b.Fatalf("message %d: %s", i, r.reason)
			}
			var err error
			if buf, err = appendCopy(buf[:0], []*record{r}, tableColumns(r.table)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(CorpusRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric((processCPU(b)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

// processCPU is the user and system CPU time of the process so far (the collector's workers
// included): what a benchmark costs on a machine whose other load slows its wall time.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// realMessages reads the messages the processor sends for the newest snapshot from the file
// MHFZ_ROUTED_WEAPONS names (written by e2e TestWriteRoutedWeapons: the sink's tests cannot
// import the processor); the benchmark is skipped without it.
func realMessages(b testing.TB) []*sarama.ConsumerMessage {
	path := os.Getenv("MHFZ_ROUTED_WEAPONS")
	if path == "" {
		b.Skip("MHFZ_ROUTED_WEAPONS names no file of routed weapons (e2e TestWriteRoutedWeapons writes it)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var msgs []*sarama.ConsumerMessage
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		topic, rest, _ := bytes.Cut(line, []byte("\t"))
		key, value, ok := bytes.Cut(rest, []byte("\t"))
		if !ok {
			b.Fatalf("%s line %d: not topic, key and value", path, i+1)
		}
		msgs = append(msgs, &sarama.ConsumerMessage{Topic: string(topic), Partition: int32(i % 4),
			Offset: int64(i / 4), Key: key, Value: value})
	}
	return msgs
}

// BenchmarkDecodeRealCorpus is the sink's own work on each real record, without Kafka or
// PostgreSQL: the newest snapshot's weapons as the processor sent them decoded (Sink.decode) in
// batches of the default size, and each batch's rows encoded per table as the COPY sends them
// (appendCopy). One op is the whole snapshot: its allocations are the sink's per snapshot.
//
//	MHFZ_ROUTED_WEAPONS=/tmp/routed.tsv go test -run '^$' -bench DecodeRealCorpus -benchmem -count 5 ./sink/
func BenchmarkDecodeRealCorpus(b *testing.B) {
	msgs := realMessages(b)
	s := &Sink{tables: topicTables(codecs.Names{})}
	var buf []byte
	batch := DefaultConfig().BatchSize
	b.ReportAllocs()
	runtime.GC()
	cpu0 := processCPU(b)
	for b.Loop() {
		for from := 0; from < len(msgs); from += batch {
			byTable := map[string][]*record{}
			for _, m := range msgs[from:min(from+batch, len(msgs))] {
				r := s.decode(m)
				if !r.storable() {
					b.Fatalf("%s", r.reason)
				}
				byTable[r.table] = append(byTable[r.table], r)
			}
			for table, recs := range byTable {
				var err error
				if buf, err = appendCopy(buf[:0], recs, tableColumns(table)); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportMetric(float64(len(msgs)), "records/op")
	b.ReportMetric((processCPU(b)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

// TestWriteCopyRows writes the rows of the real records (as BenchmarkDecodeRealCorpus reads
// them) as the sink encodes them for COPY (each row's fields), table by table, to the file
// MHFZ_COPY_ROWS names: two builds that write the same file send PostgreSQL the same bytes (the
// builds before the sink's own COPY wrote pgx's encoding of the same rows). Skipped without it.
//
//	MHFZ_ROUTED_WEAPONS=/tmp/routed.tsv MHFZ_COPY_ROWS=/tmp/rows.bin go test -run TestWriteCopyRows ./sink/
func TestWriteCopyRows(t *testing.T) {
	path := os.Getenv("MHFZ_COPY_ROWS")
	if path == "" {
		t.Skip("MHFZ_COPY_ROWS names no file to write")
	}
	msgs := realMessages(t)
	s := &Sink{tables: topicTables(codecs.Names{})}
	var out []byte
	for _, m := range msgs {
		r := s.decode(m)
		if !r.storable() {
			t.Fatalf("%s", r.reason)
		}
		fields, err := copyFields(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(append(out, r.table...), '\t')
		out = append(append(out, fields...), '\n')
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
