//go:build race

package scraper

// raceEnabled: the tests run under the race detector, where a pass over the corpus takes
// minutes.
const raceEnabled = true
