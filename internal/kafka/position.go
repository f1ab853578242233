package kafka

import (
	"cmp"
	"fmt"
)

// Partition names one partition of a topic: the key of whatever is kept per partition (an
// offset, a claim, a lock).
type Partition struct {
	Topic string
	ID    int32
}

func (p Partition) String() string { return fmt.Sprintf("%s/%d", p.Topic, p.ID) }

// Compare orders partitions by topic, then by id: the order in which they are locked.
func (p Partition) Compare(q Partition) int {
	if c := cmp.Compare(p.Topic, q.Topic); c != 0 {
		return c
	}
	return cmp.Compare(p.ID, q.ID)
}

// At is the position of offset in p.
func (p Partition) At(offset int64) Position { return Position{Partition: p, Offset: offset} }

// Position is a place in a partition: a record's offset, or the next offset to read.
type Position struct {
	Partition
	Offset int64
}

func (p Position) String() string { return fmt.Sprintf("%s@%d", p.Partition, p.Offset) }
