package e2e

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The soak's arithmetic, without services: what the tables must hold, the fit, the reading of
// the scraper's log and of /metrics.

func TestSoakVersions(t *testing.T) {
	for _, c := range []struct {
		name   string
		h      [2]string
		n      int
		want   int
		h1, h2 string
	}{
		{"changes every period: A, B, A is three versions", [2]string{"a", "b"}, 3, 3, "a", "b"},
		{"changes, one scrape", [2]string{"a", "b"}, 1, 1, "a", ""},
		{"changes, four scrapes", [2]string{"a", "b"}, 4, 4, "a", "b"},
		{"alike in both", [2]string{"a", "a"}, 5, 1, "a", ""},
		{"only in the older", [2]string{"a", ""}, 4, 1, "a", ""},
		{"only in the newest, one scrape: not yet", [2]string{"", "b"}, 1, 0, "", ""},
		{"only in the newest", [2]string{"", "b"}, 5, 1, "b", ""},
		{"no scrape", [2]string{"a", "b"}, 0, 0, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, h1, h2 := soakVersions(c.h, c.n)
			if n != c.want || h1 != c.h1 || h2 != c.h2 {
				t.Errorf("soakVersions(%q, %d) = %d, %q, %q; want %d, %q, %q", c.h, c.n, n, h1, h2, c.want, c.h1, c.h2)
			}
		})
	}
}

func TestWithinSlope(t *testing.T) {
	at := func(min float64) time.Duration { return time.Duration(min * float64(time.Minute)) }
	var restarts, flat []soakSample
	// Two lifetimes each climbing 6 per hour (0.1 a minute) from their own level: the drop at
	// the restart is not a decrease.
	for i := range 30 {
		m := float64(i)
		life, level := 0, 100.0
		if i >= 15 {
			life, level = 1, 20.0
		}
		restarts = append(restarts, soakSample{at: at(m), life: life, value: level + 0.1*m})
		flat = append(flat, soakSample{at: at(m), value: 50 + float64(i%2)})
	}
	for _, c := range []struct {
		name         string
		ss           []soakSample
		slope, maxSE float64
	}{
		{"lifetimes with their own levels", restarts, 6, 1e-6},
		{"flat with noise", flat, 0, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			slope, se, n := withinSlope(c.ss)
			if math.Abs(slope-c.slope) > 0.5 || se > c.maxSE || n != len(c.ss) {
				t.Errorf("slope %.3f ± %.3f over %d; want %.1f (± at most %.1f) over %d", slope, se, n, c.slope, c.maxSE, len(c.ss))
			}
		})
	}
	if s, _, _ := withinSlope([]soakSample{{at: time.Minute, value: 1}}); !math.IsNaN(s) {
		t.Errorf("one sample: slope %v, want NaN", s)
	}
}

func TestScrapeResults(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 10, 0, 0, time.UTC)
	line := func(sec int, msg, extra string) string {
		return `{"time":"` + now.Add(time.Duration(sec-600)*time.Second).Format(time.RFC3339Nano) + `","level":"INFO","msg":"` + msg + `"` + extra + "}\n"
	}
	ok := line(1, "scrape summary", `,"failures":0`) + line(2, "emitting", "")
	failedPages := line(3, "scrape summary", `,"failures":2`) + line(3, "scrape failed; trying again at the next round", "")
	failedKafka := line(4, "scrape summary", `,"failures":0`) + line(4, "scrape failed; trying again at the next round", "")
	for _, c := range []struct {
		name  string
		log   string
		final bool
		want  string // one letter per decided scrape: o (completed), f (failed)
	}{
		{"completed, then a line", ok, false, "o"},
		{"pages failed", failedPages, false, "f"},
		{"Kafka failed after the summary", failedKafka, false, "f"},
		{"in order", ok + failedKafka + ok, false, "ofo"},
		{"last line a summary just written: undecided", line(599, "scrape summary", `,"failures":0`), false, ""},
		{"last line a summary of a dead scraper", line(599, "scrape summary", `,"failures":0`), true, "o"},
		{"last line a summary 3 s old", line(597, "scrape summary", `,"failures":0`), false, "o"},
		{"not JSON", "scrape summary\n", true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got strings.Builder
			for _, r := range scrapeResults([]byte(c.log), c.final, now) {
				got.WriteString(map[bool]string{true: "o", false: "f"}[r.ok])
			}
			if got.String() != c.want {
				t.Errorf("got %q, want %q", got.String(), c.want)
			}
		})
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader(`# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
mhfz_processor_lag_records{partition="0",topic="a"} 3
mhfz_processor_lag_records{partition="1",topic="a {b}"} 4
mhfz_sink_records_total{outcome="stored"} 1.5e+06
`))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"go_goroutines": 42, "mhfz_processor_lag_records": 7, "mhfz_sink_records_total": 1.5e6} {
		if m[name] != want {
			t.Errorf("%s = %v, want %v", name, m[name], want)
		}
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 1.23456: "1.23", 999: "999", 1234.5: "1,234", -2080014: "-2,080,014", math.NaN(): "–"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestSoakReplot draws soak.svg and writes the verdicts (soak-verdicts.md) again from the
// soak.csv and soak.md of a run, in MHFZ_SOAK_REPLOT (a folder): those of a run made before a
// change of the drawing or of the series.
//
//	MHFZ_SOAK_REPLOT=$PWD/bin/soak go test -run TestSoakReplot ./e2e/
func TestSoakReplot(t *testing.T) {
	dir := os.Getenv("MHFZ_SOAK_REPLOT")
	if dir == "" {
		t.Skip("MHFZ_SOAK_REPLOT (the folder of a soak's soak.csv and soak.md) is not set")
	}
	md, err := os.ReadFile(filepath.Join(dir, "soak.md"))
	if err != nil {
		t.Fatal(err)
	}
	r := &soakRun{t: t}
	m := regexp.MustCompile("^Run of (\\S+) .*`scrape --every (\\S+)`.* every (\\S+) \\(seed (\\d+)\\), samples every (\\S+);").
		FindStringSubmatch(string(md))
	if m == nil {
		t.Fatalf("%s/soak.md: no run line", dir)
	}
	for i, d := range []*time.Duration{&r.cfg.duration, &r.cfg.every, &r.cfg.killEvery, nil, &r.cfg.sampleEvery} {
		if d != nil {
			if *d, err = time.ParseDuration(m[i+1]); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, k := range regexp.MustCompile(`([0-9.]+) min (scraper|processor|sink)`).FindAllStringSubmatch(
		regexp.MustCompile(`Kills \(\d+\): [^\n]*`).FindString(string(md)), -1) {
		minutes, _ := strconv.ParseFloat(k[1], 64)
		r.kills = append(r.kills, soakKill{at: time.Duration(minutes * float64(time.Minute)), service: k[2]})
	}
	data, err := os.ReadFile(filepath.Join(dir, "soak.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(line, ",")
		if i == 0 || len(f) != 5 {
			continue
		}
		minutes, err1 := strconv.ParseFloat(f[0], 64)
		life, err2 := strconv.Atoi(f[3])
		v, err3 := strconv.ParseFloat(f[4], 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatalf("soak.csv line %d: %v", i+1, err)
		}
		at := time.Duration(minutes * float64(time.Minute))
		r.samples = append(r.samples, soakSample{at: at, series: f[1], service: f[2], life: life, value: v})
		r.ended = max(r.ended, at)
	}
	replayRun(r)
	verdicts := soakVerdicts(r)
	for name, data := range map[string]string{"soak.svg": soakSVG(r), "soak-verdicts.md": verdictTable(verdicts)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// replayRun rebuilds, from a run's samples, what the verdicts need besides them: the lifetimes
// (each starting at its first sample: the warm-up left out counts from there), the completed
// scrapes (the catch-up samples are at their ends), the sizes of what was added.
func replayRun(r *soakRun) {
	r.start = time.Unix(0, 0)
	var kept []soakSample
	lives := map[string][]soakLife{}
	for _, s := range r.samples {
		if s.series == seriesKafkaAdded || s.series == seriesPGAdded {
			continue
		}
		kept = append(kept, s)
		if s.series == seriesCatchUp {
			r.successes = append(r.successes, r.start.Add(s.at))
		}
		if s.service == "stack" {
			continue
		}
		for len(lives[s.service]) <= s.life {
			lives[s.service] = append(lives[s.service], soakLife{start: -1})
		}
		if l := &lives[s.service][s.life]; l.start < 0 {
			l.start = s.at
		}
	}
	r.samples = append(kept, soakAdded(kept)...)
	for _, name := range []string{"scraper", "processor", "sink"} {
		r.services = append(r.services, &soakService{name: name, lives: lives[name]})
	}
}
