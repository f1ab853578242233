package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/IBM/sarama"
)

// retriableErrors are the broker's answers that Kafka documents as retriable: the cluster is
// moving a leader, electing one, or has not finished creating a topic. A client that asks again
// after a metadata refresh gets through.
var retriableErrors = []error{
	sarama.ErrNotLeaderForPartition, sarama.ErrLeaderNotAvailable, sarama.ErrUnknownTopicOrPartition,
	sarama.ErrRequestTimedOut, sarama.ErrNotEnoughReplicas, sarama.ErrNotEnoughReplicasAfterAppend,
	sarama.ErrNetworkException, sarama.ErrOffsetNotAvailable, sarama.ErrReplicaNotAvailable,
	sarama.ErrKafkaStorageError, sarama.ErrFencedLeaderEpoch, sarama.ErrUnknownLeaderEpoch,
	sarama.ErrNotCoordinatorForConsumer, sarama.ErrConsumerCoordinatorNotAvailable,
	sarama.ErrOffsetsLoadInProgress, sarama.ErrRebalanceInProgress, sarama.ErrOutOfBrokers,
	sarama.ErrNotController, sarama.ErrBrokerNotAvailable,
}

// Retriable reports whether err is one of Kafka's transient errors (see retriableErrors).
func Retriable(err error) bool {
	for _, r := range retriableErrors {
		if errors.Is(err, r) {
			return true
		}
	}
	return false
}

// Unreachable reports whether err says a broker could not be reached or dropped the
// connection: what a broker that died or restarts gives until the cluster has moved its
// partitions' leaders and its groups' coordinators to the others.
func Unreachable(err error) bool {
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, sarama.ErrNotConnected) {
		return true
	}
	if err == nil {
		return false
	}
	for _, text := range flattenedUnreachable {
		if strings.Contains(err.Error(), text) {
			return true
		}
	}
	return false
}

// flattenedUnreachable are reachability errors that goka's topic manager formats with %v, so
// that only their text is left: its check of the first broker of the client's list (a broker
// down fails a new processor whenever it comes first, while the others would answer), and
// sarama's client finding no broker at all.
var flattenedUnreachable = []string{"cannot connect to broker ", sarama.ErrOutOfBrokers.Error()}

// Retry runs f until it succeeds, fails with an error that is not Retriable, or ctx ends; it
// waits backoff between attempts. what names the operation in the error.
func Retry(ctx context.Context, what string, backoff time.Duration, f func() error) error {
	for {
		err := f()
		if err == nil || !Retriable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: still failing when %w: %w", what, ctx.Err(), err)
		case <-time.After(backoff):
		}
	}
}
