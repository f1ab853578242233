package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
)

func runSink(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	return errors.New("sink: not implemented yet")
}
