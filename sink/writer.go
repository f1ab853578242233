package sink

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
)

// writeLoop is one writer: it gathers the decoded records of its partitions (in) into batches,
// bounded by size and by time, and writes each in one transaction. The writers of a sink write at
// once, each its own partitions' batches (a partition has one writer: its records stay in order),
// so that PostgreSQL gets a backend at work per writer. A failure that retrying cannot cure
// cancels the sink with it.
func (s *Sink) writeLoop(ctx context.Context, fail context.CancelCauseFunc, in <-chan *record, flush <-chan chan error) {
	b := &batcher{s: s, ctx: ctx, fail: fail, batch: make([]*record, 0, s.cfg.BatchSize),
		timer: time.NewTimer(time.Hour), pending: func() {}}
	b.timer.Stop()
	defer func() { b.pending() }()
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-in:
			b.add(r)
		case <-b.timer.C:
			_ = b.write()
		case done := <-flush:
			// The claims have returned, so whatever they sent is in the channel already.
			b.drain(in)
			done <- b.write()
		}
	}
}

// batcher is one writer's batch in the making.
type batcher struct {
	s       *Sink
	ctx     context.Context
	fail    context.CancelCauseFunc
	batch   []*record
	timer   *time.Timer // BatchWait after the batch's first record
	pending func()      // ends the watchdog's watch of the pending batch
}

// add appends r, and writes the batch once it is full.
func (b *batcher) add(r *record) {
	if len(b.batch) == 0 {
		b.timer.Reset(b.s.cfg.BatchWait)
		b.pending = b.s.obs.watch.Start("a pending batch")
	}
	if b.batch = append(b.batch, r); len(b.batch) >= b.s.cfg.BatchSize {
		_ = b.write()
	}
}

// drain appends what in holds now.
func (b *batcher) drain(in <-chan *record) {
	for {
		select {
		case r := <-in:
			b.batch = append(b.batch, r)
		default:
			return
		}
	}
}

// write writes the batch, if any, and starts a new one. A failure stops the sink.
func (b *batcher) write() error {
	b.timer.Stop()
	b.pending()
	b.pending = func() {}
	if len(b.batch) == 0 {
		return nil
	}
	err := b.s.writeBatch(b.ctx, b.batch)
	clear(b.batch)
	b.batch = b.batch[:0]
	if err != nil && b.ctx.Err() == nil {
		b.fail(err)
	}
	return err
}

// writeBatch writes one batch, retrying while the database is unavailable, then counts it and
// copies the new offsets to Kafka (advisory only: the sink seeks from PostgreSQL's). A batch
// with too many bad rows for one transaction's savepoints is written as two halves, each in a
// transaction of its own with its own offsets: the records of one partition are in offset order
// in a batch, so the first half's offsets are all below the second's.
func (s *Sink) writeBatch(ctx context.Context, batch []*record) error {
	res, took, err := s.tryWrite(ctx, batch)
	if errors.Is(err, errSavepointCap) && len(batch) > 1 {
		s.stats.splits.Add(1)
		s.log.Debug("batch needs too many savepoints: writing it in two", "records", len(batch))
		half := len(batch) / 2
		if err := s.writeBatch(ctx, batch[:half]); err != nil {
			return err
		}
		return s.writeBatch(ctx, batch[half:])
	}
	if err != nil {
		return fmt.Errorf("sink: write a batch of %d records: %w", len(batch), explain(err))
	}
	s.count(res)
	s.committed(batch, took)
	s.logBatch(batch, res)
	if s.hooks.onCommit != nil {
		s.hooks.onCommit(commit{partitions: res.partitions, locked: res.locked, written: res.written,
			committed: res.committed, records: len(batch)})
	}
	s.markKafka(res.next)
	return nil
}

// tryWrite writes one batch in one transaction, retrying while the database is unavailable,
// and says how long the transaction that committed took.
func (s *Sink) tryWrite(ctx context.Context, batch []*record) (batchResult, time.Duration, error) {
	var res batchResult
	var took time.Duration
	err := s.withRetry(ctx, "write batch", func() error {
		if !s.cfg.Rebuild {
			// The marker is set before the weapon topics get a new build's records, and a batch
			// is checked after its records were read: a live batch never holds them.
			if err := rebuilding(ctx, s.pool); err != nil {
				return err
			}
		}
		var err error
		begin := time.Now()
		res, err = s.store.write(ctx, batch)
		took = time.Since(begin)
		return err
	})
	return res, took, err
}

// logBatch says what a committed batch did: its dead letters and conflicts (WARN), and the rest
// (DEBUG).
func (s *Sink) logBatch(batch []*record, res batchResult) {
	if res.deadLettered > 0 {
		s.log.Warn("records dead-lettered to sink_dead_letter", "count", res.deadLettered, "first", res.firstDead)
	}
	if res.conflicts > 0 {
		s.log.Warn("version conflicts: a (key, version) came again with other content; the stored row is kept, "+
			"the incoming record is in sink_conflict", "count", res.conflicts, "first", res.firstClash)
	}
	s.log.Debug("batch committed", "records", len(batch), "stored", res.stored, "duplicates", res.duplicates,
		"conflicts", res.conflicts, "skipped", res.skipped, "dead_lettered", res.deadLettered, "savepoints", res.savepoints,
		"partitions", partitionNames(res.partitions), "locked_at", res.locked, "written_at", res.written,
		"committed_at", res.committed)
}

func (s *Sink) count(res batchResult) {
	c := &s.stats
	c.stored.Add(int64(res.stored))
	c.duplicates.Add(int64(res.duplicates))
	c.conflicts.Add(int64(res.conflicts))
	c.skipped.Add(int64(res.skipped))
	c.deadLettered.Add(int64(res.deadLettered))
	c.batches.Add(1)
}

// flushPending asks every writer to write what it holds now and waits for them.
func (s *Sink) flushPending(ctx context.Context) error {
	dones := make([]chan error, len(s.flush))
	for i, flush := range s.flush {
		dones[i] = make(chan error, 1)
		select {
		case flush <- dones[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var errs []error
	for _, done := range dones {
		select {
		case err := <-done:
			errs = append(errs, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return errors.Join(errs...)
}

// writerOf is the writer of a partition: the partitions of a topic go to the writers in turn.
func (s *Sink) writerOf(p kafka.Partition) int {
	h := fnv.New32a()
	h.Write([]byte(p.Topic))
	return int((h.Sum32() + uint32(p.ID)) % uint32(len(s.in)))
}
