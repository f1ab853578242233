package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
)

func runMigrate(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	return errors.New("migrate: not implemented yet")
}
