package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
	"github.com/mhfz/mhfz-pipeline/processors"
)

// The scaling benchmarks: the sink with 1, 2 and 3 instances on one PostgreSQL, the processor
// with 1 and 2, on the single broker and on the three-broker cluster (replication 3), all with
// the newest snapshot (145,955 records). The sinks' weapon topics have the default partition
// count (2 each: 30 partitions to share), the processors' weapon_data 12 (scaledPartitions).
// Each configuration runs three times; the metrics are the medians, the runs are logged. One
// iteration does all:
//
//	scripts/testenv run --cluster go test -run '^$' -bench 'Scaling|SinkVsCopy' -benchtime 1x -timeout 60m ./e2e/

const scalingRuns = 3

// brokerSetups are the Kafka setups the scaling benchmarks run on: the single broker, and the
// cluster when it is there.
func brokerSetups(b *testing.B) []struct {
	name        string
	brokers     []string
	replication int
} {
	setups := []struct {
		name        string
		brokers     []string
		replication int
	}{{"single", testenv.KafkaBrokers(b), 1}}
	if os.Getenv("MHFZ_TEST_KAFKA_CLUSTER_BROKERS") != "" {
		setups = append(setups, struct {
			name        string
			brokers     []string
			replication int
		}{"cluster", testenv.KafkaCluster(b).Brokers, 3})
	}
	return setups
}

// routed is a deployment holding the newest snapshot, routed by one processor into the weapon
// topics.
func routed(b *testing.B, ctx context.Context, brokers []string, replication int) *deployment {
	d := newServiceDeployment(b, ctx, "bench", brokers, replication)
	recs := snapshotRecords(b, testenv.Newest)
	p := d.startPipeline(ctx, 1, 0)
	d.emit(recs)
	waitFor(b, ctx, "the processor routes the snapshot", func() bool { return d.routerLag(ctx) == 0 })
	p.stopAll(b)
	return d
}

// routerLag is how many records of weapon_data the router's group has not committed (-1: unknown).
func (d *deployment) routerLag(ctx context.Context) int64 {
	client, admin, err := kafka.Connect(ctx, d.brokers, d.cfg)
	if err != nil {
		return -1
	}
	defer client.Close()
	defer admin.Close()
	lag, err := groupLag(client, admin, d.names.RouterGroup(), d.names.WeaponData())
	if err != nil {
		return -1
	}
	return lag
}

// resetSink empties the tables and the sink's offsets, as `mhfz sink --replay` does.
func (d *deployment) resetSink(ctx context.Context) {
	tables := make([]string, 0, len(migrations.WeaponTables())+1)
	for _, t := range append(migrations.WeaponTables(), migrations.LatestTable) {
		tables = append(tables, pgx.Identifier{t}.Sanitize())
	}
	for _, q := range []string{"TRUNCATE " + strings.Join(tables, ", "), "DELETE FROM kafka_offsets",
		"DELETE FROM sink_dead_letter", "DELETE FROM sink_conflict", "VACUUM ANALYZE"} {
		if _, err := d.db.Exec(ctx, q); err != nil {
			d.t.Fatalf("%s: %v", q, err)
		}
	}
}

// sinkRun starts n sinks (with env added to their environment) on emptied tables and returns how
// long they took to store every message of the weapon topics (from their start: process start
// and group join included).
func (d *deployment) sinkRun(ctx context.Context, n int, total int64, env ...string) time.Duration {
	d.resetSink(ctx)
	start := time.Now()
	var sinks []*service
	for i := range n {
		sinks = append(sinks, startService(d.t, append(append(d.env(), env...),
			fmt.Sprintf("MHFZ_SINK_INSTANCE_ID=%sbench-%d", d.names.Prefix, i)), "sink"))
	}
	waitFor(d.t, ctx, "the sinks store the snapshot", func() bool { return d.handled(ctx) >= total })
	took := time.Since(start)
	for _, s := range sinks {
		if err := s.stop(); err != nil {
			d.t.Fatal(err)
		}
	}
	return took
}

// BenchmarkSinkScaling: the newest snapshot's weapons, already routed, stored by 1, 2 and 3
// `mhfz sink` processes at once into one PostgreSQL.
func BenchmarkSinkScaling(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	for _, setup := range brokerSetups(b) {
		b.Run(setup.name, func(b *testing.B) {
			d := routed(b, ctx, setup.brokers, setup.replication)
			total := d.weaponMessages(ctx)
			for range b.N {
				for n := 1; n <= 3; n++ {
					var runs []time.Duration
					for range scalingRuns {
						runs = append(runs, d.sinkRun(ctx, n, total))
					}
					m := median(runs)
					b.Logf("%s, %d sinks: %v; median %s = %.0f records/s (load %s)", setup.name, n, runs,
						m.Round(time.Millisecond), float64(total)/m.Seconds(), loadAverage())
					b.ReportMetric(float64(total)/m.Seconds(), fmt.Sprintf("records/s_%dsinks", n))
				}
			}
		})
	}
}

// BenchmarkProcessorScaling: the newest snapshot on weapon_data (12 partitions), read and
// routed by 1 and 2 routers of a fresh group (its table empty), each with a storage of its own,
// until they have read every record (group join and table creation included).
func BenchmarkProcessorScaling(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	recs := snapshotRecords(b, testenv.Newest)
	for _, setup := range brokerSetups(b) {
		b.Run(setup.name, func(b *testing.B) {
			d := newServiceDeployment(b, ctx, "bench", setup.brokers, setup.replication)
			ks := processors.KafkaSetup{Brokers: d.brokers, Config: d.cfg, Partitions: scaledPartitions,
				Replication: int16(setup.replication), StoragePath: d.storage}
			if err := processors.EnsureTopics(ctx, d.names, ks); err != nil {
				b.Fatal(err)
			}
			d.emit(recs)
			for range b.N {
				for n := 1; n <= 2; n++ {
					var runs []time.Duration
					for range scalingRuns {
						runs = append(runs, routerRun(b, ctx, d.names, ks, n, int64(len(recs))))
					}
					m := median(runs)
					b.Logf("%s, %d processors: %v; median %s = %.0f records/s (load %s)", setup.name, n, runs,
						m.Round(time.Millisecond), float64(len(recs))/m.Seconds(), loadAverage())
					b.ReportMetric(float64(len(recs))/m.Seconds(), fmt.Sprintf("records/s_%dprocessors", n))
				}
			}
		})
	}
}

// routerRun resets the router's group and runs n routers until they have read rows records.
func routerRun(b *testing.B, ctx context.Context, names codecs.Names, ks processors.KafkaSetup, n int, rows int64) time.Duration {
	for i := range 2 {
		s := ks
		s.StoragePath = filepath.Join(ks.StoragePath, fmt.Sprint(i))
		if err := processors.Reset(ctx, names, s); err != nil {
			b.Fatal(err)
		}
	}
	if err := processors.EnsureTopics(ctx, names, ks); err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var routers []*processors.Router
	for i := range n {
		s := ks
		s.StoragePath = filepath.Join(ks.StoragePath, fmt.Sprint(i))
		r, err := processors.New(routerConfig(names, s, quiet))
		if err != nil {
			b.Fatal(err)
		}
		routers = append(routers, r)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := time.Now()
	for _, r := range routers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(runCtx); err != nil {
				errs <- err
			}
		}()
	}
	read := func() int64 {
		var sum int64
		for _, r := range routers {
			sum += r.Stats().Read
		}
		return sum
	}
	waitFor(b, ctx, "the routers read the snapshot", func() bool { return read() >= rows || len(errs) > 0 })
	took := time.Since(start)
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return took
}

// BenchmarkSinkVsCopy compares one sink (`mhfz sink` on emptied tables, from its start until
// its offsets reach the ends of the weapon topics), with one writer and with two, with a plain
// COPY of the very same rows into the same tables, keys and indexes (one `psql` running `\copy`
// of each table's rows, exported from what the sink stored, in one transaction), on the newest
// snapshot; and reports the size of the stored rows.
func BenchmarkSinkVsCopy(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	d := routed(b, ctx, testenv.KafkaBrokers(b), 1)
	total := d.weaponMessages(ctx)
	psql := psqlBinary(b)
	d.sinkRun(ctx, 1, total)
	script := d.exportTables(ctx, b.TempDir())
	d.reportSizes(b, ctx)
	for range b.N {
		var oneRuns, sinkRuns, copyRuns []time.Duration
		for range scalingRuns {
			oneRuns = append(oneRuns, d.sinkRun(ctx, 1, total, "MHFZ_SINK_WRITERS=1"))
			sinkRuns = append(sinkRuns, d.sinkRun(ctx, 1, total, "MHFZ_SINK_WRITERS=2"))
			d.resetSink(ctx)
			start := time.Now()
			if out, err := exec.Command(psql, "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-d", d.url, "-f", script).CombinedOutput(); err != nil {
				b.Fatalf("psql \\copy: %v\n%s", err, out)
			}
			copyRuns = append(copyRuns, time.Since(start))
		}
		one, s, c := median(oneRuns), median(sinkRuns), median(copyRuns)
		b.Logf("sink, one writer %v, two writers %v; plain COPY %v (load %s)", oneRuns, sinkRuns, copyRuns, loadAverage())
		b.ReportMetric(one.Seconds(), "sink_1writer_s")
		b.ReportMetric(s.Seconds(), "sink_s")
		b.ReportMetric(c.Seconds(), "copy_s")
		b.ReportMetric(c.Seconds()/s.Seconds(), "copy/sink")
	}
}

// exportTables writes every weapon table's rows to a file, and a psql script that copies them
// back; it returns the script's path.
func (d *deployment) exportTables(ctx context.Context, dir string) string {
	conn, err := pgx.Connect(ctx, d.url)
	if err != nil {
		d.t.Fatal(err)
	}
	defer conn.Close(ctx)
	var script strings.Builder
	for _, table := range migrations.WeaponTables() {
		path := filepath.Join(dir, table+".copy")
		f, err := os.Create(path)
		if err != nil {
			d.t.Fatal(err)
		}
		_, err = conn.PgConn().CopyTo(ctx, f, "COPY "+pgx.Identifier{table}.Sanitize()+" TO STDOUT")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			d.t.Fatalf("export %s: %v", table, err)
		}
		fmt.Fprintf(&script, "\\copy %s FROM '%s'\n", table, path)
	}
	path := filepath.Join(dir, "copy.sql")
	if err := os.WriteFile(path, []byte(script.String()), 0o644); err != nil {
		d.t.Fatal(err)
	}
	return path
}

// reportSizes logs and reports the stored rows' size: tables with their indexes and TOAST, the
// average row, and the record column's share.
func (d *deployment) reportSizes(b *testing.B, ctx context.Context) {
	var rows, total, rowBytes, recordBytes int64
	for _, table := range migrations.WeaponTables() {
		var n, size, rb, rec int64
		err := d.db.QueryRow(ctx, fmt.Sprintf(`SELECT count(*), pg_total_relation_size('%[1]s'),
			coalesce(sum(pg_column_size(t.*)), 0), %[2]s FROM %[1]s t`, table, recordSize(ctx, d, table))).Scan(&n, &size, &rb, &rec)
		if err != nil {
			b.Fatal(err)
		}
		rows, total, rowBytes, recordBytes = rows+n, total+size, rowBytes+rb, recordBytes+rec
	}
	b.Logf("%d rows: %d MB with indexes and TOAST, %d bytes per row (record column: %d bytes per row)",
		rows, total>>20, rowBytes/rows, recordBytes/rows)
	b.ReportMetric(float64(total>>20), "table_MB")
	b.ReportMetric(float64(rowBytes/rows), "row_bytes")
}

// recordSize is the SQL of the record column's total size, 0 once it is gone.
func recordSize(ctx context.Context, d *deployment, table string) string {
	var has bool
	err := d.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name = $1 AND column_name = 'record')`, table).Scan(&has)
	if err != nil || !has {
		return "0::bigint"
	}
	return "coalesce(sum(pg_column_size(t.record)), 0)"
}

func psqlBinary(b *testing.B) string {
	if p, err := exec.LookPath("psql"); err == nil {
		return p
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/psql")
	if len(matches) == 0 {
		b.Skip("no psql on this machine")
	}
	slices.Sort(matches)
	return matches[len(matches)-1]
}

func median(runs []time.Duration) time.Duration {
	s := slices.Clone(runs)
	slices.Sort(s)
	return s[len(s)/2]
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(data))[:3], " ")
}

// waitFor polls cond until it holds; it fails when ctx ends first.
func waitFor(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting until %s: %v", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
