package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/pressly/goose/v3"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
	"github.com/mhfz/mhfz-pipeline/processors"
	"github.com/mhfz/mhfz-pipeline/processors/weaponrow"
	"github.com/mhfz/mhfz-pipeline/reprocess"
	"github.com/mhfz/mhfz-pipeline/sink"
)

// reprocessTables are the tables the re-processing test loads: two weapon types of every page
// kind, the switch axes holding the Apophis Axe rows whose status value looks wrong.
var reprocessTables = []string{"long_sword", "switch_axe_f"}

func inReprocessSubset(key string) bool {
	for _, t := range reprocessTables {
		if strings.HasPrefix(key, t+"/") {
			return true
		}
	}
	return false
}

// parseA is "build A", an older parser: like the builds before quality findings, it rejects a
// weapon whose element or status value is beyond 5000, so the 100 Apophis Axe "Glory" rows of
// the older snapshot (a status of 102400) are dead letters, and get their version 1 only from
// the newer snapshot.
func parseA(raw *codecs.RawRecord) (*codecs.Weapon, error) {
	w, err := weaponrow.Parse(raw)
	if err != nil {
		return nil, err
	}
	for _, e := range w.Elements {
		if e.Value > 5000 || e.Value < -5000 {
			return nil, fmt.Errorf("record %s: %s %d outside [-5000, 5000]", w.Key, e.Kind, e.Value)
		}
	}
	return w, nil
}

// parseB is "build B", the current parser with one more difference: it upper-cases the names of
// the long swords. With it the Apophis Axe rows have a version 1 (older snapshot) and a version 2.
func parseB(raw *codecs.RawRecord) (*codecs.Weapon, error) {
	w, err := weaponrow.Parse(raw)
	if err != nil {
		return nil, err
	}
	if w.WeaponType == codecs.LongSword {
		w.Name = strings.ToUpper(w.Name)
	}
	return w, nil
}

// deployment is one pipeline under test: its topics (a unique prefix), router storage and
// database.
type deployment struct {
	t           testing.TB
	brokers     []string
	cfg         *sarama.Config
	names       codecs.Names
	storage     string
	url         string
	db          *pgxpool.Pool
	replication int // of the topics its services create (failover_test.go)
	partitions  int // of the topics its services create (0: their default)
}

func newDeployment(t testing.TB, ctx context.Context, name string) *deployment {
	d := &deployment{t: t, brokers: testenv.KafkaBrokers(t), cfg: kafka.Config("e2e-reprocess"),
		names: codecs.Names{Prefix: testenv.Name(t, name) + "."}, storage: t.TempDir(), url: testenv.DatabaseURL(t)}
	if err := processors.EnsureTopics(ctx, d.names, d.setup()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		topics := []string{string(d.names.WeaponData()), string(d.names.DeadLetter()), processors.TableTopic(d.names)}
		for _, tp := range d.names.WeaponTopics() {
			topics = append(topics, string(tp))
		}
		_ = kafka.DeleteTopics(context.Background(), d.brokers, d.cfg, topics...)
	})
	d.migrate(ctx)
	return d
}

// as is the deployment's database URL as role, the role of a service in a deployment
// (migrations.WriterRole for a sink, RebuilderRole for a re-processing, ReaderRole for readers):
// scripts/testenv's server trusts loopback connections, so the role needs no password there.
func (d *deployment) as(role string) string {
	u, err := url.Parse(d.url)
	if err != nil {
		d.t.Fatal(err)
	}
	u.User = url.User(role)
	return u.String()
}

// migrationsOf is the goose provider of the migrations on the database at url, closed when the
// test ends.
func migrationsOf(t testing.TB, url string) *goose.Provider {
	t.Helper()
	db, err := migrations.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p, err := migrations.NewProvider(db)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// migrate applies the migrations to the deployment's database and opens its pool.
func (d *deployment) migrate(ctx context.Context) {
	t := d.t
	p := migrationsOf(t, d.url)
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	db, err := pgxpool.New(ctx, d.url)
	if err != nil {
		t.Fatal(err)
	}
	d.db = db
	t.Cleanup(d.db.Close)
}

func (d *deployment) setup() processors.KafkaSetup {
	return processors.KafkaSetup{Brokers: d.brokers, Config: d.cfg, Partitions: 4, Replication: 1, StoragePath: d.storage}
}

// reprocessConfig is the re-processing of this deployment, logging to log.
func (d *deployment) reprocessConfig(log *slog.Logger) reprocess.Config {
	cfg := reprocess.DefaultConfig()
	cfg.Names, cfg.Setup, cfg.DatabaseURL, cfg.Logger = d.names, d.setup(), d.as(migrations.RebuilderRole), log
	return cfg
}

// reprocessOnce runs one re-processing with cfg.
func reprocessOnce(ctx context.Context, cfg reprocess.Config) (reprocess.Stats, error) {
	r, err := reprocess.New(cfg)
	if err != nil {
		return reprocess.Stats{}, err
	}
	err = r.Run(ctx)
	return r.Stats(), err
}

// subsetRecords reads the subset's raw records of a snapshot, in the snapshot's order; both
// deployments get the very same records (the scrape time is in them).
func subsetRecords(t testing.TB, snapshot string) []snapshotRecord {
	var out []snapshotRecord
	for _, rec := range snapshotRecords(t, snapshot) {
		if inReprocessSubset(rec.key) {
			out = append(out, rec)
		}
	}
	return out
}

// emit writes raw records to weapon_data, in their order.
func (d *deployment) emit(recs []snapshotRecord) {
	t := d.t
	emitter, err := goka.NewEmitter(d.brokers, goka.Stream(d.names.WeaponData()), new(codec.Bytes),
		goka.WithEmitterProducerBuilder(goka.ProducerBuilderWithConfig(d.cfg)))
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if _, err := emitter.Emit(rec.key, rec.value); err != nil {
			t.Fatal(err)
		}
	}
	if err := emitter.Finish(); err != nil {
		t.Fatal(err)
	}
}

// logger writes to the test's log only when it fails, through a file.
func testLogger(t testing.TB, name string) *slog.Logger {
	f, err := os.Create(t.TempDir() + "/" + name + ".log")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			data, _ := os.ReadFile(f.Name())
			if len(data) > 6000 {
				data = data[len(data)-6000:]
			}
			t.Logf("log of %s:\n%s", name, data)
		}
		f.Close()
	})
	return slog.New(slog.NewTextHandler(f, nil)).With("deployment", name)
}

// running is a router and a live sink of a deployment, running in this process; each can be
// stopped on its own.
type running struct {
	router     *processors.Router
	sink       *sink.Sink
	stopRouter func() error
	stopSink   func() error
}

// start runs the deployment's router (with parse, nil: the default) and its live sink.
func (d *deployment) start(ctx context.Context, parse func(*codecs.RawRecord) (*codecs.Weapon, error), name string) *running {
	t := d.t
	log := testLogger(t, name)
	cfg := routerConfig(d.names, d.setup(), log)
	if parse != nil {
		cfg.Parse = parse
	}
	router, err := processors.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sc := sinkConfig("e2e-reprocess-sink", 200*time.Millisecond)
	sc.Brokers, sc.DatabaseURL, sc.Names, sc.Logger, sc.RebuildLogEvery = d.brokers, d.as(migrations.WriterRole), d.names, log, time.Second
	sk, err := sink.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{router: router, sink: sk}
	r.stopRouter = goRun(ctx, func(ctx context.Context) error {
		if err := router.Run(ctx); err != nil {
			return fmt.Errorf("router: %w", err)
		}
		return nil
	})
	r.stopSink = goRun(ctx, sk.Run)
	t.Cleanup(func() { _, _ = r.stopRouter(), r.stopSink() })
	return r
}

// goRun runs f in a goroutine; the function it returns stops f and returns its error (the same
// error if called again).
func goRun(ctx context.Context, f func(context.Context) error) (stop func() error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var err error
	go func() { defer close(done); err = f(ctx) }()
	return func() error {
		cancel()
		<-done
		return err
	}
}

func (r *running) halt(t testing.TB) {
	if err := r.stopRouter(); err != nil {
		t.Fatal(err)
	}
	if err := r.stopSink(); err != nil {
		t.Fatal(err)
	}
}

// waitStored waits until the router has committed all of weapon_data and the live sink has
// stored every message of the weapon topics.
func (d *deployment) waitStored(ctx context.Context, r *running) {
	t := d.t
	client, admin, err := kafka.Connect(ctx, d.brokers, d.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	defer admin.Close()
	var topics []string
	for _, tp := range d.names.WeaponTopics() {
		topics = append(topics, string(tp))
	}
	for {
		lag, err := d.lag(ctx, client, admin, topics)
		if err == nil && lag == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s not caught up: lag %d (%v)", d.names.Prefix, lag, err)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func (d *deployment) lag(ctx context.Context, client sarama.Client, admin sarama.ClusterAdmin, topics []string) (int64, error) {
	input := string(d.names.WeaponData())
	ends, err := kafka.TopicEnds(client, input)
	if err != nil {
		return -1, err
	}
	committed, err := kafka.GroupOffsets(admin, string(d.names.RouterGroup()), ends)
	if err != nil {
		return -1, err
	}
	if lag := ends.Behind(committed, kafka.Ends{}); lag > 0 {
		return lag, nil
	}
	if ends, err = kafka.TopicEnds(client, topics...); err != nil {
		return -1, err
	}
	starts, err := kafka.TopicStarts(client, topics...)
	if err != nil {
		return -1, err
	}
	stored := kafka.Ends{}
	rows, err := d.db.Query(ctx, `SELECT topic, partition, next_offset FROM kafka_offsets WHERE consumer = $1`,
		string(d.names.SinkConsumer()))
	if err != nil {
		return -1, err
	}
	defer rows.Close()
	for rows.Next() {
		var p kafka.Position
		if err := rows.Scan(&p.Topic, &p.ID, &p.Offset); err != nil {
			return -1, err
		}
		stored[p.Partition] = p.Offset
	}
	return ends.Behind(stored, starts), rows.Err()
}

// dump is a table's content as readers see it, without what depends on where the rows travelled
// (Kafka positions and topic names).
func (d *deployment) dump(ctx context.Context, table string) (rows int64, digest string) {
	t := d.t
	err := d.db.QueryRow(ctx, fmt.Sprintf(`
		SELECT count(*), coalesce(md5(string_agg(r::text, E'\n' ORDER BY key, version)), '')
		FROM (%s) AS x`, dumpRows(table))).Scan(&rows, &digest)
	if err != nil {
		t.Fatalf("dump %s: %v", table, err)
	}
	return rows, digest
}

// dumpRows selects key, version and r, a row without its Kafka positions (its own and its raw
// record's).
func dumpRows(table string) string {
	return fmt.Sprintf(`SELECT key, version, to_jsonb(w) - 'kafka_topic' - 'kafka_partition' - 'kafka_offset' - 'source'
		AS r FROM %s w`, table)
}

// firstDifference returns the first row of table that differs between two deployments.
func firstDifference(ctx context.Context, a, b *deployment, table string) string {
	read := func(d *deployment) map[string]string {
		rows, err := d.db.Query(ctx, dumpRows(table))
		if err != nil {
			d.t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var key, row string
			var version int64
			if err := rows.Scan(&key, &version, &row); err != nil {
				d.t.Fatal(err)
			}
			out[fmt.Sprintf("%s v%d", key, version)] = row
		}
		return out
	}
	ra, rb := read(a), read(b)
	for k, va := range ra {
		if vb, ok := rb[k]; !ok || va != vb {
			return fmt.Sprintf("%s:\n  re-processed: %s\n  fresh:        %s", k, va, vb)
		}
	}
	for k := range rb {
		if _, ok := ra[k]; !ok {
			return fmt.Sprintf("%s only in the fresh tables", k)
		}
	}
	return "none"
}

func (d *deployment) count(ctx context.Context, query string, args ...any) int64 {
	var n int64
	if err := d.db.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		d.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// readerQueries are what the readers ask during the re-processing: each must answer the old
// tables' value or the new ones', never anything in between (an empty or partial table).
var readerQueries = []string{
	`SELECT count(*) FROM long_sword_current`,
	`SELECT count(*) FROM switch_axe_f_current`,
	`SELECT count(*) FROM long_sword_current WHERE name = upper(name)`,
	`SELECT count(*) FROM long_sword`,
	`SELECT count(*) FROM switch_axe_f`,
	// What a search reads: switched with the tables.
	`SELECT count(*) FROM weapon_latest WHERE weapon_table = 'long_sword' AND name = upper(name)`,
}

// readers polls readerQueries as mhfz_reader until stopped and returns every distinct answer of
// each.
func (d *deployment) readers(ctx context.Context) (stop func() ([]map[int64]int, error)) {
	reader, err := pgxpool.New(ctx, d.as(migrations.ReaderRole))
	if err != nil {
		d.t.Fatal(err)
	}
	var wg sync.WaitGroup
	seen := make([]map[int64]int, len(readerQueries))
	var firstErr error
	done := make(chan struct{})
	for i, q := range readerQueries {
		seen[i] = map[int64]int{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				var n int64
				if err := reader.QueryRow(ctx, q).Scan(&n); err != nil {
					if firstErr == nil {
						firstErr = fmt.Errorf("%s: %w", q, err)
					}
					return
				}
				seen[i][n]++
			}
		}()
	}
	return func() ([]map[int64]int, error) {
		close(done)
		wg.Wait()
		reader.Close()
		return seen, firstErr
	}
}

func (d *deployment) answers(ctx context.Context) []int64 {
	out := make([]int64, len(readerQueries))
	for i, q := range readerQueries {
		out[i] = d.count(ctx, q)
	}
	return out
}

// TestReprocessEqualsRebuild loads the older then the newest snapshot (long swords and switch
// axes) with build A, re-processes weapon_data with build B while readers query the tables and
// the live sink keeps running (each as its role: the sink as mhfz_writer, the re-processing as
// mhfz_rebuilder, the readers as mhfz_reader), and compares the tables with those of a fresh pipeline that ran
// build B on the same raw records: they must be identical, row by row, but for Kafka positions.
// Build B numbers the versions of the Apophis Axe rows differently from build A (the case that
// corrupted the history before): the history must be build B's, with no conflict.
func TestReprocessEqualsRebuild(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: runs three pipelines over two snapshots")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	scrapes := [][]snapshotRecord{subsetRecords(t, testenv.Older), subsetRecords(t, testenv.Newest)}
	a := newDeployment(t, ctx, "a")
	live := a.start(ctx, parseA, "a")
	for i, recs := range scrapes {
		a.emit(recs)
		a.waitStored(ctx, live)
		t.Logf("build A: scrape %d, %d raw records stored", i+1, len(recs))
	}
	if err := live.stopRouter(); err != nil { // the processor is stopped for a re-processing; the sink may run
		t.Fatal(err)
	}
	before := a.answers(ctx)
	stopReaders := a.readers(ctx)
	cfg := a.reprocessConfig(testLogger(t, "reprocess"))
	cfg.Router.Parse, cfg.Poll = parseB, 200*time.Millisecond
	cfg.Sink = sinkConfig("e2e-reprocess-rebuild", 200*time.Millisecond)
	a.interruptedReprocess(ctx, cfg, before)
	res, err := reprocessOnce(ctx, cfg)
	seen, readErr := stopReaders()
	if err != nil {
		t.Fatal(err)
	}
	if readErr != nil {
		t.Fatalf("a reader failed during the re-processing: %v", readErr)
	}
	after := a.answers(ctx)
	t.Logf("re-processed: read %d, forwarded %d, stored %d in %s; readers' answers before %v, after %v, seen %v",
		res.Router.Read, res.Router.Forwarded, res.Sink.Stored, res.Duration, before, after, seen)
	for i, answers := range seen {
		for n := range answers {
			if n != before[i] && n != after[i] {
				t.Errorf("%s answered %d during the re-processing: neither the old tables' %d nor the new ones' %d",
					readerQueries[i], n, before[i], after[i])
			}
		}
	}
	if before[2] == after[2] {
		t.Errorf("upper-case long sword names: %d before and after: build B's tables did not replace build A's", before[2])
	}
	if after[4]-before[4] != 100 {
		t.Errorf("switch axe versions: %d with build A, %d after re-processing with build B: want the 100 Apophis Axe "+
			"rows' version 1 of the older snapshot more", before[4], after[4])
	}
	if st := live.sink.Stats(); st.Conflicts != 0 || st.DeadLettered != 0 {
		t.Errorf("the live sink, kept running during the re-processing: %d conflicts, %d dead letters, want 0", st.Conflicts, st.DeadLettered)
	}
	if err := live.stopSink(); err != nil {
		t.Fatal(err)
	}

	b := newDeployment(t, ctx, "b")
	fresh := b.start(ctx, parseB, "b")
	for _, recs := range scrapes {
		b.emit(recs)
		b.waitStored(ctx, fresh)
	}
	fresh.halt(t)
	// weapon_latest too: the re-processing's, kept by the rebuilt tables' triggers, then switched.
	for _, table := range append(slices.Clone(reprocessTables), migrations.LatestTable) {
		na, da := a.dump(ctx, table)
		nb, db := b.dump(ctx, table)
		if na != nb || da != db {
			t.Errorf("table %s: re-processed %d rows (digest %s), fresh build B %d rows (digest %s); first difference: %s",
				table, na, da, nb, db, firstDifference(ctx, a, b, table))
			continue
		}
		t.Logf("table %s: %d rows, identical", table, na)
	}
	for _, d := range []*deployment{a, b} {
		if n := d.count(ctx, `SELECT count(*) FROM sink_dead_letter`); n != 0 {
			t.Errorf("%s: %d sink dead letters, want 0", d.names.Prefix, n)
		}
		if n := len(readDeadLetters(t, d.brokers, d.cfg, d.names.DeadLetter())); n != 0 {
			t.Errorf("%s: %d dead letters on %s, want 0", d.names.Prefix, n, d.names.DeadLetter())
		}
	}
}

// interruptedReprocess runs a re-processing and stops it once the rebuilt tables hold rows, but
// before they caught up: it must fail, and leave the live tables as they were.
func (d *deployment) interruptedReprocess(ctx context.Context, cfg reprocess.Config, before []int64) {
	t := d.t
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := reprocessOnce(runCtx, cfg); done <- err }()
	var rebuilt int64
	for rebuilt == 0 {
		select {
		case err := <-done:
			t.Fatalf("the re-processing ended (%v) before it could be interrupted", err)
		case <-time.After(20 * time.Millisecond):
		}
		// The rebuilt tables exist from the start of a re-processing on.
		_ = d.db.QueryRow(ctx, `SELECT count(*) FROM mhfz_rebuild.long_sword`).Scan(&rebuilt)
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("an interrupted re-processing returned no error")
	}
	if n := d.count(ctx, `SELECT count(*) FROM pipeline_rebuild`); n != 1 {
		t.Fatalf("after an interruption: %d markers, want 1 (the live sink must keep waiting)", n)
	}
	if got := d.answers(ctx); !slices.Equal(got, before) {
		t.Fatalf("after an interruption the live tables answer %v, want %v as before", got, before)
	}
	t.Logf("re-processing interrupted with %d long swords rebuilt: the live tables are unchanged", rebuilt)
}

// BenchmarkReprocess re-processes both snapshots, whole (291,910 raw records), from weapon_data
// into rebuilt tables and switches them: the time a user waits for `mhfz reprocess`.
func BenchmarkReprocess(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	d := newDeployment(b, ctx, "bench")
	live := d.start(ctx, nil, "bench")
	raw := 0
	for _, snapshot := range []string{testenv.Older, testenv.Newest} {
		recs := snapshotRecords(b, snapshot)
		d.emit(recs)
		d.waitStored(ctx, live)
		raw += len(recs)
	}
	if err := live.stopRouter(); err != nil {
		b.Fatal(err)
	}
	cfg := d.reprocessConfig(testLogger(b, "reprocess"))
	cfg.Sink = sinkConfig("bench-reprocess-rebuild", sink.DefaultConfig().RetryMax)
	b.ResetTimer()
	for range b.N {
		res, err := reprocessOnce(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(raw)/res.Duration.Seconds(), "raw_records/s")
		b.ReportMetric(float64(res.Sink.Stored), "rows")
		b.ReportMetric(float64(res.Switch.Microseconds())/1000, "switch_ms")
	}
}

// sinkConfig is the sink's default config with a Kafka client of its own and a backoff of at
// most retryMax.
func sinkConfig(client string, retryMax time.Duration) sink.Config {
	cfg := sink.DefaultConfig()
	cfg.Kafka, cfg.RetryMax = kafka.Config(client), retryMax
	cfg.RetryMin = min(cfg.RetryMin, retryMax)
	return cfg
}
