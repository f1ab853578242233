// Package observe is how a long-running service shows what it does: its Prometheus metrics
// (one registry per service, passed to the stages, never the global default), whether it is alive
// (/healthz: its loop makes progress, or is idle by design) and whether it is ready (/readyz:
// connected, partitions assigned, table recovered), over HTTP (Server).
//
// A stage registers its checks on a Health and its collectors on the service's registry; the
// metrics read the same counters as the stage's progress log lines.
package observe

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Health holds the liveness and readiness checks of one service. A check returns nil when all
// is well, else an error saying what is wrong. Safe for concurrent use.
type Health struct {
	mu    sync.Mutex
	live  map[string]func() error
	ready map[string]func() error
}

// NewHealth returns a Health without checks: alive and ready.
func NewHealth() *Health {
	return &Health{live: map[string]func() error{}, ready: map[string]func() error{}}
}

// Live adds (or replaces) a liveness check: failing, the service is stuck (/healthz fails).
func (h *Health) Live(name string, check func() error) { h.add(false, name, check) }

// Ready adds (or replaces) a readiness check: failing, the service cannot work now (/readyz fails).
func (h *Health) Ready(name string, check func() error) { h.add(true, name, check) }

func (h *Health) add(ready bool, name string, check func() error) {
	if h == nil {
		return // a stage run without observation (tests, benchmarks)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if ready {
		h.ready[name] = check
	} else {
		h.live[name] = check
	}
}

// Alive runs the liveness checks: nil, or every failure, each named.
func (h *Health) Alive() error { return h.run(false) }

// IsReady runs the readiness checks, then the liveness checks (a stuck service is not ready
// either): nil, or every failure, each named.
func (h *Health) IsReady() error {
	return errors.Join(h.run(true), h.run(false))
}

func (h *Health) run(ready bool) error {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	m := h.live
	if ready {
		m = h.ready
	}
	checks := make(map[string]func() error, len(m))
	for k, v := range m {
		checks[k] = v
	}
	h.mu.Unlock()
	var errs []error
	for _, name := range sortedKeys(checks) {
		if err := checks[name](); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Watchdog tells whether a loop is stuck: a piece of work (a pending batch, a database call, a
// page) started and not finished within Bound. A loop with no work in progress is idle, and
// alive. Safe for concurrent use.
type Watchdog struct {
	bound time.Duration
	now   func() time.Time

	mu   sync.Mutex
	next uint64
	work map[uint64]work
}

type work struct {
	what  string
	since time.Time
}

// NewWatchdog returns a watchdog that reports work older than bound (> 0).
func NewWatchdog(bound time.Duration) (*Watchdog, error) {
	if bound <= 0 {
		return nil, fmt.Errorf("watchdog: bound %s must be positive", bound)
	}
	return &Watchdog{bound: bound, now: time.Now, work: map[uint64]work{}}, nil
}

// Start notes that the work what has started; call the returned function once it is done (or
// abandoned). A nil Watchdog watches nothing.
func (w *Watchdog) Start(what string) (done func()) {
	if w == nil {
		return func() {}
	}
	w.mu.Lock()
	w.next++
	id := w.next
	w.work[id] = work{what, w.now()}
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.work, id)
		w.mu.Unlock()
	}
}

// Check is nil unless a piece of work has been going on for longer than the bound: then it names
// the oldest and how long it has taken.
func (w *Watchdog) Check() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var oldest *work
	for _, wk := range w.work {
		if oldest == nil || wk.since.Before(oldest.since) {
			oldest = &wk
		}
	}
	if oldest == nil {
		return nil
	}
	if d := w.now().Sub(oldest.since); d > w.bound {
		return fmt.Errorf("stuck: %s has taken %s (more than %s)", oldest.what, d.Round(time.Second), w.bound)
	}
	return nil
}

// Probe is the latest answer of something checked periodically (a broker, a database): it is
// up if its last success is recent enough. A probe that hangs (a frozen broker) ages and goes
// down without an answer. Safe for concurrent use.
type Probe struct {
	what  string
	stale time.Duration
	now   func() time.Time

	mu      sync.Mutex
	lastOK  time.Time
	lastErr error
	started time.Time
}

// NewProbe returns a probe of what, down until its first success, and down again when its last
// success is older than stale.
func NewProbe(what string, stale time.Duration) *Probe {
	return &Probe{what: what, stale: stale, now: time.Now, started: time.Now()}
}

// Report records the outcome of one attempt.
func (p *Probe) Report(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.lastOK = p.now()
	}
	p.lastErr = err
}

// Check is nil while the last success is recent, else an error saying since when and why.
func (p *Probe) Check() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if !p.lastOK.IsZero() && now.Sub(p.lastOK) <= p.stale {
		return nil
	}
	since := "never answered"
	if !p.lastOK.IsZero() {
		since = fmt.Sprintf("no answer for %s", now.Sub(p.lastOK).Round(time.Second))
	}
	if p.lastErr != nil {
		return fmt.Errorf("%s: %s: %w", p.what, since, p.lastErr)
	}
	return fmt.Errorf("%s: %s", p.what, since)
}

// Up is 1 if Check passes, else 0 (a gauge's value).
func (p *Probe) Up() float64 {
	if p.Check() == nil {
		return 1
	}
	return 0
}

// describe lists the failures of err one per line, for the body of a failed check.
func describe(err error) string {
	var lines []string
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			lines = append(lines, strings.Split(describe(e), "\n")...)
		}
	} else {
		lines = []string{err.Error()}
	}
	return strings.Join(slices.Compact(lines), "\n")
}
