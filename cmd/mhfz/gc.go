package main

import (
	"os"
	"runtime/debug"
)

// streamingGCPercent is the collector's target (GOGC) of the commands that carry every record
// of a snapshot: they allocate for each record and keep little of it, so at Go's default of 100
// the collector ran often over a small live heap. At 200 the three services spent about 0.6 to
// 1 CPU-s less per snapshot (of 8 to 9), for about half as much memory again at their peaks;
// 300 saved no more (docs/benchmarks.md, "The collector's target").
const streamingGCPercent = 200

// gcPercentOf is the collector's target for a command when GOGC is not set; 0 keeps Go's default.
// The web server and the one-shot commands keep it: their memory is not a per-record stream.
func gcPercentOf(command string) int {
	switch command {
	case "scrape", "process", "sink", "reprocess":
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
