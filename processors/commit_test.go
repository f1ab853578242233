package processors

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/IBM/sarama"
)

// TestInOrderCommits hands inputs to a handler that marks them in a given order, as goka does when
// the sends of later inputs are acknowledged first, and checks what reaches sarama's session: a
// mark never passes an input not yet marked.
func TestInOrderCommits(t *testing.T) {
	tests := []struct {
		name    string
		offsets []int64 // handed out, in order
		marks   []int64 // the inputs marked by the handler, in this order
		want    []int64 // the offsets marked in sarama's session, in order
	}{
		{"in order", []int64{10, 11, 12, 13}, []int64{10, 11, 12, 13}, []int64{11, 12, 13, 14}},
		{"a later send acknowledged first", []int64{10, 11, 12, 13}, []int64{12, 11, 10, 13}, []int64{13, 14}},
		{"the oldest never finishes", []int64{10, 11, 12}, []int64{11, 12}, nil},
		{"gaps in the offsets (a compacted topic)", []int64{5, 8, 9}, []int64{8, 5, 9}, []int64{9, 10}},
		{"an input from before the claim", []int64{10, 11}, []int64{3, 10}, []int64{4, 11}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sess := &recordingSession{}
			inner := &markingHandler{marks: tc.marks}
			h := &inOrderHandler{inner: inner}
			if err := h.Setup(sess); err != nil {
				t.Fatal(err)
			}
			claim := newFakeClaim("weapon_data", 2, tc.offsets)
			if err := h.ConsumeClaim(sess, claim); err != nil {
				t.Fatal(err)
			}
			if err := h.Cleanup(sess); err != nil {
				t.Fatal(err)
			}
			if inner.setupSession != inner.claimSession || inner.setupSession != inner.cleanupSession {
				t.Fatal("the handler got different sessions in Setup, ConsumeClaim and Cleanup")
			}
			if got := sess.marked(); !slices.Equal(got, tc.want) {
				t.Fatalf("sarama's session got marks %v, want %v", got, tc.want)
			}
		})
	}
}

// markingHandler reads every input of its claim, then marks the offsets of marks in their order,
// through the session it was given at Setup (as goka's committer does).
type markingHandler struct {
	marks                                      []int64
	setupSession, claimSession, cleanupSession sarama.ConsumerGroupSession
}

func (h *markingHandler) Setup(s sarama.ConsumerGroupSession) error { h.setupSession = s; return nil }

func (h *markingHandler) Cleanup(s sarama.ConsumerGroupSession) error {
	h.cleanupSession = s
	return nil
}

func (h *markingHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	h.claimSession = s
	got := map[int64]*sarama.ConsumerMessage{}
	for m := range c.Messages() {
		got[m.Offset] = m
	}
	for _, off := range h.marks {
		m, ok := got[off]
		if !ok {
			m = &sarama.ConsumerMessage{Topic: c.Topic(), Partition: c.Partition(), Offset: off}
		}
		h.setupSession.MarkMessage(m, "")
	}
	return nil
}

type fakeClaim struct {
	sarama.ConsumerGroupClaim
	topic     string
	partition int32
	messages  chan *sarama.ConsumerMessage
}

func newFakeClaim(topic string, partition int32, offsets []int64) *fakeClaim {
	c := &fakeClaim{topic: topic, partition: partition, messages: make(chan *sarama.ConsumerMessage, len(offsets))}
	for _, off := range offsets {
		c.messages <- &sarama.ConsumerMessage{Topic: topic, Partition: partition, Offset: off}
	}
	close(c.messages)
	return c
}

func (c *fakeClaim) Topic() string                            { return c.topic }
func (c *fakeClaim) Partition() int32                         { return c.partition }
func (c *fakeClaim) Messages() <-chan *sarama.ConsumerMessage { return c.messages }

type recordingSession struct {
	sarama.ConsumerGroupSession
	mu    sync.Mutex
	marks []int64
}

func (s *recordingSession) MarkOffset(_ string, _ int32, offset int64, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.marks = append(s.marks, offset)
}

func (s *recordingSession) Context() context.Context { return context.Background() }

func (s *recordingSession) marked() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.marks)
}
