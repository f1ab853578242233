package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// sinkCorpusUnderCrashes (formerly the test TestSinkCorpusUnderCrashes) stores what the real
// processor (`mhfz process`) made of the older snapshot, then of the newest, with `mhfz sink`
// while killing it with SIGKILL at random moments, five times, restarting it each time. At the
// end each weapon has exactly the versions 1..n that the test computed itself from the pages,
// each with its hash; the weapons that changed between the snapshots have a version 2, and the
// _current views show the newest content.
//
// It runs within TestProcessorOlderThenNewest, on the weapon topics that test's router passes
// filled (the same two snapshots through the same router, which this test ran a second time),
// with the history each weapon must get computed there from the pages with the processor's
// parser (not read back from the topics): the hash of each version, oldest first.
func sinkCorpusUnderCrashes(t *testing.T, e *routerEnv, history map[string][]string) {
	t.Helper()
	total := e.countWeaponMessages()
	newest := map[string]topicRecord{}
	versions := 0
	for key, h := range history {
		newest[key] = topicRecord{key: key, version: int64(len(h)), hash: h[len(h)-1]}
		versions += len(h)
	}
	t.Logf("%d messages on the weapon topics, %d versions of %d weapons expected", total, versions, len(history))

	url := testenv.DatabaseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	runService(t, ctx, nil, "migrate", "--database-url", url, "up")
	db, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	consumed := func() int64 {
		var n int64
		if err := db.QueryRow(ctx, `SELECT coalesce(sum(next_offset), 0)::bigint FROM kafka_offsets WHERE consumer = $1`,
			string(e.names.SinkConsumer())).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	env := []string{"MHFZ_KAFKA_BROKERS=" + strings.Join(e.brokers, ","), "MHFZ_DATABASE_URL=" + url,
		"MHFZ_TOPIC_PREFIX=" + e.names.Prefix, "MHFZ_KAFKA_PARTITIONS=4", "MHFZ_SINK_INSTANCE_ID=" + e.names.Prefix + "sink",
		"MHFZ_SINK_BATCH_SIZE=2000"}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 4))
	for i := range 5 {
		// Kill at a random moment once this run has committed a batch of its own, and check the
		// kill landed mid-work: a kill after the sink finished would prove nothing.
		started := consumed()
		svc := startService(t, env, "sink")
		waitUntil(t, ctx, fmt.Sprintf("run %d of the sink commits a batch", i+1), func() bool { return consumed() > started })
		d := time.Duration(rng.IntN(1500)) * time.Millisecond
		time.Sleep(d)
		svc.kill()
		handled := consumed()
		t.Logf("kill %d, %s after its first commit: %d of %d messages handled", i+1, d, handled, total)
		if handled >= total {
			t.Fatalf("the sink had handled all %d messages before kill %d: kill sooner", total, i+1)
		}
	}
	before, began := consumed(), time.Now()
	svc := startService(t, env, "sink")
	waitUntil(t, ctx, fmt.Sprintf("the sink handles all %d messages", total), func() bool { return consumed() >= total })
	took := time.Since(began)
	t.Logf("last run: %d real records in %s (%.0f records/s, start and group join included)",
		total-before, took.Round(time.Millisecond), float64(total-before)/took.Seconds())
	if err := svc.stop(); err != nil {
		t.Fatalf("mhfz sink after SIGTERM: %v", err)
	}

	// Exactly once: every (key, version) once, with its hash; nothing else.
	var union []string
	for _, table := range migrations.WeaponTables() {
		union = append(union, "SELECT key, version, content_hash FROM "+table)
	}
	rows, _ := db.Query(ctx, strings.Join(union, " UNION ALL ")+" ORDER BY key, version")
	stored := map[string][]string{}
	var key, hash string
	var version int64
	_, err = pgx.ForEachRow(rows, []any{&key, &version, &hash}, func() error {
		// Versions of a key must be exactly 1, 2, ..., n: none skipped, none twice.
		if h := stored[key]; version != int64(len(h))+1 {
			return fmt.Errorf("%s: version %d stored after versions 1..%d", key, version, len(h))
		}
		stored[key] = append(stored[key], hash)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var dead int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM sink_dead_letter`).Scan(&dead); err != nil || dead != 0 {
		t.Errorf("%d records dead-lettered by the sink (%v), want 0", dead, err)
	}
	bad := 0
	for key, h := range history {
		if !slices.Equal(stored[key], h) {
			if bad++; bad <= 5 {
				t.Errorf("%s: stored hashes %v, want %v", key, stored[key], h)
			}
		}
	}
	if len(stored) != len(history) || bad > 0 {
		t.Fatalf("%d weapons stored, %d expected, %d with another history", len(stored), len(history), bad)
	}

	// History: version 2 for the weapons that changed, the newest content in _current.
	var v2 int
	for _, w := range newest {
		if w.version >= 2 {
			v2++
		}
	}
	if v2 == 0 {
		t.Error("no weapon has a version 2: the two snapshots should differ")
	}
	var current []string
	for _, table := range migrations.WeaponTables() {
		current = append(current, "SELECT key, version, content_hash FROM "+table+"_current")
	}
	rows, _ = db.Query(ctx, strings.Join(current, " UNION ALL "))
	n := 0
	_, err = pgx.ForEachRow(rows, []any{&key, &version, &hash}, func() error {
		n++
		if w := newest[key]; w.version != version || w.hash != hash {
			return fmt.Errorf("current row of %s: version %d hash %s, newest on the topics: version %d hash %s",
				key, version, hash, w.version, w.hash)
		}
		return nil
	})
	if err != nil || n != len(newest) {
		t.Fatalf("_current views: %d rows (%v), want %d", n, err, len(newest))
	}
	t.Logf("stored %d versions of %d weapons, %d with a version 2; SELECT COUNT(*) FROM long_sword works: %d",
		versions, len(newest), v2, count(t, db, "long_sword"))
}

func count(t *testing.T, db *pgxpool.Pool, table string) int {
	var n int
	if err := db.QueryRow(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitUntil polls cond until it holds; it fails the test when ctx ends first.
func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting until %s: %v", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
