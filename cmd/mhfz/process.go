package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
)

func runProcess(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	return errors.New("process: not implemented yet")
}
