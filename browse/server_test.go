package browse_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/browse"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
)

// TestNewValidates: New refuses a configuration it cannot run, naming the field, before it
// connects to anything (the database of these configurations does not exist).
func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		says   string
		change func(*browse.Config)
	}{
		{"Logger is nil", func(c *browse.Config) { c.Logger = nil }},
		{"Addr is empty", func(c *browse.Config) { c.Addr = "" }},
		{"DatabaseURL is empty", func(c *browse.Config) { c.DatabaseURL = "" }},
		{"DatabaseURL", func(c *browse.Config) { c.DatabaseURL = "postgres://a b@:x/" }},
		{"SiteURL", func(c *browse.Config) { c.SiteURL = "ftp://example.com/buki/" }},
		{"QueryTimeout 0s and ExportTimeout 2m0s must be positive", func(c *browse.Config) { c.QueryTimeout = 0 }},
		{"ExportTimeout -1s must be positive", func(c *browse.Config) { c.ExportTimeout = -time.Second }},
		{"ProbeEvery 0s must be positive", func(c *browse.Config) { c.ProbeEvery = 0 }},
		{"Startup.Timeout -1s must not be negative", func(c *browse.Config) { c.Startup.Timeout = -time.Second }},
		{"StallTimeout 1m0s must be longer than ExportTimeout", func(c *browse.Config) {
			c.Health, c.StallTimeout = observe.NewHealth(), time.Minute
		}},
	} {
		cfg := testConfig(offlineURL)
		tc.change(&cfg)
		if _, err := browse.New(cfg); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("New: %v, want an error that says %q", err, tc.says)
		}
	}
	cfg := testConfig(offlineURL)
	cfg.Health = observe.NewHealth() // the default stall timeout is longer than the default export timeout
	if _, err := browse.New(cfg); err != nil {
		t.Errorf("New(DefaultConfig with a database and a Health): %v", err)
	}
}
