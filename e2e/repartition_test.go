package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
	"github.com/mhfz/mhfz-pipeline/processors"
)

// TestRepartitionByReprocess follows docs/scaling.md's procedure to change a deployment's partition
// count: with its services stopped, `mhfz reprocess --copy-from` copies its raw records into a
// new deployment (another topic prefix) whose topics have the new count, and re-processes them
// into the same database. The tables are then those of before, row by row (but for Kafka
// positions); the new deployment's services, given no count, keep its topics' and take over
// where the re-processing left; a service given the old count is refused with the mismatch,
// never silently.
func TestRepartitionByReprocess(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: runs the pipeline and a re-processing over two snapshots")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	recs := recordsOf(t, ctx, reprocessTables)
	old := newServiceDeployment(t, ctx, "old", testenv.KafkaBrokers(t), 1)
	p := old.startPipeline(ctx, 1, 1)
	old.emit(recs)
	old.waitStored(ctx, nil)
	p.stopAll(t)
	type dump struct {
		rows   int64
		digest string
	}
	before := map[string]dump{}
	for _, table := range migrations.WeaponTables() {
		n, d := old.dump(ctx, table)
		before[table] = dump{n, d}
	}

	neu := *old
	neu.names = codecs.Names{Prefix: testenv.Name(t, "new") + "."}
	neu.storage, neu.partitions = t.TempDir(), 5
	t.Cleanup(func() {
		_ = kafka.DeleteTopics(context.Background(), neu.brokers, neu.cfg, append(weaponTopicNames(neu.names),
			string(neu.names.WeaponData()), string(neu.names.DeadLetter()), processors.TableTopic(neu.names))...)
	})
	runService(t, ctx, append(neu.env(), "MHFZ_PROCESS_STORAGE="+neu.storage+"/reprocess",
		"MHFZ_DATABASE_URL="+neu.as(migrations.RebuilderRole)),
		"reprocess", "--copy-from", string(old.names.WeaponData()))
	for _, topic := range append(weaponTopicNames(neu.names), string(neu.names.WeaponData()), processors.TableTopic(neu.names)) {
		if n := testenv.PartitionCount(t, neu.brokers, neu.cfg, topic); n != 5 {
			t.Errorf("%s: %d partitions, want 5", topic, n)
		}
	}
	for _, table := range migrations.WeaponTables() {
		if n, d := neu.dump(ctx, table); n != before[table].rows || d != before[table].digest {
			t.Errorf("table %s: %d rows (digest %s) after the repartitioning, %d (digest %s) before", table, n, d,
				before[table].rows, before[table].digest)
		}
	}
	neu.checkClean(ctx)

	// The old count, given, is refused, by name; the new deployment's services, given no count,
	// find nothing left to do.
	wrong := startService(t, append(old.env(), "MHFZ_TOPIC_PREFIX="+neu.names.Prefix,
		fmt.Sprintf("MHFZ_KAFKA_PARTITIONS=%d", kafka.DefaultPartitions)), "sink")
	if err := wrong.waitLog(ctx, fmt.Sprintf("exists with 5 partitions, but %d were asked for", kafka.DefaultPartitions)); err != nil {
		t.Error(err)
	}
	neu.partitions = 0
	p = neu.startPipeline(ctx, 1, 1)
	neu.waitStored(ctx, nil)
	p.stopAll(t)
	if n := neu.count(ctx, `SELECT count(*) FROM kafka_offsets WHERE consumer = $1`, string(neu.names.SinkConsumer())); n == 0 {
		t.Error("the new deployment's sink has no offsets: the re-processing did not hand it its own")
	}
}
