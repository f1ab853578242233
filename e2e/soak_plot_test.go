package e2e

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// soakSVG draws the series as small multiples, one panel per series, one line per service and
// lifetime (a kill breaks the line), the kills as vertical lines, the fitted window shaded. A
// plain SVG (no script, no font of its own) renders in browsers and on GitHub.
func soakSVG(r *soakRun) string {
	const cols, pw, ph, ml, mt, gap = 2, 520, 210, 60, 50, 30
	var panels []string
	for _, s := range soakSeriesOrder {
		for _, smp := range r.samples {
			if smp.series == s {
				panels = append(panels, s)
				break
			}
		}
	}
	rows := (len(panels) + cols - 1) / cols
	width, height := cols*(pw+ml+gap)+gap, mt+rows*(ph+gap+30)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14">mhfz soak: %s, scrape --every %s, a kill every %s (red dashed lines: kills, lettered by service); shaded: the fitted window</text>`+"\n",
		gap, r.cfg.duration, r.cfg.every, r.cfg.killEvery)
	x := gap
	for _, name := range []string{"scraper", "processor", "sink", "stack"} {
		fmt.Fprintf(&b, `<rect x="%d" y="30" width="12" height="4" fill="%s"/><text x="%d" y="36">%s</text>`+"\n", x, soakColors[name], x+16, name)
		x += 90
	}
	end := math.Max(r.ended.Minutes(), r.cfg.duration.Minutes())
	for i, s := range panels {
		px, py := gap+ml+(i%cols)*(pw+ml+gap), mt+(i/cols)*(ph+gap+30)+20
		soakPanel(&b, r, s, px, py, pw, ph, end)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// sparse are the series with a point per period or per period's worth of records, not per sample.
var sparse = map[string]bool{seriesCatchUp: true, seriesKafkaAdded: true, seriesPGAdded: true}

var soakColors = map[string]string{"scraper": "#1f77b4", "processor": "#ff7f0e", "sink": "#2ca02c", "stack": "#555555"}

func soakPanel(b *strings.Builder, r *soakRun, series string, px, py, pw, ph int, end float64) {
	samples := plotted(r.samples, series)
	lo, hi := 0.0, 0.0
	for _, s := range samples {
		lo, hi = math.Min(lo, s.value), math.Max(hi, s.value)
	}
	if hi == lo {
		hi = lo + 1
	}
	hi *= 1.05
	sx := func(m float64) float64 { return float64(px) + m/end*float64(pw) }
	sy := func(v float64) float64 { return float64(py+ph) - (v-lo)/(hi-lo)*float64(ph) }
	from := r.cfg.duration.Minutes() / 3
	fmt.Fprintf(b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#f2f2f2"/>`+"\n", sx(from), py, sx(end)-sx(from), ph)
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", px, py, pw, ph)
	unit := soakThresholds[series].unit
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="12" font-weight="bold">%s (%s)</text>`+"\n", px, py-6, html.EscapeString(series), html.EscapeString(unit))
	for _, v := range []float64{lo, (lo + hi) / 2, hi} {
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", px-4, sy(v)+4, num(v))
	}
	step := niceStep(end)
	for m := 0.0; m <= end+1e-9; m += step {
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", sx(m), py+ph+14, strings.TrimSuffix(fmt.Sprintf("%g", m), ".0"))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">minutes</text>`+"\n", px+pw, py+ph+26)
	for _, k := range r.kills {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#d62728" stroke-dasharray="3,3"/><text x="%.1f" y="%d" fill="#d62728" font-size="9">%s</text>`+"\n",
			sx(k.at.Minutes()), py, sx(k.at.Minutes()), py+ph, sx(k.at.Minutes())+2, py+10, k.service[:1])
	}
	type line struct {
		service   string
		life, gap int
	}
	lines := map[line][]string{}
	var order []line
	prev := map[line]time.Duration{}
	gaps := map[line]int{} // a gap in the samples (a stalled round, a service restarting) breaks the line
	for _, s := range samples {
		base := line{service: s.service, life: s.life}
		if at, ok := prev[base]; ok && !sparse[series] && s.at-at > 5*r.cfg.sampleEvery/2 {
			gaps[base]++
		}
		prev[base] = s.at
		k := base
		k.gap = gaps[base]
		if _, ok := lines[k]; !ok {
			order = append(order, k)
		}
		lines[k] = append(lines[k], fmt.Sprintf("%.1f,%.1f", sx(s.at.Minutes()), sy(s.value)))
	}
	for _, k := range order {
		pts := lines[k]
		if len(pts) == 1 {
			var cx, cy float64
			fmt.Sscanf(pts[0], "%f,%f", &cx, &cy)
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="2" fill="%s"/>`+"\n", cx, cy, soakColors[k.service])
			continue
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", soakColors[k.service], strings.Join(pts, " "))
	}
}

// niceStep is a tick interval giving 4 to 10 ticks over 0..end minutes.
func niceStep(end float64) float64 {
	for _, s := range []float64{0.5, 1, 2, 5, 10, 15, 30, 60} {
		if end/s <= 10 {
			return s
		}
	}
	return 120
}

// plotted are the samples of a series to draw: the sizes per record and per row only once the
// records or rows are perFrom or more (runs before that rule recorded them from the first rows).
func plotted(all []soakSample, series string) []soakSample {
	denominator := map[string]string{seriesKafkaPer: seriesKafkaRecs, seriesPGPer: seriesPGRows}[series]
	enough := map[time.Duration]bool{}
	for _, s := range all {
		if s.series == denominator && s.value >= perFrom {
			enough[s.at] = true
		}
	}
	var out []soakSample
	for _, s := range all {
		if s.series == series && (denominator == "" || enough[s.at]) {
			out = append(out, s)
		}
	}
	return out
}
