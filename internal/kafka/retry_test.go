package kafka_test

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/IBM/sarama"
	"github.com/hashicorp/go-multierror"
	"github.com/lovoo/goka"

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
		{"goka's topic manager, its broker down", fmt.Errorf("new router r: Error creating topic manager: %v",
			fmt.Errorf("cannot connect to broker 127.0.0.1:9092: %v", refused)), true},
		{"goka's topic manager, no broker", fmt.Errorf("Error creating topic manager: %v",
			fmt.Errorf("Error creating the kafka client: %v", sarama.ErrOutOfBrokers)), true},
		{"an answer", sarama.ErrTopicAuthorizationFailed, false},
		{"another error", errors.New("schema mismatch"), false},
	}
	for _, tc := range tests {
		if got := kafka.Unreachable(tc.err); got != tc.want {
			t.Errorf("%s: Unreachable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// TestUnreachableGokaTopicManager: the error goka's own topic manager gives when no broker
// answers (a port nobody listens on) is recognized, although goka keeps only its text.
func TestUnreachableGokaTopicManager(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nobody listens there now
	cfg := kafka.Config("test-unreachable")
	cfg.Metadata.Retry.Max = 0
	_, err = goka.NewTopicManager([]string{addr}, cfg, goka.NewTopicManagerConfig())
	if err == nil {
		t.Fatalf("a topic manager on %s, where nobody listens", addr)
	}
	if !kafka.Unreachable(err) {
		t.Fatalf("Unreachable(%q) = false, want true", err)
	}
}
