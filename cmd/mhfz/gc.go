package main

import (
	"os"
	"runtime/debug"
)

// defaultGCPercent is the garbage collector's target when GOGC is not set: the heap may grow to
// five times what is live before a collection (Go's default lets it double). The services' live
// heaps are small (tens of MB) and the machines' memory is not their limit, while the collector
// took a fifth of the sink's CPU in the profile of a snapshot (docs/benchmarks.md).
const defaultGCPercent = 400

// tuneGC applies defaultGCPercent unless GOGC says otherwise (GOGC=100 restores Go's default).
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}
