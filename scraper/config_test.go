package scraper

import (
	"strings"
	"testing"
	"time"
)

// TestNewChecksTheConfig: every field New refuses is named in its error, and the defaults (with
// brokers) are accepted.
func TestNewChecksTheConfig(t *testing.T) {
	good := DefaultConfig()
	good.Brokers = []string{"127.0.0.1:1"}
	if _, err := New(good); err != nil {
		t.Fatalf("the defaults with brokers: %v", err)
	}
	for field, change := range map[string]func(*Config){
		"BaseURL":       func(c *Config) { c.BaseURL = "ftp://example.com/" },
		"UserAgent":     func(c *Config) { c.UserAgent = "" },
		"Timeout":       func(c *Config) { c.Timeout = 0 },
		"Retries":       func(c *Config) { c.Retries = -1 },
		"Rate":          func(c *Config) { c.Rate = -1 },
		"Workers":       func(c *Config) { c.Workers = 0 },
		"Every":         func(c *Config) { c.Every = -time.Second },
		"Brokers":       func(c *Config) { c.Brokers = nil },
		"Topic":         func(c *Config) { c.Topic = "" },
		"Partitions":    func(c *Config) { c.Partitions = -1 },
		"MaxInFlight":   func(c *Config) { c.MaxInFlight = 0 },
		"SetupTimeout":  func(c *Config) { c.SetupTimeout = -time.Second },
		"ProgressEvery": func(c *Config) { c.ProgressEvery = -time.Second },
		"WaitLogEvery":  func(c *Config) { c.WaitLogEvery = 0 },
		"StallTimeout":  func(c *Config) { c.StallTimeout = 0 },
		"ProbeEvery":    func(c *Config) { c.ProbeEvery = 0 },
		"Logger":        func(c *Config) { c.Logger = nil },
	} {
		cfg := good
		change(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: error %v, want one naming the field", field, err)
		}
	}
}
