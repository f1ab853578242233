package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

func validConfig() Config {
	cfg := DefaultConfig()
	// Nothing listens there: New connects to nothing, so it succeeds all the same.
	cfg.Brokers, cfg.DatabaseURL = []string{"127.0.0.1:1"}, "postgres://u@127.0.0.1:1/db"
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// New checks every field and names the one that is wrong; it connects to nothing.
func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	if _, err := New(validConfig()); err != nil {
		t.Fatalf("New with the defaults and nothing listening: %v", err)
	}
	cases := []struct {
		field  string
		change func(*Config)
	}{
		{"Brokers", func(c *Config) { c.Brokers = nil }},
		{"DatabaseURL", func(c *Config) { c.DatabaseURL = "" }},
		{"DatabaseURL", func(c *Config) { c.DatabaseURL = "postgres://u@host:notaport/db" }},
		{"Logger", func(c *Config) { c.Logger = nil }},
		{"Kafka", func(c *Config) { c.Kafka = nil }},
		{"BatchSize", func(c *Config) { c.BatchSize = 0 }},
		{"BatchWait", func(c *Config) { c.BatchWait = 0 }},
		{"Writers", func(c *Config) { c.Writers = 0 }},
		{"Rebuild and Replay", func(c *Config) { c.Rebuild, c.Replay = true, true }},
		{"RetryMin", func(c *Config) { c.RetryMin = 0 }},
		{"RetryMax", func(c *Config) { c.RetryMax = c.RetryMin / 2 }},
		{"Progress", func(c *Config) { c.Progress = -time.Second }},
		{"RebuildLogEvery", func(c *Config) { c.RebuildLogEvery = 0 }},
		{"Partitions", func(c *Config) { c.Partitions = -1 }},
		{"Replication", func(c *Config) { c.CreateTopics, c.Replication = true, 0 }},
		{"StallTimeout", func(c *Config) { c.StallTimeout = 0 }},
		{"LagEvery", func(c *Config) { c.LagEvery = 0 }},
	}
	for _, c := range cases {
		cfg := validConfig()
		c.change(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s wrong: New says %v, want an error naming it", c.field, err)
		}
	}
	cfg := validConfig()
	cfg.Progress = 0 // a value: no progress lines
	if _, err := New(cfg); err != nil {
		t.Errorf("Progress 0: %v, want accepted (no progress lines)", err)
	}
}

// The sink's consumer group waits for fetchMin bytes per fetch (a CPU saving, see fetchMin); the
// caller's config is left as it was, and the guarantees the sink relies on stay as kafka.Config
// sets them.
func TestNewSetsTheGroupsFetchSizes(t *testing.T) {
	t.Parallel()
	cfg := validConfig()
	callers := *cfg.Kafka
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := s.kafkaCfg.Consumer
	if got.Fetch.Min != fetchMin || got.MaxWaitTime != fetchMaxWait {
		t.Errorf("the group's fetch: min %d bytes, max wait %v; want %d, %v",
			got.Fetch.Min, got.MaxWaitTime, fetchMin, fetchMaxWait)
	}
	if cfg.Kafka.Consumer.Fetch.Min != callers.Consumer.Fetch.Min ||
		cfg.Kafka.Consumer.MaxWaitTime != callers.Consumer.MaxWaitTime {
		t.Errorf("New changed the caller's config: fetch min %d, max wait %v",
			cfg.Kafka.Consumer.Fetch.Min, cfg.Kafka.Consumer.MaxWaitTime)
	}
	if got.Offsets.AutoCommit.Enable != callers.Consumer.Offsets.AutoCommit.Enable ||
		got.Offsets.Initial != callers.Consumer.Offsets.Initial {
		t.Error("New changed the group's offsets settings along with its fetch sizes")
	}
	if err := s.kafkaCfg.Validate(); err != nil {
		t.Errorf("the group's config: %v", err)
	}
}

// A run that fails with a failure that may go away (Kafka's brokers gone, a connection reset) is
// started again; one that fails for good ends the Run with its error.
func TestRunStartsAgainAfterRestartableFailures(t *testing.T) {
	t.Parallel()
	cfg := validConfig()
	cfg.RetryMin, cfg.RetryMax = time.Millisecond, 2*time.Millisecond
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	failures := []error{fmt.Errorf("connect: %w", sarama.ErrOutOfBrokers),
		&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}}
	runs := 0
	err = s.restarting(context.Background(), func(context.Context) error {
		if runs++; runs <= len(failures) {
			return failures[runs-1]
		}
		return nil
	})
	if err != nil || runs != 3 {
		t.Errorf("two restartable failures, then a stop: %v after %d runs, want nil after 3", err, runs)
	}
	fatal := errors.New("sink: load offsets: permission denied")
	runs = 0
	err = s.restarting(context.Background(), func(context.Context) error { runs++; return fatal })
	if !errors.Is(err, fatal) || runs != 1 {
		t.Errorf("a failure for good: %v after %d runs, want it after 1", err, runs)
	}
}
