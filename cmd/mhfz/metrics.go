package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mhfz/mhfz-pipeline/browse"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
	"github.com/mhfz/mhfz-pipeline/processors"
	"github.com/mhfz/mhfz-pipeline/scraper"
	"github.com/mhfz/mhfz-pipeline/sink"
)

// serviceMetrics are the metrics each long-running command serves on --http-addr, besides
// Prometheus's go_* and process_* ones: the metrics table of docs/observability.md is generated
// from them, and the tests check them against what the stages register.
func serviceMetrics() map[string][]observe.Def {
	common := observe.ServiceMetrics()
	return map[string][]observe.Def{
		"scrape":    append(slices.Clone(common), scraper.Metrics()...),
		"process":   append(slices.Clone(common), processors.Metrics()...),
		"sink":      append(slices.Clone(common), sink.Metrics()...),
		"reprocess": append(append(slices.Clone(common), processors.Metrics()...), sink.RebuildMetrics()...),
		"serve":     append(slices.Clone(common), browse.Metrics()...),
	}
}

// metricsTable is the metrics table of docs/observability.md: one row per metric, with the
// commands that serve it.
func metricsTable() string {
	served := map[string][]string{}
	defs := map[string]observe.Def{}
	for _, cmd := range []string{"scrape", "process", "sink", "reprocess", "serve"} {
		for _, d := range serviceMetrics()[cmd] {
			served[d.Name] = append(served[d.Name], cmd)
			defs[d.Name] = d
		}
	}
	names := make([]string, 0, len(defs))
	for n := range defs {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("| metric | type | labels | served by | what it says |\n| --- | --- | --- | --- | --- |\n")
	for _, n := range names {
		d := defs[n]
		labels := ""
		if len(d.Labels) > 0 {
			labels = "`" + strings.Join(d.Labels, "`, `") + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", d.Name, d.Type, labels, strings.Join(served[n], ", "),
			strings.ReplaceAll(d.Help, "|", `\|`))
	}
	return b.String()
}
