package kafka_test

import (
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
)

// TestProducerRetriesOutlastAnElection checks how long a producer of Config waits out a
// retriable error before it fails, for a send and for its start (its producer ID): longer than a
// dead broker's fencing (9 s) and the election after it. sarama's default for the start, 50
// attempts 100 ms apart, gives up after 5 s.
func TestProducerRetriesOutlastAnElection(t *testing.T) {
	cfg := kafka.Config("test")
	tests := []struct {
		name     string
		max      int
		backoff  time.Duration
		function func(retries, maxRetries int) time.Duration
	}{
		{"send", cfg.Producer.Retry.Max, cfg.Producer.Retry.Backoff, cfg.Producer.Retry.BackoffFunc},
		{"start", cfg.Producer.Transaction.Retry.Max, cfg.Producer.Transaction.Retry.Backoff, cfg.Producer.Transaction.Retry.BackoffFunc},
	}
	for _, tt := range tests {
		var waited time.Duration
		for retries := range tt.max {
			if tt.function == nil { // as sarama does without one
				waited += tt.backoff
				continue
			}
			waited += tt.function(retries, tt.max)
		}
		if waited < 30*time.Second || waited > kafka.ElectionWait {
			t.Errorf("a producer's %s waits %v over its %d retries; want 30s to %v (ElectionWait)", tt.name, waited, tt.max, kafka.ElectionWait)
		}
	}
}
