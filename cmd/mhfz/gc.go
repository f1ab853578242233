package main

import (
	"os"
	"runtime/debug"
)

// streamingGCPercent is the collector's target (GOGC) of the scraper and the sink: they allocate
// for every record and keep little of it, so at Go's default of 100 the collector ran often over
// a small live heap. At 200 the sink spent 0.2 CPU-s less per snapshot (of 1.7 to 2.0) in both
// series of end-to-end runs that measured it alone, the scraper 0.15 less (of 1.8) in two of
// three, for about half as much memory again at their peaks (docs/benchmarks.md, "The
// collector's target").
const streamingGCPercent = 200

// gcPercentOf is the collector's target for a command when GOGC is not set; 0 keeps Go's default.
// The processor keeps it: at 200 its CPU did not fall in two series of three, and its peak
// memory grew from about 400 to 560 MB. So do the re-processing (the processor's work and the
// sink's in one process), the web server and the one-shot commands.
func gcPercentOf(command string) int {
	switch command {
	case "scrape", "sink":
		return streamingGCPercent
	}
	return 0
}

// setGCPercent sets the collector's target of the process for command, unless GOGC is set: the
// user's setting wins, as the Go runtime reads it. GOMEMLIMIT, read by the runtime too, still
// bounds the heap when set.
func setGCPercent(command string) {
	percent := gcPercentOf(command)
	if _, set := os.LookupEnv("GOGC"); set || percent == 0 {
		return
	}
	debug.SetGCPercent(percent)
}
