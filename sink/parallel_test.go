package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// commitLog collects the committed transactions of one sink instance.
type commitLog struct {
	mu      sync.Mutex
	commits []commit
}

func (l *commitLog) add(c commit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.commits = append(l.commits, c)
}

func (l *commitLog) all() []commit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]commit(nil), l.commits...)
}

// overlap reports whether two transactions held their locks at the same time.
func overlap(a, b commit) bool { return a.locked.Before(b.written) && b.locked.Before(a.written) }

// claims is how many partitions the sink's current session holds.
func (s *Sink) claims() int {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	if s.sess == nil {
		return 0
	}
	return len(s.starts)
}

// waitClaims waits until every sink holds partitions of a session of its own; if one does not,
// it fails with the sinks' logs (logs[i] is sinks[i]'s, or nil).
func waitClaims(t *testing.T, logs []*syncBuffer, sinks ...*running) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for i, r := range sinks {
		for r.sink.claims() == 0 {
			if time.Now().After(deadline) {
				for j, l := range logs {
					if l != nil {
						t.Logf("log of sink %d:\n%s", j, l.String())
					}
				}
				t.Fatalf("sink %d was assigned no partition within 2 minutes", i)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestParallelSinks runs two sinks on the same topics, of different partition counts (which
// goka's copartitioning strategy cannot assign), and checks from their commits that they write
// in parallel: transactions of the two overlap in time, while no two transactions of different
// instances holding the same partition ever do. Every record is stored exactly once.
func TestParallelSinks(t *testing.T) {
	t.Parallel()
	partner := string(codecs.Names{}.Partner())
	f := newFixtureOn(t, testenv.KafkaBrokers(t), 1, func(topic codecs.Topic) int32 {
		if strings.HasSuffix(string(topic), partner) {
			return 3
		}
		return testPartitions
	})
	logs := []*commitLog{{}, {}}
	sinkLogs := []*syncBuffer{newSyncBuffer(), newSyncBuffer()}
	var sinks []*running
	for i, l := range logs {
		cfg := f.config(slog.New(slog.NewTextHandler(sinkLogs[i], &slog.HandlerOptions{Level: slog.LevelDebug})))
		cfg.BatchSize = 500
		cfg.InstanceID = fmt.Sprintf("%sparallel-%d", f.names.Prefix, i)
		sinks = append(sinks, start(t, cfg, withOnCommit(l.add)))
	}
	waitClaims(t, sinkLogs, sinks...)
	if got := groupProtocol(t, f); got != "sticky" {
		t.Errorf("the sinks' group uses the %q assignment strategy, want sticky", got)
	}
	msgs, want := synthMessages(t, f.names, 0, 20000)
	f.produce(t, msgs)
	f.waitConsumed(t, int64(len(msgs)), 3*time.Minute)
	a, b := logs[0].all(), logs[1].all()
	for _, r := range sinks {
		r.stop(t)
	}
	f.checkExactlyOnce(t, want)
	if len(a) == 0 || len(b) == 0 {
		t.Fatalf("commits: %d and %d; both sinks should have written", len(a), len(b))
	}
	overlapping := 0
	for _, ca := range a {
		for _, cb := range b {
			if !overlap(ca, cb) {
				continue
			}
			overlapping++
			if shared := sharedPartitions(ca, cb); len(shared) > 0 {
				t.Errorf("transactions of both sinks held %v at once: %s-%s and %s-%s", shared,
					ca.locked.Format(time.StampMicro), ca.written.Format(time.StampMicro),
					cb.locked.Format(time.StampMicro), cb.written.Format(time.StampMicro))
			}
		}
	}
	t.Logf("sink 0: %d transactions, sink 1: %d; %d pairs overlapped in time", len(a), len(b), overlapping)
	if overlapping == 0 {
		t.Error("no transaction of one sink overlapped one of the other: they took turns instead of writing in parallel")
	}
}

func sharedPartitions(a, b commit) []kafka.Partition {
	var shared []kafka.Partition
	for _, p := range a.partitions {
		for _, q := range b.partitions {
			if p == q {
				shared = append(shared, p)
			}
		}
	}
	return shared
}

// groupProtocol is the assignment strategy the sinks' consumer group chose.
func groupProtocol(t *testing.T, f *fixture) string {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(f.brokers, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var protocol string
	err = kafka.Retry(context.Background(), "describe the sinks' group", 100*time.Millisecond, func() error {
		groups, err := admin.DescribeConsumerGroups([]string{string(f.names.SinkConsumer())})
		if err != nil {
			return err
		}
		protocol = groups[0].Protocol
		if !errors.Is(groups[0].Err, sarama.ErrNoError) {
			return groups[0].Err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return protocol
}

// TestRebalanceMidBatch: a sink holds a transaction open (its commit hook blocks) while a second
// sink joins. The first does not come back to the group in time and is dropped from it, so the
// second is assigned every partition and starts from the offsets in PostgreSQL, which do not yet
// include the open transaction's. Its own transaction must wait for the open one (the offset
// rows are locked) and then skip what it stored: nothing is lost, nothing stored twice.
func TestRebalanceMidBatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	msgs, want := synthMessages(t, f.names, 0, 6000)
	f.produce(t, msgs)
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	cfg := f.config(nil)
	cfg.BatchSize = 1000
	cfg.Kafka = kafka.Config("sink-test-rebalance")
	// A member that is not back within this long of a rebalance's start is dropped from the group.
	cfg.Kafka.Consumer.Group.Rebalance.Timeout = 3 * time.Second
	first := start(t, cfg, withTrace(func(event string) {
		if event == "begin" {
			once.Do(func() { close(held); <-release })
		}
	}))
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	<-held
	second := start(t, cfg, nil)
	// The second sink's transaction waits for the first one's locks.
	waitLockWait(t, f)
	close(release)
	f.waitConsumed(t, int64(len(msgs)), 3*time.Minute)
	s1, s2 := first.stop(t), second.stop(t)
	t.Logf("first sink: %+v; second sink: %+v", s1, s2)
	f.checkExactlyOnce(t, want)
	if s1.Stored+s2.Stored != int64(len(want)) || s1.Duplicates+s2.Duplicates != 0 {
		t.Errorf("stored %d+%d, duplicates %d+%d: want %d stored once, no duplicate", s1.Stored, s2.Stored,
			s1.Duplicates, s2.Duplicates, len(want))
	}
	if s2.Skipped == 0 {
		t.Error("the second sink skipped nothing: it never read what the open transaction stored")
	}
}

// waitLockWait waits until a session of the fixture's database waits for a lock.
func waitLockWait(t *testing.T, f *fixture) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var n int
		err := f.db.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no transaction waited for the open one's locks within 2 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
