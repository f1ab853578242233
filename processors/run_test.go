package processors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// testerConfig is a router's config on goka's tester.
func testerConfig() Config {
	cfg := DefaultConfig()
	cfg.Names, cfg.Kafka.Brokers, cfg.Progress = codecs.Names{Prefix: "run."}, nil, 0
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// failingGroups is a consumer group builder whose groups fail Consume with the errors of fail,
// one per group, as a consumer group meeting Kafka's failures does (goka wraps them with %w);
// the next group consumes until stopped. calls counts the groups built.
func failingGroups(calls *atomic.Int32, fail ...error) goka.ProcessorOption {
	return goka.WithConsumerGroupBuilder(func([]string, string, string) (sarama.ConsumerGroup, error) {
		g := &fakeGroup{}
		if n := int(calls.Add(1)); n <= len(fail) {
			g.err = fail[n-1]
		}
		return g, nil
	})
}

type fakeGroup struct {
	sarama.ConsumerGroup
	err error
}

func (g *fakeGroup) Consume(ctx context.Context, _ []string, _ sarama.ConsumerGroupHandler) error {
	if g.err != nil {
		return g.err
	}
	<-ctx.Done()
	return nil
}

func (g *fakeGroup) Errors() <-chan error { return nil }
func (g *fakeGroup) Close() error         { return nil }

// TestRunRestarts: what stops the router's processor decides what Run does: a Kafka failure known
// to pass (kafka.Transient) starts a new processor after a pause; an error nobody classified stops
// the router, saying so, and so does one that wraps context.Canceled while nobody stopped it.
func TestRunRestarts(t *testing.T) {
	tests := []struct {
		name    string
		fail    []error
		wantErr string // "": runs until stopped
	}{
		{"a leader moving", []error{fmt.Errorf("setup table: %w", sarama.ErrNotLeaderForPartition)}, ""},
		{"a broker down, twice", []error{sarama.ErrOutOfBrokers, fmt.Errorf("dial: %w", sarama.ErrNotConnected)}, ""},
		{"unclassified", []error{errors.New("disk on fire")},
			"stopped by an error that is not a Kafka failure known to pass, so not retried"},
		{"context.Canceled without a stop", []error{fmt.Errorf("recover table: %w", context.Canceled)},
			"not a Kafka failure known to pass"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			r, err := New(testerConfig(), goka.WithTester(tester.New(t)), failingGroups(&calls, tc.fail...))
			if err != nil {
				t.Fatal(err)
			}
			r.pause = time.Millisecond
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			if tc.wantErr != "" {
				err := <-done
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, tc.fail[0]) {
					t.Fatalf("Run: %v, want an error saying %q that wraps %v", err, tc.wantErr, tc.fail[0])
				}
				return
			}
			for int(calls.Load()) <= len(tc.fail) { // the processor whose group works runs
				select {
				case err := <-done:
					t.Fatalf("Run stopped after %d consumer groups: %v", calls.Load(), err)
				case <-time.After(time.Millisecond):
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run stopped by its caller: %v, want nil", err)
			}
		})
	}
}

// TestNewValidates: every wrong field is named, and nothing runs.
func TestNewValidates(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no brokers, no tester", func(c *Config) { c.Kafka.Brokers = nil }, "Kafka.Brokers: empty"},
		{"no sarama config", func(c *Config) { c.Kafka.Config = nil }, "Kafka: no sarama config"},
		{"no storage", func(c *Config) { c.Kafka.StoragePath = "" }, "Kafka: no storage path"},
		{"negative partitions", func(c *Config) { c.Kafka.Partitions = -1 }, "Kafka: partitions -1"},
		{"message size", func(c *Config) { c.MaxMessageBytes = 0 }, "MaxMessageBytes 0"},
		{"setup timeout", func(c *Config) { c.SetupTimeout = -time.Second }, "SetupTimeout -1s"},
		{"wait every", func(c *Config) { c.WaitEvery = 0 }, "WaitEvery 0s"},
		{"progress", func(c *Config) { c.Progress = -time.Second }, "Progress -1s"},
		{"lag interval", func(c *Config) { c.LagEvery = 0 }, "LagEvery 0s"},
		{"stall timeout", func(c *Config) { c.StallTimeout = 0 }, "StallTimeout 0s"},
		{"logger", func(c *Config) { c.Logger = nil }, "Logger: nil"},
		{"clock", func(c *Config) { c.Now = nil }, "Now: nil"},
		{"parser", func(c *Config) { c.Parse = nil }, "Parse: nil"},
	}
	for _, tc := range tests {
		cfg := DefaultConfig()
		tc.change(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New: %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
	if _, err := New(DefaultConfig()); err != nil {
		t.Errorf("New(DefaultConfig()): %v", err)
	}
}
