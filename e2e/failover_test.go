package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
	"github.com/mhfz/mhfz-pipeline/processors"
)

// failoverTypes are the weapon types of the failover test: about a quarter of each snapshot
// (76,910 raw records of both), every page kind, and the switch axes whose values the processor
// flags. The whole of both snapshots takes four times as long: MHFZ_FAILOVER_ALL=1 runs them
// (every weapon type).
var failoverTypes = []string{"long_sword", "switch_axe_f", "bow", "hunting_horn"}

// failoverRecords are the subset's raw records of the older snapshot, then of the newest, as
// `mhfz scrape --dry-run --source` writes them (the binary parses the pages, faster than the
// race-instrumented test would): in the order a scrape of each emits them.
func failoverRecords(t testing.TB, ctx context.Context) []snapshotRecord {
	if os.Getenv("MHFZ_FAILOVER_ALL") != "" {
		var all []string
		for _, typ := range codecs.WeaponTypes {
			all = append(all, string(typ))
		}
		return recordsOf(t, ctx, all)
	}
	return recordsOf(t, ctx, failoverTypes)
}

// recordsOf are the raw records of both snapshots whose weapon type is one of types.
func recordsOf(t testing.TB, ctx context.Context, types []string) []snapshotRecord {
	var out []snapshotRecord
	for _, snapshot := range []string{testenv.Older, testenv.Newest} {
		cmd := exec.CommandContext(ctx, buildMhfz(t), "scrape", "--dry-run", "--source", testenv.Snapshot(t, snapshot))
		cmd.Stderr = io.Discard
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			// The key is the record's second field: {"schema":1,"key":"long_sword/g/l219C",...
			_, rest, _ := strings.Cut(sc.Text(), `"key":"`)
			key, _, _ := strings.Cut(rest, `"`)
			for _, typ := range types {
				if strings.HasPrefix(key, typ+"/") {
					out = append(out, snapshotRecord{key: key, value: slices.Clone(sc.Bytes())})
					break
				}
			}
		}
		if err := errors.Join(sc.Err(), cmd.Wait()); err != nil {
			t.Fatalf("mhfz scrape --dry-run of %s: %v", snapshot, err)
		}
	}
	return out
}

// scaledPartitions is the partition count of the tests and benchmarks of several instances of a
// stage: 12, as a deployment that scales out chooses (docs/scaling.md; the default is 2).
const scaledPartitions = 12

// TestFailoverOnCluster runs both snapshots (the subset of failoverTypes) through two processors
// and three sinks, as processes, on the three-broker cluster (topics of 12 partitions,
// replication 3, min.insync.replicas 2). Meanwhile it kills with SIGKILL the broker that leads
// most partitions, then starts it again, then one processor and one sink, then starts them
// again; raw records keep coming throughout. The tables must then equal those of a clean run of
// one processor and one sink on the single broker, key by key and version by version: nothing
// lost, no version skipped or doubled, no dead letter, no conflict. The sinks' logs must show
// transactions of different sinks holding their locks at the same time, never on the same
// partition.
func TestFailoverOnCluster(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: kills brokers and services of a three-broker cluster")
	}
	c := testenv.KafkaClusterExclusive(t)
	timeout := 20 * time.Minute
	if os.Getenv("MHFZ_FAILOVER_ALL") != "" {
		timeout = time.Hour
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	recs := failoverRecords(t, ctx)

	ref := newServiceDeployment(t, ctx, "ref", testenv.KafkaBrokers(t), 1)
	ref.partitions = scaledPartitions
	clean := ref.startPipeline(ctx, 1, 1)
	ref.emit(recs)
	ref.waitStored(ctx, nil)
	clean.stopAll(t)
	t.Logf("clean run of one processor and one sink on the single broker: %d raw records", len(recs))

	d := newServiceDeployment(t, ctx, "cluster", c.Brokers, 3)
	d.partitions = scaledPartitions
	p := d.startPipeline(ctx, 2, 3)
	chunks := split(recs, 4)
	d.emit(chunks[0])
	waitUntil(t, ctx, "the sinks commit rows", func() bool { return d.handled(ctx) > 0 })
	leader, led := d.busiestBroker(ctx)
	t.Logf("killing broker %d (leads %d partitions) with %d of %d weapon messages handled", leader, led,
		d.handled(ctx), d.weaponMessages(ctx))
	c.Kill(leader)
	d.emit(chunks[1]) // acknowledged once the partitions it led have a new leader
	c.Start(leader)
	c.WaitBrokers(3, 2*time.Minute)
	d.emit(chunks[2])
	t.Logf("broker %d back; killing processor 1 and sink 1 with %d of %d weapon messages handled, %d raw records behind",
		leader, d.handled(ctx), d.weaponMessages(ctx), d.routerLag(ctx))
	p.processors[0].kill()
	p.sinks[0].kill()
	p.sinkLogs = append(p.sinkLogs, p.sinks[0].log)
	p.processors[0] = d.startProcessor(0)
	p.sinks[0] = d.startSink(0)
	d.emit(chunks[3])
	d.waitStored(ctx, nil)
	p.stopAll(t)

	for _, table := range migrations.WeaponTables() {
		nr, dr := ref.dump(ctx, table)
		nc, dc := d.dump(ctx, table)
		if nr != nc || dr != dc {
			t.Errorf("table %s: %d rows (digest %s) after the failures, %d rows (digest %s) in the clean run; first difference: %s",
				table, nc, dc, nr, dr, firstDifference(ctx, d, ref, table))
		} else if nr > 0 {
			t.Logf("table %s: %d rows, identical to the clean run", table, nr)
		}
	}
	d.checkClean(ctx)
	checkParallelCommits(t, p.sinkLogs)
	restarts := 0
	for _, s := range p.processors {
		restarts += countLines(t, s.log, "starting it again")
	}
	t.Logf("the processors restarted their router after a Kafka failure %d times", restarts)
}

// countLines is how many lines of a file contain substr.
func countLines(t testing.TB, path, substr string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), substr)
}

// newServiceDeployment is a deployment whose services run as processes and create its topics
// (of the default partition count, and replication).
func newServiceDeployment(t testing.TB, ctx context.Context, name string, brokers []string, replication int) *deployment {
	d := &deployment{t: t, brokers: brokers, cfg: kafka.Config("e2e-failover"), replication: replication,
		names: codecs.Names{Prefix: testenv.Name(t, name) + "."}, storage: t.TempDir(), url: testenv.DatabaseURL(t)}
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

// pipeline is the services of a cluster deployment, as processes.
type pipeline struct {
	processors []*service
	sinks      []*service
	sinkLogs   []string // the logs of the sinks killed, then of all the others (stopAll)
}

func (d *deployment) env() []string {
	env := []string{"MHFZ_KAFKA_BROKERS=" + strings.Join(d.brokers, ","), fmt.Sprintf("MHFZ_KAFKA_REPLICATION=%d", d.replication),
		"MHFZ_TOPIC_PREFIX=" + d.names.Prefix, "MHFZ_DATABASE_URL=" + d.as(migrations.WriterRole), "MHFZ_PROGRESS_INTERVAL=2s",
		"MHFZ_LOG_FORMAT=json"}
	if d.partitions > 0 {
		env = append(env, fmt.Sprintf("MHFZ_KAFKA_PARTITIONS=%d", d.partitions))
	}
	return env
}

// startProcessor starts processor i, with a local storage of its own (kept across restarts).
func (d *deployment) startProcessor(i int) *service {
	return startService(d.t, append(d.env(), fmt.Sprintf("MHFZ_PROCESS_STORAGE=%s/router-%d", d.storage, i)), "process")
}

// startSink starts sink i: a static member of the group, with its batches in its debug log.
func (d *deployment) startSink(i int) *service {
	return startService(d.t, append(d.env(), fmt.Sprintf("MHFZ_SINK_INSTANCE_ID=%ssink-%d", d.names.Prefix, i),
		"MHFZ_LOG_LEVEL=debug", "MHFZ_SINK_BATCH_SIZE=2000"), "sink")
}

func (d *deployment) startPipeline(ctx context.Context, processors, sinks int) *pipeline {
	p := &pipeline{}
	for i := range processors {
		p.processors = append(p.processors, d.startProcessor(i))
	}
	for i := range sinks {
		p.sinks = append(p.sinks, d.startSink(i))
	}
	// Once they say so, the topics exist.
	for _, s := range p.processors {
		if err := s.waitLog(ctx, "router starting"); err != nil {
			d.t.Fatal(err)
		}
	}
	for _, s := range p.sinks {
		if err := s.waitLog(ctx, "sink started"); err != nil {
			d.t.Fatal(err)
		}
	}
	return p
}

// stopAll stops every service with SIGTERM: each must still be running (none gave up during the
// failures) and stop cleanly.
func (p *pipeline) stopAll(t testing.TB) {
	t.Helper()
	for _, s := range append(p.processors, p.sinks...) {
		select {
		case err := <-s.done:
			s.done <- err
			s.dumpLog()
			t.Errorf("mhfz %s exited by itself during the test: %v", s.name, err)
		default:
		}
	}
	for _, s := range append(p.processors, p.sinks...) {
		if err := s.stop(); err != nil {
			s.dumpLog()
			t.Errorf("mhfz %s after SIGTERM: %v", s.name, err)
		}
	}
	for _, s := range p.sinks {
		p.sinkLogs = append(p.sinkLogs, s.log)
	}
}

func split(recs []snapshotRecord, n int) [][]snapshotRecord {
	var out [][]snapshotRecord
	for i := range n {
		out = append(out, recs[i*len(recs)/n:(i+1)*len(recs)/n])
	}
	return out
}

// handled is how many messages of the weapon topics the sinks have stored (or skipped).
func (d *deployment) handled(ctx context.Context) int64 {
	var n int64
	err := d.db.QueryRow(ctx, `SELECT coalesce(sum(next_offset), 0)::bigint FROM kafka_offsets WHERE consumer = $1`,
		string(d.names.SinkConsumer())).Scan(&n)
	if err != nil {
		d.t.Fatal(err)
	}
	return n
}

// weaponMessages is how many messages the weapon topics hold.
func (d *deployment) weaponMessages(ctx context.Context) int64 {
	var total int64
	err := kafka.Retry(ctx, "count the weapon messages", 200*time.Millisecond, func() error {
		client, err := sarama.NewClient(d.brokers, d.cfg)
		if err != nil {
			return fmt.Errorf("%w: %w", sarama.ErrOutOfBrokers, err)
		}
		defer client.Close()
		ends, err := kafka.TopicEnds(client, weaponTopicNames(d.names)...)
		if err != nil {
			return err
		}
		total = ends.Behind(nil, nil)
		return nil
	})
	if err != nil {
		d.t.Fatal(err)
	}
	return total
}

func weaponTopicNames(names codecs.Names) []string {
	var out []string
	for _, tp := range names.WeaponTopics() {
		out = append(out, string(tp))
	}
	return out
}

// busiestBroker returns the broker that leads most partitions of the deployment's topics.
func (d *deployment) busiestBroker(ctx context.Context) (int, int) {
	topics := append(weaponTopicNames(d.names), string(d.names.WeaponData()), string(d.names.DeadLetter()),
		processors.TableTopic(d.names))
	led := map[int32]int{}
	err := kafka.Retry(ctx, "describe the topics", 200*time.Millisecond, func() error {
		admin, err := sarama.NewClusterAdmin(d.brokers, d.cfg)
		if err != nil {
			return fmt.Errorf("%w: %w", sarama.ErrOutOfBrokers, err)
		}
		defer admin.Close()
		metas, err := admin.DescribeTopics(topics)
		if err != nil {
			return err
		}
		clear(led)
		for _, m := range metas {
			for _, p := range m.Partitions {
				led[p.Leader]++
			}
		}
		return nil
	})
	if err != nil {
		d.t.Fatal(err)
	}
	best := int32(-1)
	for id, n := range led {
		if best < 0 || n > led[best] {
			best = id
		}
	}
	return int(best), led[best]
}

// checkClean: no dead letter on the topic or in the sink's table, no conflict, and the versions
// of every weapon are 1..n.
func (d *deployment) checkClean(ctx context.Context) {
	t := d.t
	if n := len(readDeadLetters(t, d.brokers, d.cfg, d.names.DeadLetter())); n != 0 {
		t.Errorf("%d dead letters on %s, want 0", n, d.names.DeadLetter())
	}
	for _, q := range []string{`SELECT count(*) FROM sink_dead_letter`, `SELECT count(*) FROM sink_conflict`} {
		if n := d.count(ctx, q); n != 0 {
			t.Errorf("%s: %d, want 0", q, n)
		}
	}
	for _, table := range migrations.WeaponTables() {
		q := fmt.Sprintf(`SELECT count(*) FROM (SELECT key FROM %s GROUP BY key
			HAVING min(version) <> 1 OR max(version) <> count(*) OR count(DISTINCT version) <> count(*)) AS gaps`, table)
		if n := d.count(ctx, q); n != 0 {
			t.Errorf("%s: %d weapons whose versions are not exactly 1..n", table, n)
		}
	}
}

// batchLine is a "batch committed" line of a sink's debug log.
type batchLine struct {
	Msg        string    `json:"msg"`
	Partitions []string  `json:"partitions"`
	Locked     time.Time `json:"locked_at"`
	Written    time.Time `json:"written_at"`
}

// checkParallelCommits reads the sinks' transactions from their logs: transactions of different
// sinks held their locks at the same time, but never two on the same partition.
func checkParallelCommits(t testing.TB, logs []string) {
	t.Helper()
	var byLog [][]batchLine
	for _, path := range logs {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var lines []batchLine
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l batchLine
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "batch committed" {
				lines = append(lines, l)
			}
		}
		f.Close()
		byLog = append(byLog, lines)
	}
	overlapping, batches := 0, 0
	for i := range byLog {
		batches += len(byLog[i])
		for j := i + 1; j < len(byLog); j++ {
			for _, a := range byLog[i] {
				for _, b := range byLog[j] {
					if !a.Locked.Before(b.Written) || !b.Locked.Before(a.Written) {
						continue
					}
					overlapping++
					for _, p := range a.Partitions {
						if strings.Contains(","+strings.Join(b.Partitions, ",")+",", ","+p+",") {
							t.Errorf("sinks of logs %d and %d both held %s at %s", i, j, p, b.Locked.Format(time.StampMicro))
						}
					}
				}
			}
		}
	}
	t.Logf("the sinks' logs: %d committed transactions, %d pairs of different sinks held their locks at the same time",
		batches, overlapping)
	if overlapping == 0 {
		t.Error("no two sinks ever wrote at the same time: they took turns")
	}
}
