// Package startup is how a service waits for what it needs before it can start: the Kafka
// broker, PostgreSQL. A service started before them says within seconds what it is waiting for
// and keeps saying it at a steady interval, so that a silent hang never looks like a service at
// work; it waits only for what can still come (a server not reachable yet) and fails at once on
// an answer that waiting cannot change (a wrong password); and a stop before it ever connected
// is a failure to start, not a clean stop.
package startup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrNotStarted is wrapped by the error of a wait that was stopped (its context cancelled: a
// SIGTERM) before the dependency ever answered: the service never got going.
var ErrNotStarted = errors.New("a failure to start")

// Waiter waits for one dependency of a service. Zero values take the defaults in parentheses.
type Waiter struct {
	Log     *slog.Logger  // where it says what it waits for (required)
	Every   time.Duration // how often it says again that it is still waiting (10s)
	Retry   time.Duration // pause between two attempts (1s)
	Attempt time.Duration // how long one attempt may take (5s)
	Timeout time.Duration // give up after this long (0: wait until the context ends)
}

func (w Waiter) withDefaults() (Waiter, error) {
	if w.Log == nil {
		return w, errors.New("startup: waiter without a logger")
	}
	if w.Every < 0 || w.Retry < 0 || w.Attempt < 0 || w.Timeout < 0 {
		return w, fmt.Errorf("startup: negative interval (every %s, retry %s, attempt %s, timeout %s)",
			w.Every, w.Retry, w.Attempt, w.Timeout)
	}
	if w.Every == 0 {
		w.Every = 10 * time.Second
	}
	if w.Retry == 0 {
		w.Retry = time.Second
	}
	if w.Attempt == 0 {
		w.Attempt = 5 * time.Second
	}
	return w, nil
}

// Wait calls try until it succeeds. what names the dependency for the log and the errors
// ("Kafka at [localhost:9092]"). An error for which transient is false ends the wait at once
// with that error (nil transient: every error is worth waiting out). The wait also ends when
// Timeout is over (the last error, with how long it waited) or when ctx ends (ErrNotStarted).
func (w Waiter) Wait(ctx context.Context, what string, try func(context.Context) error, transient func(error) bool) error {
	w, err := w.withDefaults()
	if err != nil {
		return err
	}
	waitCtx, cancel := ctx, context.CancelFunc(func() {})
	if w.Timeout > 0 {
		waitCtx, cancel = context.WithTimeout(ctx, w.Timeout)
	}
	defer cancel()
	start := time.Now()
	var said time.Time
	for {
		err := attempt(waitCtx, w.Attempt, try)
		switch {
		case err == nil:
			if !said.IsZero() {
				w.Log.Info("connected to "+what, "waited", time.Since(start).Round(time.Second))
			}
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("stopped before connecting to %s: %w (last error: %v)", what, ErrNotStarted, err)
		case transient != nil && !transient(err):
			return fmt.Errorf("connect to %s: %w", what, err)
		}
		if said.IsZero() || time.Since(said) >= w.Every {
			said = time.Now()
			args := []any{"waited", said.Sub(start).Round(time.Second), "err", err}
			if w.Timeout > 0 {
				args = append(args, "gives_up_in", (w.Timeout - said.Sub(start)).Round(time.Second))
			}
			w.Log.Warn("waiting for "+what, args...)
		}
		t := time.NewTimer(w.Retry)
		select {
		case <-waitCtx.Done():
		case <-t.C:
		}
		t.Stop()
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("stopped before connecting to %s: %w (last error: %v)", what, ErrNotStarted, err)
		case waitCtx.Err() != nil:
			return fmt.Errorf("connect to %s: gave up after %s: %w", what, w.Timeout, err)
		}
	}
}

// attempt runs try once, for at most d.
func attempt(ctx context.Context, d time.Duration, try func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return try(ctx)
}
