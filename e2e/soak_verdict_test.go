package e2e

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// soakThreshold is the largest slope per hour a series may have over the last two thirds of
// the run. relative: the threshold is that fraction of the series' mean in the window (for the
// sizes per record or row, whose level depends on the data). A zero threshold: the series grows
// by design (every version is kept), reported without a verdict, and judged per record or row.
type soakThreshold struct {
	perHour  float64
	relative bool
	unit     string
	why      string
}

var soakThresholds = map[string]soakThreshold{
	seriesRSS:        {5, false, "MB", "5 MB/h is 3.6 GB a month"},
	seriesGoroutines: {5, false, "goroutines", "a goroutine per restart of a loop or per connection lost would show"},
	seriesFDs:        {5, false, "files", "a socket or file never closed per period would show"},
	seriesPGConns:    {1, false, "connections", "the pool's size is fixed"},
	seriesTable:      {10, false, "MB", "keys are bounded (224,253) and each keeps at most 8 recent versions"},
	seriesKafkaPer:   {unit: "bytes/record"},
	seriesPGPer:      {unit: "bytes/row"},
	seriesKafkaAdded: {0.05, true, "bytes/record", "5% of its level per hour: records growing, or a topic growing faster than its records"},
	seriesPGAdded:    {0.05, true, "bytes/row", "5% of its level per hour: bloat (dead tuples of weapon_latest, kafka_offsets) not reclaimed"},
	seriesCatchUp:    {30, false, "s", "a backlog carried from period to period would show"},
	seriesLag:        {unit: "records"},
	seriesKafkaMB:    {unit: "MB"},
	seriesKafkaRecs:  {unit: "records"},
	seriesPGMB:       {unit: "MB"},
	seriesPGRows:     {unit: "rows"},
}

type soakVerdict struct {
	series, service, unit string
	first, last           float64
	slope, se             float64 // per hour, over the fit's samples
	threshold             float64 // per hour; 0: none (grows by design)
	n                     int     // samples fitted
	judged                bool    // a threshold, and samples enough for a slope
	pass                  bool    // at or below the threshold
	fail                  bool    // above it by more than twice the standard error: a leak
}

// verdict is the verdict's word: pass; FAIL (above the threshold, beyond the noise); over, not
// significant (above the threshold within twice the standard error: the run cannot tell).
func (v soakVerdict) verdict() string {
	switch {
	case !v.judged && v.threshold > 0:
		return "too few samples"
	case !v.judged:
		return "n/a"
	case v.pass:
		return "**pass**"
	case v.fail:
		return "**FAIL**"
	}
	return "over, within noise (2 s.e.)"
}

// soakVerdicts fits every series. The window is the last two thirds of the run. A kill resets
// a process's series (a new process starts from nothing), so the fit is one slope shared by
// every lifetime, each with its own intercept (least squares within lifetimes: a restart's
// drop is not read as a decrease, nor its climb back as a leak), and each lifetime's first
// period (warm-up: the heap grows to its working size with the first scrape it handles) is
// left out. The group table's series start later (see tableFrom).
func soakVerdicts(r *soakRun) []soakVerdict {
	from := r.cfg.duration / 3
	warmup := r.cfg.every + r.cfg.sampleEvery
	type id struct{ series, service string }
	groups := map[id][]soakSample{}
	var ids []id
	for _, s := range r.samples {
		k := id{s.series, s.service}
		if _, ok := groups[k]; !ok {
			ids = append(ids, k)
		}
		groups[k] = append(groups[k], s)
	}
	// The group table grows by design until every changing key keeps its last 8 versions
	// (processors' recentVersions): its size, the processor's open files (LevelDB's table
	// files) and the size of the records added to Kafka (the table's topic holds the states)
	// are fitted from the scrape after the 8th on.
	tableFrom := from
	if len(r.successes) > tableVersions {
		tableFrom = max(from, r.successes[tableVersions].Sub(r.start))
	}
	var out []soakVerdict
	for _, k := range ids {
		ss := groups[k]
		th := soakThresholds[k.series]
		v := soakVerdict{series: k.series, service: k.service, unit: th.unit, first: ss[0].value, last: ss[len(ss)-1].value}
		start := from
		if k.series == seriesTable || k.series == seriesKafkaAdded || (k.series == seriesFDs && k.service == "processor") {
			start = tableFrom
		}
		var fit []soakSample
		for _, s := range ss {
			if s.at >= start && (s.service == "stack" || s.at-r.lifeStart(s.service, s.life) >= warmup) {
				fit = append(fit, s)
			}
		}
		v.slope, v.se, v.n = withinSlope(fit)
		v.threshold = th.perHour
		if th.relative {
			v.threshold *= meanOf(fit)
		}
		v.judged = v.threshold > 0 && !math.IsNaN(v.slope)
		v.pass = !v.judged || v.slope <= v.threshold
		v.fail = v.judged && v.slope-2*v.se > v.threshold
		out = append(out, v)
	}
	sort.SliceStable(out, func(i, j int) bool { return seriesOrder(out[i].series) < seriesOrder(out[j].series) })
	return out
}

// tableVersions is processors' recentVersions: the versions of a key its group table state keeps.
const tableVersions = 8

// soakAdded derives the size per record (per row) of what was added: the growth of the
// deployment's topics over the growth of their records, of PostgreSQL's database over its live
// rows, from one point to the next once a period's worth (addedStep) was added. The sizes over
// all the records are a running mean: they climb for hours towards the size of the new ones
// when those grow once (the group table's states, until they hold 8 versions), leak or not.
func soakAdded(all []soakSample) []soakSample {
	var out []soakSample
	for _, d := range []struct{ series, size, count string }{
		{seriesKafkaAdded, seriesKafkaMB, seriesKafkaRecs}, {seriesPGAdded, seriesPGMB, seriesPGRows},
	} {
		size, count := map[time.Duration]float64{}, map[time.Duration]float64{}
		var times []time.Duration
		for _, s := range all {
			switch s.series {
			case d.size:
				size[s.at] = s.value
			case d.count:
				count[s.at] = s.value
				times = append(times, s.at)
			}
		}
		anchor := time.Duration(-1)
		for _, at := range times {
			if _, ok := size[at]; !ok {
				continue
			}
			if anchor >= 0 && count[at]-count[anchor] >= addedStep {
				out = append(out, soakSample{at: at, series: d.series, service: "stack",
					value: (size[at] - size[anchor]) * 1e6 / (count[at] - count[anchor])})
			}
			if anchor < 0 || count[at]-count[anchor] >= addedStep {
				anchor = at
			}
		}
	}
	return out
}

// addedStep is the records (rows) a point of the sizes of what was added needs: about half of
// what a period adds (140,874 raw records and 78,298 rows), so that one point is not a few
// records, whose batch or page overheads would be the figure.
const addedStep = 50000

func (r *soakRun) lifeStart(service string, life int) time.Duration {
	for _, svc := range r.services {
		if svc.name == service && life < len(svc.lives) {
			return svc.lives[life].start
		}
	}
	return 0
}

// withinSlope is the least-squares slope per hour shared by the lifetimes of the samples
// (each lifetime its own intercept), its standard error, and the samples used.
func withinSlope(ss []soakSample) (slope, se float64, n int) {
	byLife := map[int][]soakSample{}
	for _, s := range ss {
		byLife[s.life] = append(byLife[s.life], s)
	}
	var sxx, sxy float64
	groups := 0
	type point struct{ x, y float64 }
	var centered []point
	for _, g := range byLife {
		if len(g) < 2 {
			continue
		}
		groups++
		var mx, my float64
		for _, s := range g {
			mx += s.at.Hours()
			my += s.value
		}
		mx, my = mx/float64(len(g)), my/float64(len(g))
		for _, s := range g {
			x, y := s.at.Hours()-mx, s.value-my
			sxx += x * x
			sxy += x * y
			centered = append(centered, point{x, y})
		}
	}
	n = len(centered)
	if sxx == 0 {
		return math.NaN(), math.NaN(), n
	}
	slope = sxy / sxx
	var ssr float64
	for _, p := range centered {
		e := p.y - slope*p.x
		ssr += e * e
	}
	if dof := n - groups - 1; dof > 0 {
		se = math.Sqrt(ssr / float64(dof) / sxx)
	}
	return slope, se, n
}

func meanOf(ss []soakSample) float64 {
	if len(ss) == 0 {
		return 0
	}
	var m float64
	for _, s := range ss {
		m += s.value
	}
	return m / float64(len(ss))
}

var soakSeriesOrder = []string{seriesRSS, seriesGoroutines, seriesFDs, seriesPGConns, seriesLag, seriesCatchUp,
	seriesTable, seriesKafkaMB, seriesKafkaRecs, seriesKafkaPer, seriesKafkaAdded, seriesPGMB, seriesPGRows, seriesPGPer,
	seriesPGAdded}

func seriesOrder(s string) int { return slices.Index(soakSeriesOrder, s) }

// report writes soak.md (the figures, verdicts and checks, in Markdown), soak.csv (every
// sample) and soak.svg (the plot) in the output folder, and logs the Markdown.
func (r *soakRun) report(verdicts []soakVerdict, checks []soakCheck) {
	var b strings.Builder
	c := r.cfg
	fmt.Fprintf(&b, "Run of %s (%s, GOMAXPROCS %d, load average %s at the end): `scrape --every %s` over a mirror alternating "+
		"the two snapshots, a SIGKILL of a random service every %s (seed %d), samples every %s; caught up %s after the start.\n\n",
		c.duration, time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOMAXPROCS(0), loadAverage(), c.every,
		c.killEvery, c.seed, c.sampleEvery, fmtMinutes(r.ended))
	var kills []string
	for _, k := range r.kills {
		kills = append(kills, fmt.Sprintf("%s %s", fmtMinutes(k.at), k.service))
	}
	fmt.Fprintf(&b, "Kills (%d): %s.\n\n", len(r.kills), strings.Join(kills, ", "))
	if len(r.crashes) > 0 {
		fmt.Fprintf(&b, "Services that exited by themselves: %s.\n\n", strings.Join(r.crashes, "; "))
	}
	b.WriteString(verdictTable(verdicts))
	b.WriteString("\nTables at the end:\n\n")
	for _, ch := range checks {
		fmt.Fprintf(&b, "- %s: %s\n", map[bool]string{true: "ok", false: "**FAILED**"}[ch.ok], ch.what)
	}
	b.WriteString(r.catchUpLine())
	r.t.Logf("soak figures:\n%s", b.String())
	for name, data := range map[string]string{"soak.md": b.String(), "soak.csv": r.csv(), "soak.svg": soakSVG(r)} {
		if err := os.WriteFile(filepath.Join(c.out, name), []byte(data), 0o644); err != nil {
			r.t.Error(err)
		}
	}
}

func verdictTable(verdicts []soakVerdict) string {
	var b strings.Builder
	b.WriteString("| series | service | first | last | slope /h (± s.e.) | threshold /h | samples fitted | verdict |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, v := range verdicts {
		th := "none: grows by design"
		switch {
		case soakThresholds[v.series].perHour > 0:
			th = fmt.Sprintf("%s %s", num(v.threshold), v.unit)
		case v.series == seriesLag:
			th = "none: spikes at each scrape (see catch_up_s)"
		case v.series == seriesKafkaPer || v.series == seriesPGPer:
			th = "none: a running mean (see …_added)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s (± %s) | %s | %d | %s |\n", v.series, v.service, num(v.first), num(v.last),
			num(v.slope), num(v.se), th, v.n, v.verdict())
	}
	return b.String()
}

func (r *soakRun) catchUpLine() string {
	var took []float64
	over, overrun := 0, 0
	for _, c := range r.catchUps {
		if c.took < 0 {
			overrun++
		}
		if c.took > 0 {
			took = append(took, c.took.Seconds())
			if c.took > r.cfg.every {
				over++
			}
		}
	}
	if len(took) == 0 {
		return ""
	}
	sort.Float64s(took)
	return fmt.Sprintf("\nCatch-up after each completed scrape (its end to its last row stored), %d scrapes: median %.1f s, "+
		"max %.1f s; %d took longer than the period (the next scrape began before); %d had not caught up when the next scrape ended.\n",
		len(took), took[len(took)/2], took[len(took)-1], over, overrun)
}

func (r *soakRun) csv() string {
	var b strings.Builder
	b.WriteString("minutes,series,service,life,value\n")
	for _, s := range r.samples {
		fmt.Fprintf(&b, "%.3f,%s,%s,%d,%g\n", s.at.Minutes(), s.series, s.service, s.life, s.value)
	}
	return b.String()
}

// num formats a figure with 3 significant digits, thousands grouped.
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v == 0:
		return "0"
	case math.Abs(v) >= 1000:
		s := fmt.Sprintf("%.0f", v)
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		for i := len(s) - 3; i > 0; i -= 3 {
			s = s[:i] + "," + s[i:]
		}
		if neg {
			s = "-" + s
		}
		return s
	}
	return fmt.Sprintf("%.3g", v)
}
