package sink

import (
	"context"
	"errors"
	"testing"
)

// A stop (the parent context cancelled: SIGTERM) while connecting or replaying is a clean stop;
// a failure that cancelled the run from inside is not.
func TestStoppedOr(t *testing.T) {
	failure := errors.New("replay: connection refused")
	parent, stop := context.WithCancel(context.Background())
	stopped, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	stop()
	if err := stoppedOr(stopped, failure); err != nil {
		t.Errorf("stopped from outside: %v, want nil (a clean stop)", err)
	}
	failed, cancelFailed := context.WithCancelCause(context.Background())
	cancelFailed(errors.New("kafka gone"))
	if err := stoppedOr(failed, failure); !errors.Is(err, failure) {
		t.Errorf("failed from inside: %v, want the failure", err)
	}
	if err := stoppedOr(context.Background(), failure); !errors.Is(err, failure) {
		t.Errorf("not stopped: %v, want the failure", err)
	}
}
