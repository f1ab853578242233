package main

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestSetGCPercent(t *testing.T) {
	cases := []struct {
		command string
		gogc    string // "" leaves GOGC unset
		want    int
	}{
		{"scrape", "", streamingGCPercent},
		{"sink", "", streamingGCPercent},
		{"process", "", 100},
		{"reprocess", "", 100},
		{"serve", "", 100},
		{"migrate", "", 100},
		{"scrape", "50", 100}, // the runtime read GOGC at start: the command leaves it as it is
		{"sink", "off", 100},
	}
	restore := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(restore) })
	for _, c := range cases {
		t.Run(c.command+"/GOGC="+c.gogc, func(t *testing.T) {
			t.Setenv("GOGC", c.gogc)
			if c.gogc == "" {
				os.Unsetenv("GOGC")
			}
			debug.SetGCPercent(100)
			setGCPercent(c.command)
			if got := debug.SetGCPercent(100); got != c.want {
				t.Errorf("mhfz %s with GOGC=%q: the collector's target is %d, want %d", c.command, c.gogc, got, c.want)
			}
		})
	}
}
