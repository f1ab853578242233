package sink

import (
	"context"
	"errors"
	"fmt"

	"github.com/IBM/sarama"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
)

// handler is the sarama consumer-group handler of one Sink.
//
// Where a partition starts: PostgreSQL's next_offset, never Kafka's committed offset; but not
// below the partition's oldest record (its low watermark: older records may have been deleted,
// by retention or DeleteRecords), where reading would fail with "offset out of range". In Setup,
// sarama's MarkOffset only moves an offset forward and ResetOffset only backward (and is ignored
// when nothing is committed), so Setup calls both: whichever way Kafka's offset differs, the
// claim starts at PostgreSQL's. ConsumeClaim checks it anyway and treats Kafka as advisory: it
// skips what is below next_offset, and if the claim starts beyond it, it reads the partition
// itself from next_offset. The writer's transaction checks the offsets once more.
type handler struct {
	s    *Sink
	ctx  context.Context         // the Run's: outlives the sessions
	fail context.CancelCauseFunc // stops the Run for good
}

func (h *handler) Setup(sess sarama.ConsumerGroupSession) error {
	s := h.s
	var next map[kafka.Partition]int64
	err := s.withRetry(sess.Context(), "load offsets", func() error {
		var err error
		next, err = s.store.loadOffsets(sess.Context())
		return err
	})
	if err != nil {
		err = fmt.Errorf("sink: load offsets of %s: %w", s.consumer, explain(err))
		h.failIfFatal(sess, err) // the schema is missing, say: rejoining would not help
		return err
	}
	starts := map[kafka.Partition]int64{}
	for topic, ids := range sess.Claims() {
		for _, id := range ids {
			p := kafka.Partition{Topic: topic, ID: id}
			start, err := h.startOffset(sess, p, next)
			if err != nil {
				return err // the session ends and the group is joined again
			}
			starts[p] = start
			if !s.hooks.noSetupSeek {
				sess.MarkOffset(topic, id, start, "")
				sess.ResetOffset(topic, id, start, "")
			}
		}
	}
	s.sessMu.Lock()
	s.sess, s.starts = sess, starts
	s.sessMu.Unlock()
	s.obs.partitions.Store(int64(len(starts)))
	s.log.Info("partitions assigned", "partitions", len(starts), "claims", sess.Claims(), "member", sess.MemberID(),
		"generation", sess.GenerationID())
	return nil
}

// startOffset returns where p starts: PostgreSQL's next offset, or the partition's oldest
// record if that is beyond it. A partition the sink never stored starts at its oldest record; one
// whose next records were deleted before the sink stored them has lost them: that is said at
// ERROR, counted, and recorded for good (store.skipLost), and the partition starts at its oldest.
func (h *handler) startOffset(sess sarama.ConsumerGroupSession, p kafka.Partition, next map[kafka.Partition]int64) (int64, error) {
	s, ctx := h.s, sess.Context()
	oldest, err := s.client.GetOffset(p.Topic, p.ID, sarama.OffsetOldest)
	if err != nil {
		return 0, fmt.Errorf("sink: oldest offset of %s: %w", p, err)
	}
	n, stored := next[p]
	if !stored || n >= oldest {
		return max(n, oldest), nil
	}
	if !s.cfg.Rebuild && errors.Is(rebuilding(ctx, s.pool), ErrRebuilding) {
		// mhfz reprocess deleted them: the rebuilt tables have their new build's records, and the
		// switch hands this sink the rebuilding sink's offsets.
		s.log.Info("records below the oldest offset were replaced by the re-processing in progress, not lost",
			"topic", p.Topic, "partition", p.ID, "next_offset", n, "oldest_offset", oldest)
		return oldest, nil
	}
	var lost int64
	err = s.withRetry(ctx, "record lost records", func() error {
		var err error
		lost, err = s.store.skipLost(ctx, p, oldest)
		return err
	})
	if err != nil {
		err = fmt.Errorf("sink: %w", explain(err))
		h.failIfFatal(sess, err)
		return 0, err
	}
	if lost > 0 {
		s.stats.lost.Add(lost)
		s.log.Error("records deleted from Kafka before the sink stored them: lost; a dead letter records the gap",
			"topic", p.Topic, "partition", p.ID, "next_offset", n, "oldest_offset", oldest, "lost", lost)
	}
	return oldest, nil
}

// failIfFatal stops the Run for good on an error that neither retrying nor joining the group
// again can cure. An error because the session ended (a rebalance cancels its context while Setup
// still reads PostgreSQL) is not one: the session's end is the group's business, and the sink
// joins again.
func (h *handler) failIfFatal(sess sarama.ConsumerGroupSession, err error) {
	if sess.Context().Err() != nil || h.ctx.Err() != nil || retryable(err) {
		return
	}
	h.fail(err)
}

// Cleanup writes what the claims have read before the partitions are let go, so that the next
// owner finds the offsets up to date.
func (h *handler) Cleanup(sess sarama.ConsumerGroupSession) error {
	err := h.s.flushPending(h.ctx)
	h.s.sessMu.Lock()
	h.s.sess = nil
	h.s.sessMu.Unlock()
	h.s.obs.partitions.Store(0)
	if err != nil && h.ctx.Err() == nil {
		return err
	}
	return nil
}

func (h *handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	s := h.s
	p := kafka.Partition{Topic: claim.Topic(), ID: claim.Partition()}
	s.sessMu.Lock()
	want := s.starts[p]
	s.sessMu.Unlock()
	if got := claim.InitialOffset(); got > want {
		s.log.Warn("claim starts beyond PostgreSQL's next_offset: reading the partition from there",
			"topic", p.Topic, "partition", p.ID, "kafka_offset", got, "next_offset", want)
		s.stats.fallbacks.Add(1)
		// Drain the claim, or sarama's fetches for the other partitions of its broker stall.
		go func() {
			for range claim.Messages() {
			}
		}()
		return h.consumeFrom(sess, p, want)
	}
	return h.consume(sess, p, want, claim.Messages())
}

// consume delivers the messages at or beyond want to the partition's writer.
func (h *handler) consume(sess sarama.ConsumerGroupSession, p kafka.Partition, want int64, msgs <-chan *sarama.ConsumerMessage) error {
	in := h.s.in[h.s.writerOf(p)]
	for {
		select {
		case <-sess.Context().Done():
			return nil
		case msg, ok := <-msgs:
			if !ok {
				return nil
			}
			h.s.stats.received.Add(1)
			if msg.Offset < want {
				h.s.stats.skipped.Add(1)
				continue
			}
			select {
			case in <- h.s.decode(msg):
			case <-sess.Context().Done():
				return nil
			}
		}
	}
}

// consumeFrom reads a partition with a partition consumer of its own, from offset.
func (h *handler) consumeFrom(sess sarama.ConsumerGroupSession, p kafka.Partition, offset int64) error {
	// A client of its own: sharing the group's connections slows the group's final commit.
	consumer, err := sarama.NewConsumer(h.s.cfg.Brokers, h.s.kafkaCfg)
	if err != nil {
		return fmt.Errorf("sink: consumer for %s: %w", p, err)
	}
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(p.Topic, p.ID, offset)
	if err != nil {
		return fmt.Errorf("sink: read %s from offset %d: %w", p, offset, err)
	}
	defer pc.AsyncClose()
	go func() {
		for err := range pc.Errors() {
			h.s.log.Warn("kafka partition consumer error", "topic", p.Topic, "partition", p.ID, "err", err)
		}
	}()
	return h.consume(sess, p, offset, pc.Messages())
}

// decode turns a message into a record: its row, or the reason it cannot be stored.
func (s *Sink) decode(msg *sarama.ConsumerMessage) *record {
	r := &record{table: s.tables[msg.Topic], key: msg.Key, value: msg.Value,
		pos: kafka.Position{Partition: kafka.Partition{Topic: msg.Topic, ID: msg.Partition}, Offset: msg.Offset}}
	err := r.stored.decode(msg.Value)
	switch {
	case err != nil:
		r.reason = fmt.Sprintf("%s: %v", r.pos, err)
	case r.table == "":
		r.reason = fmt.Sprintf("%s: topic has no table", r.pos)
	default:
		r.weapon = &r.stored
		checkRow(r, tableColumns(r.table))
	}
	return r
}

// markKafka copies the offsets PostgreSQL now holds to Kafka's committed offsets, for the
// tools that read them (lag monitoring); the sink itself never starts from them.
func (s *Sink) markKafka(next map[kafka.Partition]int64) {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	if s.sess == nil {
		return
	}
	for p, n := range next {
		if _, ours := s.starts[p]; ours {
			s.sess.MarkOffset(p.Topic, p.ID, n, "")
		}
	}
}
