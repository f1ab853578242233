package e2e

import (
	"context"
	"io"
	"log/slog"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/scraper"
)

// scrapeFolder parses every weapon page of a snapshot folder the way `mhfz scrape --source`
// does (no network, no Kafka), calling fn for every raw record, one call at a time.
func scrapeFolder(ctx context.Context, dir string, fn func(*codecs.RawRecord) error) (scraper.Summary, error) {
	cfg := scraper.DefaultConfig()
	cfg.Source, cfg.Workers, cfg.DryRun = dir, 2, io.Discard
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := scraper.New(cfg)
	if err != nil {
		return scraper.Summary{}, err
	}
	res, err := s.Scrape(ctx, fn)
	return res.Summary, err
}
