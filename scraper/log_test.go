package scraper

import (
	"bytes"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer collects what a text slog handler writes, and lets a test wait until a line
// matching a pattern was written (a condition, not a sleep).
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

// newLogBuffer returns a buffer and a logger (debug level included) writing to it.
func newLogBuffer() (*logBuffer, *slog.Logger) {
	b := &logBuffer{changed: make(chan struct{})}
	return b, slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.changed)
	b.changed = make(chan struct{})
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the lines that match re.
func (b *logBuffer) lines(re *regexp.Regexp) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		if re.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// waitLines waits until at least n lines match re and returns them; it fails the test with the
// whole log after timeout.
func (b *logBuffer) waitLines(t testing.TB, re *regexp.Regexp, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		b.mu.Lock()
		changed := b.changed
		b.mu.Unlock()
		if got := b.lines(re); len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("after %v, fewer than %d log lines match %q; the log:\n%s", timeout, n, re, b.String())
		}
	}
}
