package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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
// partitions' leaders and its groups' coordinators to the others. goka formats the errors of its
// topic manager with %v, which keeps only their text: ProbingTopicManagers keeps their type.
func Unreachable(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, sarama.ErrNotConnected)
}

// Transient reports whether err is a Kafka failure that passes by itself (Retriable or
// Unreachable): the allow-list of what a stage waits out. Any other error is not retried.
func Transient(err error) bool { return Retriable(err) || Unreachable(err) }

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
