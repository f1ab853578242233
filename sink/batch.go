package sink

import (
	"fmt"
	"slices"
	"time"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
)

// batchResult counts what one committed batch did.
type batchResult struct {
	stored       int // new rows
	duplicates   int // (key, version) already stored with the same content: an upstream duplicate
	conflicts    int // (key, version) already stored with other content: kept in sink_conflict
	skipped      int // below the partition's next_offset: already handled by an earlier batch
	deadLettered int
	savepoints   int                       // taken by the transaction
	next         map[kafka.Partition]int64 // the offsets written
	partitions   []kafka.Partition         // the batch's, in lock order
	locked       time.Time                 // when the transaction held the locks of the partitions' offsets
	written      time.Time                 // when it had written everything and still held them (before COMMIT)
	committed    time.Time                 // when it had committed
	firstDead    string                    // the first dead letter's reason, for the logs
	firstClash   string                    // the first conflict, for the logs
}

// commit describes one committed transaction of a sink, for the tests' onCommit hook. It held
// the locks of its partitions' offsets at least from locked to written (they are released at the
// commit, between written and committed): two transactions whose [locked, written] overlap held
// their locks at the same time.
type commit struct {
	partitions []kafka.Partition // whose offsets it locked and moved
	locked     time.Time         // when it held their offsets' locks
	written    time.Time         // when it had written everything, before its COMMIT
	committed  time.Time         // when it had committed
	records    int               // in its batch
}

// deadLetter is a record that can never be stored, and why.
type deadLetter struct {
	rec    *record
	reason string
}

// conflict is a record whose (key, version) is stored already with another content hash.
type conflict struct {
	rec    *record
	stored string // the stored row's content hash
}

func (c conflict) String() string {
	return fmt.Sprintf("%s version %d in %s: stored content %s, incoming %s (%s)", c.rec.weapon.Key,
		c.rec.weapon.Version, c.rec.table, c.stored, c.rec.weapon.ContentHash, c.rec.pos)
}

// partitionsOf returns the partitions of recs, sorted (the order their offsets are locked in),
// and the first offset of each in recs.
func partitionsOf(recs []*record) ([]kafka.Partition, []int64) {
	first := map[kafka.Partition]int64{}
	var parts []kafka.Partition
	for _, r := range recs {
		if _, seen := first[r.pos.Partition]; !seen {
			first[r.pos.Partition] = r.pos.Offset
			parts = append(parts, r.pos.Partition)
		}
	}
	slices.SortFunc(parts, kafka.Partition.Compare)
	firsts := make([]int64, len(parts))
	for i, p := range parts {
		firsts[i] = first[p]
	}
	return parts, firsts
}

// partitionArrays are the topics and ids of parts, as the arrays of an unnest.
func partitionArrays(parts []kafka.Partition) ([]string, []int32) {
	topics, ids := make([]string, len(parts)), make([]int32, len(parts))
	for i, p := range parts {
		topics[i], ids[i] = p.Topic, p.ID
	}
	return topics, ids
}

// partitionNames are "topic/partition" of each partition, for the logs.
func partitionNames(parts []kafka.Partition) []string {
	names := make([]string, len(parts))
	for i, p := range parts {
		names[i] = p.String()
	}
	return names
}
