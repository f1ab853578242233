package sink

import (
	"context"
	"errors"
	"testing"

	"github.com/IBM/sarama"
)

// endedSession is a consumer group session that a rebalance has already ended.
type endedSession struct{ ctx context.Context }

func (s endedSession) Claims() map[string][]int32                  { return nil }
func (s endedSession) MemberID() string                            { return "ended" }
func (s endedSession) GenerationID() int32                         { return 1 }
func (s endedSession) MarkOffset(string, int32, int64, string)     {}
func (s endedSession) Commit()                                     {}
func (s endedSession) ResetOffset(string, int32, int64, string)    {}
func (s endedSession) MarkMessage(*sarama.ConsumerMessage, string) {}
func (s endedSession) Context() context.Context                    { return s.ctx }

// A rebalance that ends the session while Setup reads the offsets from PostgreSQL ends the
// session, not the sink: CI once saw a sink stop for good (and cleanly, with a nil error) 30 ms
// after it started, because the other sink's join cancelled its first session.
func TestSetupOfAnEndedSessionKeepsTheSink(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s, err := New(f.config(nil))
	if err != nil {
		t.Fatal(err)
	}
	openDatabase(t, s)
	ended, end := context.WithCancel(context.Background())
	end()
	run, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	h := &handler{s: s, ctx: run, fail: cancel}
	if err := h.Setup(endedSession{ended}); !errors.Is(err, context.Canceled) {
		t.Errorf("Setup of an ended session: %v, want the session's context.Canceled", err)
	}
	if run.Err() != nil {
		t.Fatalf("Setup of an ended session stopped the sink: %v", context.Cause(run))
	}
}
