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

// The defaults of a service's wait at start.
const (
	// DefaultTimeout is how long a service waits for a dependency at start before it fails.
	DefaultTimeout = time.Minute
	// DefaultEvery is how often a service still waiting says so again.
	DefaultEvery = 10 * time.Second
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
		w.Every = DefaultEvery
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
	wt := &waiting{w: w, what: what, start: time.Now()}
	for {
		err := attempt(waitCtx, w.Attempt, try)
		if err == nil {
			wt.connected()
			return nil
		}
		if ctx.Err() == nil && (transient == nil || transient(err)) {
			wt.say(err)
			pause(waitCtx, w.Retry)
		}
		if err := wt.over(ctx, waitCtx, err, transient); err != nil {
			return err
		}
	}
}

// waiting is one wait of a Waiter: what it waits for, since when, and when it last said so.
type waiting struct {
	w     Waiter
	what  string
	start time.Time
	said  time.Time
}

// connected says that the wait is over, if it was said to have begun.
func (wt *waiting) connected() {
	if !wt.said.IsZero() {
		wt.w.Log.Info("connected to "+wt.what, "waited", time.Since(wt.start).Round(time.Second))
	}
}

// say logs that the wait goes on, at once and then every Every.
func (wt *waiting) say(err error) {
	if !wt.said.IsZero() && time.Since(wt.said) < wt.w.Every {
		return
	}
	wt.said = time.Now()
	args := []any{"waited", wt.said.Sub(wt.start).Round(time.Second), "err", err}
	if wt.w.Timeout > 0 {
		args = append(args, "gives_up_in", (wt.w.Timeout - wt.said.Sub(wt.start)).Round(time.Second))
	}
	wt.w.Log.Warn("waiting for "+wt.what, args...)
}

// over is the error that ends the wait after a failed attempt (err), or nil to try again: the
// caller stopped (ctx), an error waiting cannot change, or the Timeout (waitCtx) is over.
func (wt *waiting) over(ctx, waitCtx context.Context, err error, transient func(error) bool) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("stopped before connecting to %s: %w (last error: %v)", wt.what, ErrNotStarted, err)
	case transient != nil && !transient(err):
		return fmt.Errorf("connect to %s: %w", wt.what, err)
	case waitCtx.Err() != nil:
		return fmt.Errorf("connect to %s: gave up after %s: %w", wt.what, wt.w.Timeout, err)
	}
	return nil
}

// pause waits for d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// attempt runs try once, for at most d.
func attempt(ctx context.Context, d time.Duration, try func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return try(ctx)
}
