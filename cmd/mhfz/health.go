package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
)

func runHealth(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	return errors.New("health: not implemented yet")
}
