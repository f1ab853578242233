package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/IBM/sarama"
	"github.com/hashicorp/go-multierror"
	"github.com/lovoo/goka"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// TestTransient lists every error the stages wait out (the allow-list: Kafka's retriable
// answers and a broker that cannot be reached, through the wrapping of goka's errors: fmt's %w,
// multierror) and errors that are not, which stop the work.
func TestTransient(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	type classified struct {
		name                   string
		err                    error
		retriable, unreachable bool
	}
	tests := []classified{
		{"refused", refused, false, true},
		{"reset", syscall.ECONNRESET, false, true},
		{"connection closed", io.EOF, false, true},
		{"wrapped by goka", multierror.Append(nil, fmt.Errorf("error consuming from group consumer: %w", refused)), false, true},
		{"not connected", sarama.ErrNotConnected, false, true},
		{"an answer", sarama.ErrTopicAuthorizationFailed, false, false},
		{"another error", errors.New("schema mismatch"), false, false},
		{"goka's topic manager, flattened", fmt.Errorf("Error creating topic manager: %v",
			fmt.Errorf("cannot connect to broker 127.0.0.1:9092: %v", refused)), false, false},
		{"stopped", context.Canceled, false, false},
	}
	for _, e := range kafka.RetriableErrors {
		tests = append(tests, classified{e.Error(), fmt.Errorf("wrapped: %w", e), true, false})
	}
	for _, tc := range tests {
		if got := kafka.Retriable(tc.err); got != tc.retriable {
			t.Errorf("%s: Retriable(%v) = %v, want %v", tc.name, tc.err, got, tc.retriable)
		}
		if got := kafka.Unreachable(tc.err); got != tc.unreachable {
			t.Errorf("%s: Unreachable(%v) = %v, want %v", tc.name, tc.err, got, tc.unreachable)
		}
		if got := kafka.Transient(tc.err); got != (tc.retriable || tc.unreachable) {
			t.Errorf("%s: Transient(%v) = %v", tc.name, tc.err, got)
		}
	}
}

// TestProbingTopicManagers: a topic manager that cannot be built because no broker answers (a
// port nobody listens on) leaves a failure of its type, although goka keeps only its text.
func TestProbingTopicManagers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nobody listens there now
	cfg := kafka.Config("test-unreachable")
	cfg.Metadata.Retry.Max = 0
	tms := kafka.NewProbingTopicManagers(goka.TopicManagerBuilderWithConfig(cfg, goka.NewTopicManagerConfig()), cfg)
	if _, err := tms.Build([]string{addr}); err == nil {
		t.Fatalf("a topic manager on %s, where nobody listens", addr)
	}
	if f := tms.Failure(); !kafka.Transient(f) {
		t.Fatalf("Transient(%q) = false, want true", f)
	}
}

// TestProbingTopicManagersBuildAgain: a build that fails while every broker answers the probe
// (the broker goka checked came back meanwhile) is tried once more before it counts as a failure.
func TestProbingTopicManagersBuildAgain(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	cfg := kafka.Config("test-build-again")
	real := goka.TopicManagerBuilderWithConfig(cfg, goka.NewTopicManagerConfig())
	calls := 0
	flaky := func(brokers []string) (goka.TopicManager, error) {
		calls++
		if calls == 1 {
			return nil, errors.New("goka: cannot connect to broker (it came back since)")
		}
		return real(brokers)
	}
	tms := kafka.NewProbingTopicManagers(flaky, cfg)
	tm, err := tms.Build(brokers)
	if err != nil {
		t.Fatalf("Build: %v, want a topic manager from the second attempt", err)
	}
	defer tm.Close()
	if calls != 2 || tms.Failure() != nil {
		t.Errorf("%d builds, failure %v: want 2 builds and no failure", calls, tms.Failure())
	}
}
