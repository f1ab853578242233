package scraper

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mhfz/mhfz-pipeline/internal/observe"
)

// TestRunDryRun: Run scrapes a folder once, writes one JSON line per row, counts the scrape in
// its metrics and Totals, and a dry run has no Kafka check in /readyz.
func TestRunDryRun(t *testing.T) {
	var out bytes.Buffer
	reg, health := prometheus.NewRegistry(), observe.NewHealth()
	cfg := DefaultConfig()
	cfg.Source, cfg.DryRun, cfg.Logger, cfg.Registry, cfg.Health = siteDir(t), &out, quietLog(), reg, health
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != fixtureSiteRows {
		t.Errorf("%d JSON lines, want %d", n, fixtureSiteRows)
	}
	if got := s.Totals(); got.Scrapes != 1 || got.Failed != 0 || got.Rows != fixtureSiteRows {
		t.Errorf("totals %+v, want 1 scrape, none failed, %d rows", got, fixtureSiteRows)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += "," + l.GetValue()
			}
			values[name] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	if values["mhfz_scraper_scrapes_total,success"] != 1 || values["mhfz_scraper_rows_total"] != fixtureSiteRows {
		t.Errorf("metrics %v", values)
	}
	if _, ok := values["mhfz_scraper_records_waiting"]; ok {
		t.Error("a dry run reports records waiting for Kafka")
	}
	if err := health.IsReady(); err != nil {
		t.Errorf("readiness of a dry run: %v", err)
	}
}

// TestRunWrongSource: New does not look at the folder (no I/O); Run says what is wrong with it,
// as a SourceError.
func TestRunWrongSource(t *testing.T) {
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "missing")} {
		cfg := DefaultConfig()
		cfg.Source, cfg.DryRun, cfg.Logger = dir, &bytes.Buffer{}, quietLog()
		s, err := New(cfg)
		if err != nil {
			t.Fatalf("New(%s): %v", dir, err)
		}
		err = s.Run(context.Background())
		if _, ok := errors.AsType[*SourceError](err); !ok || !strings.Contains(err.Error(), dir) {
			t.Errorf("Run on %s: %v, want a SourceError naming it", dir, err)
		}
	}
}
