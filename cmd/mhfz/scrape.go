package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
)

func runScrape(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	return errors.New("scrape: not implemented yet")
}
