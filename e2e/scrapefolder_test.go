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
	f, err := scraper.NewDirFetcher(dir)
	if err != nil {
		return scraper.Summary{}, err
	}
	s, err := scraper.New(folderConfig(f))
	if err != nil {
		return scraper.Summary{}, err
	}
	res, err := s.Scrape(ctx, fn)
	return res.Summary, err
}

// folderConfig is the configuration of a scraper reading through f, for Scrape.
func folderConfig(f scraper.Fetcher) scraper.Config {
	cfg := scraper.DefaultConfig()
	cfg.Fetcher, cfg.Workers, cfg.DryRun = f, 2, io.Discard
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}
