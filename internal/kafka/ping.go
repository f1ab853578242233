package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
)

// Ping asks the brokers for the cluster's metadata once and reports whether Kafka answers: the
// probe of a service waiting for the broker at start. It does not retry (the caller's wait
// does, and says so) and gives up a dial after 5s, so that a broker that is down is reported
// within seconds rather than after sarama's own retries.
func Ping(ctx context.Context, brokers []string, cfg *sarama.Config) error {
	probe := *cfg // the caller's config is not ours to change
	probe.Metadata.Retry.Max = 0
	probe.Net.DialTimeout = min(cfg.Net.DialTimeout, 5*time.Second)
	if err := probe.Validate(); err != nil {
		return fmt.Errorf("kafka config: %w", err)
	}
	done := make(chan error, 1)
	go func() {
		client, err := sarama.NewClient(brokers, &probe)
		if err == nil {
			if len(client.Brokers()) == 0 {
				err = errors.New("no broker in the metadata")
			}
			client.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err() // the dial goroutine ends with its DialTimeout
	}
}

// NotReady reports whether an error of Ping is worth waiting out: everything but a
// configuration that cannot work.
func NotReady(err error) bool {
	var cfgErr sarama.ConfigurationError
	return err != nil && !errors.As(err, &cfgErr)
}

// Target names the brokers in the log and the errors: "Kafka at [localhost:9092]".
func Target(brokers []string) string { return fmt.Sprintf("Kafka at %v", brokers) }
