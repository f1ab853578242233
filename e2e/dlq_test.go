package e2e

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/deadletter"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
	"github.com/mhfz/mhfz-pipeline/processors/weaponrow"
)

// brokenBuild is a parser with a bug: it cannot read one raw record in seven (by its key's
// hash), which become dead letters of kind parse.
func brokenBuild(raw *codecs.RawRecord) (*codecs.Weapon, error) {
	h := fnv.New32a()
	h.Write([]byte(raw.Key))
	if h.Sum32()%7 == 0 {
		return nil, fmt.Errorf("record %s: the broken build cannot read it", raw.Key)
	}
	return weaponrow.Parse(raw)
}

// TestDlqRedriveEqualsFreshBuild: a broken build dead-letters some raw records; with the fixed
// build running, `mhfz dlq redrive` is killed (SIGKILL) after its first batch (of 2), then run
// again to its end. Every dead letter is on weapon_data once, and the tables are those of a fresh
// deployment of the fixed build over the same records.
func TestDlqRedriveEqualsFreshBuild(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	recs := subsetRecords(t, testenv.Newest)
	a := newDeployment(t, ctx, "a")
	broken := a.start(ctx, brokenBuild, "a-broken")
	a.emit(recs)
	a.waitStored(ctx, broken)
	broken.halt(t)
	dead := readDeadLetters(t, a.brokers, a.cfg, a.names.DeadLetter())
	if len(dead) < 30 {
		t.Fatalf("the broken build dead-lettered %d of %d records, want several batches' worth", len(dead), len(recs))
	}
	fixed := a.start(ctx, nil, "a-fixed")
	env := []string{"MHFZ_KAFKA_BROKERS=" + strings.Join(a.brokers, ","), "MHFZ_DATABASE_URL=" + a.url,
		"MHFZ_TOPIC_PREFIX=" + a.names.Prefix}
	killed := startService(t, env, "dlq", "redrive", "--batch-size", "2")
	if err := killed.waitLog(ctx, "dlq: re-drove a batch"); err != nil {
		t.Fatal(err)
	}
	killed.kill()
	a.waitUnlocked(ctx)
	sent := a.count(ctx, `SELECT count(*) FROM `+migrations.RedriveTable+` WHERE state = 'sent'`)
	sending := a.count(ctx, `SELECT count(*) FROM `+migrations.RedriveTable+` WHERE state = 'sending'`)
	t.Logf("killed after %d dead letters marked sent, %d claimed", sent, sending)
	if sent == int64(len(dead)) {
		t.Log("the redrive had ended before it was killed: this run re-drives without the kill half-way")
	}
	// The run after the kill, in batches of the default size: in batches of 2, each waiting for
	// its producer's batch (Flush.Frequency), it took minutes.
	runService(t, ctx, env, "dlq", "redrive")
	a.waitStored(ctx, fixed)
	fixed.halt(t)

	a.checkRedrivenOnce(dead)
	ls, err := deadletterTool(t, a, deadletter.Filter{Pending: true}).List(ctx)
	if err != nil || len(ls) != 0 {
		t.Errorf("%d dead letters not re-driven (%v), want none", len(ls), err)
	}
	if n := len(readDeadLetters(t, a.brokers, a.cfg, a.names.DeadLetter())); n != len(dead) {
		t.Errorf("%d dead letters after the redrive, want the broken build's %d: the fixed build dead-lettered some again", n, len(dead))
	}

	b := newDeployment(t, ctx, "b")
	fresh := b.start(ctx, nil, "b")
	b.emit(recs)
	b.waitStored(ctx, fresh)
	fresh.halt(t)
	for _, table := range append(slices.Clone(reprocessTables), migrations.LatestTable) {
		na, da := a.dump(ctx, table)
		nb, db := b.dump(ctx, table)
		if na != nb || da != db {
			t.Errorf("table %s: re-driven %d rows (digest %s), fresh %d rows (digest %s); first difference: %s",
				table, na, da, nb, db, firstDifference(ctx, a, b, table))
			continue
		}
		t.Logf("table %s: %d rows, identical", table, na)
	}
	t.Logf("%d records, %d dead letters of the broken build, each re-driven once", len(recs), len(dead))
}

// waitUnlocked waits until the deployment's database holds no advisory lock: PostgreSQL has seen
// a killed redrive's session end.
func (d *deployment) waitUnlocked(ctx context.Context) {
	for d.count(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`) > 0 {
		select {
		case <-ctx.Done():
			d.t.Fatal("the killed redrive's lock was never released")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkRedrivenOnce checks that weapon_data holds each dead letter once, with its key and value.
func (d *deployment) checkRedrivenOnce(dead []*codecs.DeadLetter) {
	t := d.t
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	client, err := sarama.NewClient(d.brokers, d.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	topic := string(d.names.WeaponData())
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{} // key -> re-driven copies
	for _, p := range parts {
		msgs, err := readPartition(ctx, client, topic, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			for _, h := range m.Headers {
				if string(h.Key) == deadletter.HeaderID {
					seen[string(m.Key)]++
				}
			}
		}
	}
	for _, d := range dead {
		if seen[d.Key] != 1 {
			t.Errorf("dead letter of %s re-driven %d times, want once", d.Key, seen[d.Key])
		}
	}
	if len(seen) != len(dead) {
		t.Errorf("%d keys re-driven, want the %d dead letters'", len(seen), len(dead))
	}
}

// deadletterTool is mhfz dlq on the deployment.
func deadletterTool(t testing.TB, d *deployment, f deadletter.Filter) *deadletter.Tool {
	cfg := deadletter.DefaultConfig()
	cfg.Brokers, cfg.Kafka, cfg.Names, cfg.DatabaseURL, cfg.Filter = d.brokers, d.cfg, d.names, d.url, f
	cfg.Logger = testLogger(t, "dlq")
	tool, err := deadletter.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tool
}
