package processors

import (
	"context"
	"sync"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
)

// InOrderCommits wraps a consumer group builder so that the offset committed for a partition never
// passes an input whose processing has not finished.
//
// goka marks an input's offset as soon as that input's own sends are acknowledged, and sarama keeps
// the highest mark. Two inputs read one after the other send to different weapon topics, led by
// different brokers: the later one can be acknowledged first, and its mark then commits past the
// earlier one, whose send is still in flight. If the processor dies then (kill -9, a failed send, a
// broker lost), the earlier input is never read again and its weapon never reaches its topic,
// although the group table may already hold its version: a version lost without a trace. With this
// wrapper a mark only takes effect once every input handed out before it on the partition is marked
// too, so a restart reads again from the oldest input not finished; the router re-emits what the
// table already holds (decisionReemit), and the sink stores each version once.
func InOrderCommits(build goka.ConsumerGroupBuilder) goka.ConsumerGroupBuilder {
	return func(brokers []string, group, clientID string) (sarama.ConsumerGroup, error) {
		cg, err := build(brokers, group, clientID)
		if err != nil {
			return nil, err
		}
		return inOrderGroup{cg}, nil
	}
}

type inOrderGroup struct{ sarama.ConsumerGroup }

func (g inOrderGroup) Consume(ctx context.Context, topics []string, h sarama.ConsumerGroupHandler) error {
	return g.ConsumerGroup.Consume(ctx, topics, &inOrderHandler{inner: h})
}

// inOrderHandler serves one Consume call, which is one session: goka keeps the session given to
// Setup to mark its inputs, so Setup and ConsumeClaim hand it the same wrapped session.
type inOrderHandler struct {
	inner   sarama.ConsumerGroupHandler
	session *inOrderSession
}

func (h *inOrderHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.session = &inOrderSession{ConsumerGroupSession: s, partitions: map[kafka.Partition]*pendingOffsets{}}
	return h.inner.Setup(h.session)
}

func (h *inOrderHandler) Cleanup(sarama.ConsumerGroupSession) error {
	return h.inner.Cleanup(h.session)
}

func (h *inOrderHandler) ConsumeClaim(_ sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	p := h.session.partition(c.Topic(), c.Partition())
	claim := &inOrderClaim{ConsumerGroupClaim: c, messages: make(chan *sarama.ConsumerMessage)}
	done := make(chan struct{})
	go func() {
		defer close(claim.messages)
		for m := range c.Messages() {
			// Recorded before it is handed out: an input goka takes and then drops at a stop is
			// never marked, and nothing after it is committed in this session.
			p.handOut(m.Offset)
			select {
			case claim.messages <- m:
			case <-done:
				return
			}
		}
	}()
	// The forwarding ends at its next input or when sarama closes the claim, which it does
	// after this returns: waiting for it here could wait for the end of the session.
	defer close(done)
	return h.inner.ConsumeClaim(h.session, claim)
}

type inOrderClaim struct {
	sarama.ConsumerGroupClaim
	messages chan *sarama.ConsumerMessage
}

func (c *inOrderClaim) Messages() <-chan *sarama.ConsumerMessage { return c.messages }

// inOrderSession passes a mark on to sarama only when it moves the partition's offset over
// inputs that are all finished.
type inOrderSession struct {
	sarama.ConsumerGroupSession
	mu         sync.Mutex
	partitions map[kafka.Partition]*pendingOffsets
}

func (s *inOrderSession) partition(topic string, partition int32) *pendingOffsets {
	s.mu.Lock()
	defer s.mu.Unlock()
	tp := kafka.Partition{Topic: topic, ID: partition}
	p, ok := s.partitions[tp]
	if !ok {
		p = &pendingOffsets{finished: map[int64]string{}}
		s.partitions[tp] = p
	}
	return p
}

// MarkOffset takes the offset of the next input to read, as sarama's does.
func (s *inOrderSession) MarkOffset(topic string, partition int32, offset int64, metadata string) {
	if next, meta, ok := s.partition(topic, partition).finish(offset-1, metadata); ok {
		s.ConsumerGroupSession.MarkOffset(topic, partition, next, meta)
	}
}

func (s *inOrderSession) MarkMessage(m *sarama.ConsumerMessage, metadata string) {
	s.MarkOffset(m.Topic, m.Partition, m.Offset+1, metadata)
}

// pendingOffsets are the inputs of one partition handed out and not yet committable, in order.
type pendingOffsets struct {
	mu       sync.Mutex
	handed   []int64          // handed out, oldest first, not all finished
	finished map[int64]string // finished, behind an unfinished one; the mark's metadata
}

func (p *pendingOffsets) handOut(offset int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.handed = append(p.handed, offset)
}

// finish records that the input at offset is done. It returns the offset to mark (the next input
// to read) when the oldest inputs handed out are now all done.
func (p *pendingOffsets) finish(offset int64, metadata string) (next int64, meta string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.handed) == 0 || offset < p.handed[0] {
		// Not an input handed out here, and behind every pending one: marking it passes nothing.
		return offset + 1, metadata, true
	}
	p.finished[offset] = metadata
	for len(p.handed) > 0 {
		m, done := p.finished[p.handed[0]]
		if !done {
			break
		}
		delete(p.finished, p.handed[0])
		next, meta, ok = p.handed[0]+1, m, true
		p.handed = p.handed[1:]
	}
	return next, meta, ok
}
