package sink

import (
	"context"
	"testing"
)

// The tests' hooks into a sink, kept out of Config: each returns a tweak for start (or is one).

// withTrace makes the sink call trace with "begin" once a batch's transaction holds its offsets
// and "commit" once it has committed (the crash tests kill the sink on them).
func withTrace(trace func(event string)) func(*Sink) {
	return func(s *Sink) { s.hooks.trace = trace }
}

// withOnCommit makes the sink call f after each committed transaction with what it held and when
// (the tests of parallel sinks check from it who owned which partition when); the writers call
// it, possibly at the same time.
func withOnCommit(f func(commit)) func(*Sink) {
	return func(s *Sink) { s.hooks.onCommit = f }
}

// withSetupSeek false makes Setup leave Kafka's committed offsets as they are, to exercise
// ConsumeClaim's checks.
func withSetupSeek(seek bool) func(*Sink) {
	return func(s *Sink) { s.hooks.noSetupSeek = !seek }
}

// openDatabase opens s's pool as Run does, for the tests that use parts of a sink never run.
func openDatabase(t testing.TB, s *Sink) {
	t.Helper()
	if err := s.openPool(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.pool.Close)
}
