package testenv

import (
	"testing"

	"go.uber.org/goleak"
)

// VerifyNoLeaks is the TestMain of a package whose code starts goroutines: it runs the tests and
// then fails the run when a goroutine they started is still running (go.uber.org/goleak, which
// retries for a while, so goroutines on their way out are not leaks). The goroutines that
// libraries keep for the life of the process by design are ignored (libraryGoroutines); opts add
// the package's own.
func VerifyNoLeaks(m *testing.M, opts ...goleak.Option) {
	goleak.VerifyTestMain(m, append(libraryGoroutines(), opts...)...)
}

// libraryGoroutines are the goroutines libraries start once and keep for the life of the process,
// each with why it is not a leak.
func libraryGoroutines() []goleak.Option {
	return []goleak.Option{
		// go-metrics (sarama's metrics) starts one ticker goroutine for every meter of the
		// process, at the first meter, and never stops it: a closed client leaves it running.
		goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"),
		// sarama's producer opens a circuit breaker (go-resiliency) on a failed partition; the
		// breaker's timer goroutine sleeps for its timeout (10 s) and then ends, whether or not
		// the producer has been closed since: bounded, not a leak.
		goleak.IgnoreAnyFunction("github.com/eapache/go-resiliency/breaker.(*Breaker).timer"),
		// LevelDB (the processor's group table) drains its memory pool for up to a second after
		// the database is closed, then ends: bounded, not a leak.
		goleak.IgnoreTopFunction("github.com/syndtr/goleveldb/leveldb.(*DB).mpoolDrain"),
	}
}
