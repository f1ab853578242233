package sink

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// A stop (the caller's context cancelled: SIGTERM) is a clean stop; a failure that cancelled the
// run from inside is not, even when it wraps context.Canceled (a session's context, say).
func TestStoppedOr(t *testing.T) {
	t.Parallel()
	failure := errors.New("replay: connection refused")
	stopped, stop := context.WithCancel(context.Background())
	stop()
	if err := stoppedOr(stopped, failure); err != nil {
		t.Errorf("stopped from outside: %v, want nil (a clean stop)", err)
	}
	if err := stoppedOr(context.Background(), failure); !errors.Is(err, failure) {
		t.Errorf("not stopped: %v, want the failure", err)
	}
	wrapped := fmt.Errorf("load offsets: %w", context.Canceled)
	if err := stoppedOr(context.Background(), wrapped); !errors.Is(err, wrapped) {
		t.Errorf("not stopped, failed with %v: got %v, want the failure", wrapped, err)
	}
}
