package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	gojson "github.com/goccy/go-json"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/processors"
	"github.com/mhfz/mhfz-pipeline/processors/weaponrow"
)

const corpusRows = 145955

// expected is what the processor must make of one raw record, computed in memory by parsing it
// with the processor's own Parse and Validate, independently of Kafka and goka.
type expected struct {
	hash      string // "" if the record is invalid (a dead letter)
	partition int32
	offset    int64
	scraped   time.Time
}

// routerEnv is one deployment of the router under test: unique topic names, its own storage.
type routerEnv struct {
	t       *testing.T
	brokers []string
	cfg     *sarama.Config
	names   codecs.Names
	storage string
}

func newRouterEnv(t *testing.T) *routerEnv {
	brokers := testenv.KafkaBrokers(t)
	e := &routerEnv{t: t, brokers: brokers, cfg: kafka.Config("e2e-processor"),
		names: codecs.Names{Prefix: testenv.Name(t, "p") + "."}, storage: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := processors.EnsureTopics(ctx, e.names, e.setup()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		topics := []string{string(e.names.WeaponData()), string(e.names.DeadLetter()), processors.TableTopic(e.names)}
		for _, tp := range e.names.WeaponTopics() {
			topics = append(topics, string(tp))
		}
		_ = kafka.DeleteTopics(context.Background(), brokers, e.cfg, topics...)
	})
	return e
}

func (e *routerEnv) setup() processors.KafkaSetup {
	return processors.KafkaSetup{Brokers: e.brokers, Config: e.cfg, Partitions: 4, Replication: 1, StoragePath: e.storage}
}

// routerConfig is the config of a router run in this process on setup: no progress lines.
func routerConfig(names codecs.Names, setup processors.KafkaSetup, log *slog.Logger) processors.Config {
	cfg := processors.DefaultConfig()
	cfg.Names, cfg.Kafka, cfg.Logger, cfg.Progress = names, setup, log, 0
	return cfg
}

// start runs `mhfz process` on this deployment as a child process.
func (e *routerEnv) start() *service {
	return startService(e.t, []string{"MHFZ_KAFKA_BROKERS=" + strings.Join(e.brokers, ",")}, "process",
		"--topic-prefix", e.names.Prefix, "--storage", e.storage, "--partitions", "4", "--replication", "1",
		"--progress", "2s")
}

// snapshotRecord is one raw record of a snapshot, encoded as the scraper emits it, with what the
// processor must make of it.
type snapshotRecord struct {
	key   string
	value []byte
	exp   expected
}

// readSnapshot reads every record of a snapshot and computes, with the processor's own Parse and
// Validate (independently of Kafka and goka), the content hash each must get; two goroutines do
// the encoding and hashing, in page order.
func readSnapshot(t testing.TB, snapshot string) ([]snapshotRecord, error) {
	var recs []snapshotRecord
	in := make(chan int, 256)
	var raws []*codecs.RawRecord
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	work := func() {
		defer wg.Done()
		for i := range in {
			mu.Lock()
			r := raws[i]
			raws[i] = nil
			mu.Unlock()
			value, err := codecs.RawCodec{}.Encode(r) // as the scraper sends it
			rec := snapshotRecord{key: r.Key, value: value, exp: expected{scraped: r.ScrapedAt}}
			if w, perr := interpret(r); perr == nil {
				rec.exp.hash, _ = processors.ContentHash(w)
			}
			mu.Lock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			recs[i] = rec
			mu.Unlock()
		}
	}
	recs = make([]snapshotRecord, 0, corpusRows)
	for range 2 {
		wg.Add(1)
		go work()
	}
	sum, err := scrapeFolder(context.Background(), testenv.Snapshot(t, snapshot), func(r *codecs.RawRecord) error {
		mu.Lock()
		raws = append(raws, r)
		recs = append(recs, snapshotRecord{})
		i := len(raws) - 1
		mu.Unlock()
		in <- i
		return nil
	})
	close(in)
	wg.Wait()
	switch {
	case err != nil:
		return nil, fmt.Errorf("read snapshot %s: %w", snapshot, err)
	case firstErr != nil:
		return nil, firstErr
	case sum.Rows != corpusRows || len(recs) != corpusRows:
		return nil, fmt.Errorf("snapshot %s: %d rows read, want %d", snapshot, sum.Rows, corpusRows)
	}
	return recs, nil
}

// interpret is what the router makes of a raw record, as it does it: parse, validate, the
// findings attached.
func interpret(r *codecs.RawRecord) (*codecs.Weapon, error) {
	w, err := weaponrow.Parse(r)
	if err != nil {
		return nil, err
	}
	findings, err := weaponrow.Validate(w)
	if err != nil {
		return nil, err
	}
	w.Quality = append(w.Quality, findings...)
	return w, nil
}

// corpusRecs holds both snapshots' records, read once per test binary, the older first (so
// that its records are scraped before the newest's, as on the site), for every test: six tests
// and benchmarks emit one or both, and reading a snapshot costs about 7 s of CPU. A test must not
// change the records it is given.
var (
	corpusOnce sync.Once
	corpusRecs map[string][]snapshotRecord
	corpusErr  error
)

// snapshotRecords returns every record of a snapshot (see corpusRecs).
func snapshotRecords(t testing.TB, snapshot string) []snapshotRecord {
	t.Helper()
	// Extracted here, in the test's own goroutine, so that a missing corpus skips (or fails) it.
	testenv.Snapshot(t, testenv.Older)
	testenv.Snapshot(t, testenv.Newest)
	if err := loadCorpus(t); err != nil {
		t.Fatal(err)
	}
	if corpusRecs[snapshot] == nil {
		t.Fatalf("no snapshot %q in the corpus", snapshot)
	}
	return corpusRecs[snapshot]
}

// loadCorpus reads both snapshots into corpusRecs once; it may run in a goroutine of its own
// once the snapshots are extracted (testenv.Snapshot), since it fails no test.
func loadCorpus(t testing.TB) error {
	corpusOnce.Do(func() {
		corpusRecs = map[string][]snapshotRecord{}
		for _, snap := range []string{testenv.Older, testenv.Newest} {
			if corpusRecs[snap], corpusErr = readSnapshot(t, snap); corpusErr != nil {
				return
			}
		}
	})
	return corpusErr
}

// produce emits every record of a snapshot to weapon_data, as the scraper does (a goka emitter,
// keyed by record key), and returns what the processor must make of each, by key, with the
// partition and offset it was written at.
func (e *routerEnv) produce(snapshot string) map[string]expected {
	t := e.t
	recs := snapshotRecords(t, snapshot)
	start := time.Now()
	emitter, err := goka.NewEmitter(e.brokers, goka.Stream(e.names.WeaponData()), new(codec.Bytes),
		goka.WithEmitterProducerBuilder(goka.ProducerBuilderWithConfig(e.cfg)))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	out := make(map[string]expected, corpusRows)
	var emitErr error
	for _, rec := range recs {
		p, err := emitter.Emit(rec.key, rec.value)
		if err != nil {
			t.Fatal(err)
		}
		p.ThenWithMessage(func(msg *sarama.ProducerMessage, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				emitErr = err
				return
			}
			exp := rec.exp
			exp.partition, exp.offset = msg.Partition, msg.Offset
			out[rec.key] = exp
		})
	}
	if err := emitter.Finish(); err != nil {
		t.Fatal(err)
	}
	if emitErr != nil {
		t.Fatal(emitErr)
	}
	t.Logf("snapshot %s: %d records emitted to %s in %s", snapshot, len(recs), e.names.WeaponData(), time.Since(start).Round(time.Millisecond))
	if len(out) != corpusRows {
		t.Fatalf("snapshot %s: %d distinct keys emitted, want %d", snapshot, len(out), corpusRows)
	}
	return out
}

// waitCaughtUp waits until the router's group has committed every offset of weapon_data.
func (e *routerEnv) waitCaughtUp(svc *service, timeout time.Duration) {
	t := e.t
	t.Helper()
	client, err := sarama.NewClient(e.brokers, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	topic := e.names.WeaponData()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		lag, err := groupLag(client, admin, e.names.RouterGroup(), topic)
		if err == nil && lag == 0 {
			t.Logf("router caught up with %s in %s", topic, time.Since(start).Round(time.Millisecond))
			return
		}
		select {
		case err := <-svc.done:
			svc.done <- err
			t.Fatalf("mhfz process exited before catching up: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("router not caught up after %s: lag %d (%v)", timeout, lag, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// passStats are the counters `mhfz process` prints when it stops.
type passStats struct{ read, forwarded, reemitted, unchanged, stale, dead int64 }

var summaryLine = regexp.MustCompile(`process: read (\d+), forwarded (\d+), re-emitted (\d+), unchanged (\d+), stale (\d+), dead letters (\d+)`)

// stop stops the router with SIGTERM and reads its summary.
func (e *routerEnv) stop(svc *service) passStats {
	t := e.t
	t.Helper()
	if err := svc.stop(); err != nil {
		svc.dumpLog()
		t.Fatalf("mhfz process did not stop cleanly: %v", err)
	}
	data, err := os.ReadFile(svc.log)
	if err != nil {
		t.Fatal(err)
	}
	m := summaryLine.FindSubmatch(data)
	if m == nil {
		svc.dumpLog()
		t.Fatal("no summary line in the output of mhfz process")
	}
	n := func(i int) int64 { v, _ := strconv.ParseInt(string(m[i]), 10, 64); return v }
	return passStats{n(1), n(2), n(3), n(4), n(5), n(6)}
}

// topicRecord is one message of a weapon topic: key, version, hash.
type topicRecord struct {
	key, hash string
	version   int64
}

// readTopic reads every message of a topic up to its current end.
func (e *routerEnv) readTopic(topic string, fn func(key string, value []byte)) int {
	return readTopic(e.t, e.brokers, e.cfg, topic, fn)
}

// weapons reads the (key, version, hash) of every message on every weapon topic.
func (e *routerEnv) weapons() []topicRecord {
	var out []topicRecord
	for _, topic := range e.names.WeaponTopics() {
		e.readTopic(string(topic), func(key string, value []byte) {
			var head struct {
				Key         string `json:"key"`
				Version     int64  `json:"version"`
				ContentHash string `json:"content_hash"`
			}
			if err := gojson.Unmarshal(value, &head); err != nil {
				e.t.Fatalf("topic %s key %s: %v", topic, key, err)
			}
			out = append(out, topicRecord{key: head.Key, version: head.Version, hash: head.ContentHash})
		})
	}
	return out
}

// deadLetters reads the dead-letter topic.
func (e *routerEnv) deadLetters() []*codecs.DeadLetter {
	return readDeadLetters(e.t, e.brokers, e.cfg, e.names.DeadLetter())
}

// table reads the group table topic: the last state written per key.
func (e *routerEnv) table() map[string]codecs.DedupState {
	out := map[string]codecs.DedupState{}
	e.readTopic(processors.TableTopic(e.names), func(key string, value []byte) {
		s, err := codecs.DedupStateCodec{}.Decode(value)
		if err != nil {
			e.t.Fatalf("table value %s: %v", key, err)
		}
		out[key] = *s.(*codecs.DedupState)
	})
	return out
}

// TestProcessorOlderThenNewest runs the router on the older snapshot, then on the newest (it must
// forward exactly the records whose parsed content differs, counted in memory here), then on the
// newest again (it must forward nothing). Then the sink stores what it forwarded while being
// killed (sinkCorpusUnderCrashes).
func TestProcessorOlderThenNewest(t *testing.T) {
	t.Parallel()
	e := newRouterEnv(t)

	older := e.produce(testenv.Older)
	svc := e.start()
	e.waitCaughtUp(svc, 5*time.Minute)
	a := e.stop(svc)
	validOlder := countValid(older)
	t.Logf("older snapshot: %+v (valid %d)", a, validOlder)
	if a.read != corpusRows || a.forwarded != validOlder || a.dead != corpusRows-validOlder || a.unchanged != 0 {
		t.Fatalf("first pass (older): %+v; want read %d = forwarded %d + dead letters %d", a, corpusRows, validOlder, corpusRows-validOlder)
	}

	newest := e.produce(testenv.Newest)
	var differ int64
	for key, n := range newest {
		if n.hash != "" && older[key].hash != n.hash {
			differ++
		}
	}
	svc = e.start()
	e.waitCaughtUp(svc, 5*time.Minute)
	b := e.stop(svc)
	t.Logf("newest over older: %+v; records whose parsed content differs: %d", b, differ)
	if b.read != corpusRows || b.forwarded != differ || b.reemitted != 0 || b.stale != 0 ||
		b.forwarded+b.unchanged+b.dead != corpusRows {
		t.Fatalf("second pass (newest): %+v; want forwarded %d (the differing records), the rest unchanged or dead letters", b, differ)
	}

	e.produce(testenv.Newest)
	svc = e.start()
	e.waitCaughtUp(svc, 5*time.Minute)
	c := e.stop(svc)
	t.Logf("newest again: %+v", c)
	if c.read != corpusRows || c.forwarded != 0 || c.reemitted != 0 || c.unchanged+c.dead != corpusRows {
		t.Fatalf("third pass (newest again): %+v; want nothing forwarded", c)
	}

	// The weapon topics hold exactly what was forwarded: version 1 of every valid older record,
	// version 2 of those that changed (or 1 for a key new in the newest snapshot).
	ws := e.weapons()
	if int64(len(ws)) != a.forwarded+b.forwarded {
		t.Fatalf("weapon topics hold %d records, the passes forwarded %d", len(ws), a.forwarded+b.forwarded)
	}
	last := map[string]topicRecord{}
	for _, w := range ws {
		if w.version > last[w.key].version {
			last[w.key] = w
		}
	}
	for key, n := range newest {
		if n.hash != "" && last[key].hash != n.hash {
			t.Fatalf("key %s: last version on its topic has hash %s, the newest content %s", key, last[key].hash, n.hash)
		}
	}

	// The sink's test on these topics (formerly TestSinkCorpusUnderCrashes, which ran the router
	// over both snapshots a second time): the history each weapon must get, from the pages.
	history := map[string][]string{}
	for _, snapshot := range []map[string]expected{older, newest} {
		for key, exp := range snapshot {
			if h := history[key]; exp.hash != "" && (len(h) == 0 || h[len(h)-1] != exp.hash) {
				history[key] = append(h, exp.hash)
			}
		}
	}
	sinkCorpusUnderCrashes(t, e, history)
}

func countValid(m map[string]expected) int64 {
	var n int64
	for _, e := range m {
		if e.hash != "" {
			n++
		}
	}
	return n
}

// TestProcessorKilledMidCorpus runs `mhfz process` on the newest snapshot, kills it with SIGKILL
// in the middle, restarts it, and checks that it reaches the same group table and the same set of
// (key, version) as a run without a crash would: version 1 of every valid record, with the hash
// and the source offset computed here. Duplicates (at-least-once delivery) are counted; the sink
// stores (key, version) once (primary key, ON CONFLICT DO NOTHING).
func TestProcessorKilledMidCorpus(t *testing.T) {
	t.Parallel()
	e := newRouterEnv(t)
	want := e.produce(testenv.Newest)

	svc := e.start()
	// Kill it once it has forwarded a part of the corpus, before the end.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		n := e.countWeaponMessages()
		if n > corpusRows/4 {
			t.Logf("killing mhfz process (SIGKILL) after %d weapons reached the topics", n)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d weapons on the topics after 3 minutes", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	svc.kill()
	if n := e.countWeaponMessages(); n >= countValid(want) {
		t.Fatalf("the router had forwarded all %d weapons before the kill: the kill did not land mid-work", n)
	}

	svc = e.start()
	e.waitCaughtUp(svc, 5*time.Minute)
	s := e.stop(svc)
	t.Logf("after the restart: %+v", s)

	// Every valid record: exactly version 1 with its hash, possibly more than once.
	ws := e.weapons()
	seen := map[string]int{}
	for _, w := range ws {
		exp, ok := want[w.key]
		if !ok || w.version != 1 || w.hash != exp.hash {
			t.Fatalf("weapon %s version %d hash %s: want version 1 of a corpus record with hash %s", w.key, w.version, w.hash, exp.hash)
		}
		seen[w.key]++
	}
	valid := countValid(want)
	if int64(len(seen)) != valid {
		t.Fatalf("%d distinct (key, version) on the weapon topics, want %d", len(seen), valid)
	}
	dls := e.deadLetters()
	deadKeys := map[string]bool{}
	for _, d := range dls {
		deadKeys[d.Key] = true
		t.Logf("dead letter %s (%s): %s", d.Key, d.Kind, d.Reason)
	}
	if int64(len(seen))+int64(len(deadKeys)) != corpusRows {
		t.Fatalf("%d routed + %d dead-lettered keys = %d, want %d", len(seen), len(deadKeys), len(seen)+len(deadKeys), corpusRows)
	}
	t.Logf("duplicates on the weapon topics (at-least-once after the kill): %d of %d messages; dead letters %d (%d keys)",
		len(ws)-len(seen), len(ws), len(dls), len(deadKeys))

	// The group table: what a run without a crash writes, key by key.
	table := e.table()
	for key, exp := range want {
		st, ok := table[key]
		if exp.hash == "" {
			if ok {
				t.Fatalf("invalid record %s has a table entry", key)
			}
			continue
		}
		wantSt := codecs.DedupState{ContentHash: exp.hash, Version: 1, FirstSeen: exp.scraped, LastSeen: exp.scraped,
			Source: codecs.Source{Topic: string(e.names.WeaponData()), Partition: exp.partition, Offset: exp.offset}}
		if !ok || !sameState(st, wantSt) {
			t.Fatalf("table[%s] = %+v, want %+v", key, st, wantSt)
		}
	}
	if len(table) != int(valid) {
		t.Fatalf("table has %d keys, want %d", len(table), valid)
	}
}

func sameState(a, b codecs.DedupState) bool {
	return a.ContentHash == b.ContentHash && a.Version == b.Version && a.Source == b.Source &&
		a.FirstSeen.Equal(b.FirstSeen) && a.LastSeen.Equal(b.LastSeen)
}

// countWeaponMessages sums the end offsets of the weapon topics.
func (e *routerEnv) countWeaponMessages() int64 {
	client, err := sarama.NewClient(e.brokers, e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	defer client.Close()
	var n int64
	for _, topic := range e.names.WeaponTopics() {
		parts, err := client.Partitions(string(topic))
		if err != nil {
			e.t.Fatal(err)
		}
		for _, p := range parts {
			hwm, err := client.GetOffset(string(topic), p, sarama.OffsetNewest)
			if err != nil {
				e.t.Fatal(err)
			}
			n += hwm
		}
	}
	return n
}

func loadNewest(b *testing.B) [][]byte {
	b.Helper()
	recs := snapshotRecords(b, testenv.Newest)
	out := make([][]byte, len(recs))
	for i, r := range recs {
		out[i] = r.value
	}
	return out
}

// BenchmarkProcessorParseStep measures the router's per-record work without Kafka: decode,
// parse, validate and hash every record of the newest snapshot, on one goroutine.
func BenchmarkProcessorParseStep(b *testing.B) {
	recs := loadNewest(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, data := range recs {
			raw, err := processors.Decode(data)
			if err != nil {
				b.Fatal(err)
			}
			w, err := interpret(raw)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := processors.ContentHash(w); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkProcessorCorpus measures the router on the real broker: the whole newest snapshot,
// already on weapon_data, through a fresh group (empty table, offset zero) until every record is
// read, with the options `mhfz process` uses (4 partitions, idempotent producer, LZ4). The group
// join and the table recovery are timed too.
func BenchmarkProcessorCorpus(b *testing.B) {
	recs := snapshotRecords(b, testenv.Newest)
	brokers := testenv.KafkaBrokers(b)
	cfg := kafka.Config("bench-processor")
	names := codecs.Names{Prefix: testenv.Name(b, "bench") + "."}
	setup := processors.KafkaSetup{Brokers: brokers, Config: cfg, Partitions: 4, Replication: 1, StoragePath: b.TempDir()}
	ctx := context.Background()
	if err := processors.EnsureTopics(ctx, names, setup); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		topics := []string{string(names.WeaponData()), string(names.DeadLetter()), processors.TableTopic(names)}
		for _, tp := range names.WeaponTopics() {
			topics = append(topics, string(tp))
		}
		_ = kafka.DeleteTopics(context.Background(), brokers, cfg, topics...)
	})
	emitter, err := goka.NewEmitter(brokers, goka.Stream(names.WeaponData()), new(codec.Bytes),
		goka.WithEmitterProducerBuilder(goka.ProducerBuilderWithConfig(cfg)))
	if err != nil {
		b.Fatal(err)
	}
	for _, rec := range recs {
		if _, err := emitter.Emit(rec.key, rec.value); err != nil {
			b.Fatal(err)
		}
	}
	if err := emitter.Finish(); err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := processors.Reset(ctx, names, setup); err != nil {
			b.Fatal(err)
		}
		if err := processors.EnsureTopics(ctx, names, setup); err != nil {
			b.Fatal(err)
		}
		r, err := processors.New(routerConfig(names, setup, quiet))
		if err != nil {
			b.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		b.StartTimer()
		go func() { done <- r.Run(runCtx) }()
		for r.Stats().Read < corpusRows {
			select {
			case err := <-done:
				b.Fatalf("router stopped: %v", err)
			case <-time.After(20 * time.Millisecond):
			}
		}
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		if s := r.Stats(); s.Forwarded+s.DeadLetters != corpusRows {
			b.Fatalf("pass %d: %+v", i, s)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*corpusRows)/b.Elapsed().Seconds(), "records/s")
}
