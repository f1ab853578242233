package kafka_test

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/IBM/sarama"
	"github.com/hashicorp/go-multierror"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
)

// TestUnreachable: a broker refusing connections is recognized through the wrapping of goka's
// errors (fmt's %w, multierror); what the broker answers is not a reachability problem.
func TestUnreachable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"refused", refused, true},
		{"wrapped by goka", multierror.Append(nil, fmt.Errorf("error consuming from group consumer: %w", refused)), true},
		{"not connected", sarama.ErrNotConnected, true},
		{"an answer", sarama.ErrTopicAuthorizationFailed, false},
		{"another error", errors.New("schema mismatch"), false},
	}
	for _, tc := range tests {
		if got := kafka.Unreachable(tc.err); got != tc.want {
			t.Errorf("%s: Unreachable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
