package reprocess

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
)

// validConfig is DefaultConfig with the deployment's own facts, pointing at nothing: New must
// not connect.
func validConfig() Config {
	cfg := DefaultConfig()
	cfg.Names = codecs.Names{Prefix: "test-"}
	cfg.Setup.Brokers, cfg.Setup.Partitions, cfg.Setup.StoragePath = []string{"127.0.0.1:1"}, 4, "/nonexistent/router"
	cfg.DatabaseURL = "postgres://u:secret@127.0.0.1:1/db?sslmode=disable"
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

func TestDefaultConfigUsesTheSharedDefaults(t *testing.T) {
	cfg := DefaultConfig()
	if cfg.StallTimeout != observe.DefaultStallTimeout || cfg.LagEvery != observe.DefaultLagEvery {
		t.Errorf("stall timeout %s, lag every %s: want observe's %s and %s", cfg.StallTimeout, cfg.LagEvery,
			observe.DefaultStallTimeout, observe.DefaultLagEvery)
	}
	if cfg.Progress <= 0 || cfg.Poll <= 0 || cfg.Setup.Config == nil || cfg.Sink.Kafka == nil {
		t.Errorf("DefaultConfig leaves a default out: %+v", cfg)
	}
}

func TestNewValidatesEveryField(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string // in the error; empty: valid
	}{
		{"valid", func(*Config) {}, ""},
		{"no progress lines", func(c *Config) { c.Progress = NoProgress }, ""},
		{"setup until stopped", func(c *Config) { c.Startup.Timeout = 0 }, ""},
		{"copy from another deployment", func(c *Config) { c.CopyFrom = "old-weapon_data" }, ""},
		{"logger", func(c *Config) { c.Logger = nil }, "Logger"},
		{"database URL", func(c *Config) { c.DatabaseURL = "" }, "DatabaseURL is empty"},
		{"bad database URL", func(c *Config) { c.DatabaseURL = "postgres://u:secret@host:notaport/db" }, "DatabaseURL"},
		{"brokers", func(c *Config) { c.Setup.Brokers = nil }, "Setup.Brokers"},
		{"sarama config", func(c *Config) { c.Setup.Config = nil }, "Setup.Config"},
		{"partitions", func(c *Config) { c.Setup.Partitions = -1 }, "Setup.Partitions"},
		{"replication", func(c *Config) { c.Setup.Replication = 0 }, "Setup.Replication"},
		{"storage", func(c *Config) { c.Setup.StoragePath = "" }, "Setup.StoragePath"},
		{"copy from itself", func(c *Config) { c.CopyFrom = string(c.Names.WeaponData()) }, "CopyFrom"},
		{"negative progress", func(c *Config) { c.Progress = -time.Second }, "Progress"},
		{"poll", func(c *Config) { c.Poll = 0 }, "Poll"},
		{"lag every", func(c *Config) { c.LagEvery = 0 }, "LagEvery"},
		{"stall timeout", func(c *Config) { c.StallTimeout = 0 }, "StallTimeout"},
		{"startup", func(c *Config) { c.Startup.Timeout = -time.Second }, "Startup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			tc.change(&cfg)
			r, err := New(cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("New: %v, want no error", err)
			case tc.want == "" && r.cfg.Startup.Log != cfg.Logger:
				t.Fatal("the startup waiter does not log to Logger")
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("New: %v, want an error naming %s", err, tc.want)
			case err != nil && strings.Contains(err.Error(), "secret"):
				t.Fatalf("New's error shows the database password: %v", err)
			}
		})
	}
}
