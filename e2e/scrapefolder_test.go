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
	s, err := scraper.New(f, scraper.Options{Workers: 2, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return scraper.Summary{}, err
	}
	res, err := s.Run(ctx, fn)
	return res.Summary, err
}
