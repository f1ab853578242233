package kafka_test

import (
	"errors"
	"testing"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
)

// flakyTopicManager fails its first lookups with err, then answers.
type flakyTopicManager struct {
	goka.TopicManager
	failures int
	err      error
	calls    int
}

func (m *flakyTopicManager) GetOffset(string, int32, int64) (int64, error) {
	if m.calls++; m.calls <= m.failures {
		return 0, m.err
	}
	return 42, nil
}

func (m *flakyTopicManager) Partitions(string) ([]int32, error) {
	if m.calls++; m.calls <= m.failures {
		return nil, m.err
	}
	return []int32{0, 1}, nil
}

// TestRetryingTopicManager: a lookup that meets a leader election is asked again until it gets
// through; one that fails for another reason fails at once.
func TestRetryingTopicManager(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantErr   bool
		wantCalls int
	}{
		{"leader moved", sarama.ErrNotLeaderForPartition, false, 3},
		{"no leader yet", sarama.ErrLeaderNotAvailable, false, 3},
		{"not retriable", sarama.ErrTopicAuthorizationFailed, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, lookup := range []string{"offset", "partitions"} {
				fake := &flakyTopicManager{failures: 2, err: tc.err}
				tm, err := kafka.RetryingTopicManager(func([]string) (goka.TopicManager, error) { return fake, nil })(nil)
				if err != nil {
					t.Fatal(err)
				}
				if lookup == "offset" {
					_, err = tm.GetOffset("t", 0, sarama.OffsetOldest)
				} else {
					_, err = tm.Partitions("t")
				}
				if (err != nil) != tc.wantErr || (tc.wantErr && !errors.Is(err, tc.err)) || fake.calls != tc.wantCalls {
					t.Errorf("%s: error %v after %d calls, want error %v after %d", lookup, err, fake.calls, tc.wantErr, tc.wantCalls)
				}
			}
		})
	}
}

// flakyClient is a sarama client whose first lookups of partitions and of offsets fail with err.
type flakyClient struct {
	sarama.Client
	partitionFailures, offsetFailures int
	err                               error
	calls                             int
}

func (c *flakyClient) Partitions(string) ([]int32, error) {
	c.calls++
	if c.partitionFailures > 0 {
		c.partitionFailures--
		return nil, c.err
	}
	return []int32{0}, nil
}

func (c *flakyClient) GetOffset(string, int32, int64) (int64, error) {
	c.calls++
	if c.offsetFailures > 0 {
		c.offsetFailures--
		return 0, c.err
	}
	return 42, nil
}

// TestTopicEndsWaitOutALeaderElection: the offsets of a topic whose leader is moving (a topic
// just created: "not the leader for some partition") are asked again until they get through;
// another error fails at once.
func TestTopicEndsWaitOutALeaderElection(t *testing.T) {
	tests := []struct {
		name                string
		partitions, offsets int
		err                 error
		wantErr             bool
		wantCalls           int
	}{
		{"the partitions meet the election", 2, 0, sarama.ErrLeaderNotAvailable, false, 4},
		{"an offset meets it", 0, 2, sarama.ErrNotLeaderForPartition, false, 4},
		{"not retriable", 0, 1, sarama.ErrTopicAuthorizationFailed, true, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &flakyClient{partitionFailures: tc.partitions, offsetFailures: tc.offsets, err: tc.err}
			ends, err := kafka.TopicEnds(c, "t")
			if (err != nil) != tc.wantErr || (tc.wantErr && !errors.Is(err, tc.err)) || c.calls != tc.wantCalls {
				t.Fatalf("error %v after %d calls, want error %v after %d", err, c.calls, tc.wantErr, tc.wantCalls)
			}
			if !tc.wantErr && ends[kafka.Partition{Topic: "t", ID: 0}] != 42 {
				t.Errorf("ends %v, want t/0 at 42", ends)
			}
		})
	}
}
