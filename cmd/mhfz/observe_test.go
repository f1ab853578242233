package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/mhfz/mhfz-pipeline/browse"
	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
	"github.com/mhfz/mhfz-pipeline/processors"
	"github.com/mhfz/mhfz-pipeline/scraper"
	"github.com/mhfz/mhfz-pipeline/sink"
)

// registered are the names of the metrics each command's stages register, wired as the command
// wires them (a sink that never connects, a router never run).
func registered(t *testing.T) map[string][]string {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	newSink := func(rec *recorder, rebuild bool) []string {
		cfg := sink.DefaultConfig()
		cfg.Brokers, cfg.DatabaseURL, cfg.Logger = []string{"127.0.0.1:1"}, "postgres://u@127.0.0.1:1/db", log
		cfg.Registry, cfg.Health, cfg.Rebuild = rec, observe.NewHealth(), rebuild
		_, err := sink.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return rec.Names()
	}
	router := func(rec *recorder) []string {
		cfg := processors.DefaultConfig()
		cfg.Names, cfg.Logger, cfg.Registry, cfg.Health = codecs.Names{Prefix: "unit."}, log, rec, observe.NewHealth()
		if _, err := processors.New(cfg); err != nil {
			t.Fatal(err)
		}
		return rec.Names()
	}
	serveRec := &recorder{next: prometheus.NewRegistry()}
	serveCfg := browse.DefaultConfig()
	serveCfg.DatabaseURL, serveCfg.Logger, serveCfg.Registry, serveCfg.Health = "postgres://u@127.0.0.1:1/db", log, serveRec, observe.NewHealth()
	if _, err := browse.New(serveCfg); err != nil {
		t.Fatal(err)
	}
	scraperRec := &recorder{}
	scraperCfg := scraper.DefaultConfig()
	scraperCfg.Brokers, scraperCfg.Logger, scraperCfg.Registry = []string{"127.0.0.1:1"}, log, scraperRec
	if _, err := scraper.New(scraperCfg); err != nil {
		t.Fatal(err)
	}
	common := []string{}
	for _, d := range observe.ServiceMetrics() {
		common = append(common, d.Name)
	}
	// mhfz reprocess registers its router and its sink on one registry: their names must not clash.
	reprocess := &recorder{next: prometheus.NewRegistry()}
	router(reprocess)
	return map[string][]string{
		"scrape":    append(slices.Clone(common), scraperRec.Names()...),
		"process":   append(slices.Clone(common), router(&recorder{next: prometheus.NewRegistry()})...),
		"sink":      append(slices.Clone(common), newSink(&recorder{next: prometheus.NewRegistry()}, false)...),
		"reprocess": append(slices.Clone(common), newSink(reprocess, true)...),
		"serve":     append(slices.Clone(common), serveRec.Names()...),
	}
}

// The Defs the metrics table of docs/observability.md is made of are exactly what the stages register.
func TestStagesRegisterTheirDefinedMetrics(t *testing.T) {
	got := registered(t)
	for cmd, defs := range serviceMetrics() {
		var want []string
		for _, d := range defs {
			want = append(want, d.Name)
		}
		slices.Sort(want)
		have := slices.Clone(got[cmd])
		slices.Sort(have)
		if !slices.Equal(slices.Compact(have), slices.Compact(want)) {
			t.Errorf("mhfz %s registers %v,\nits Defs say %v", cmd, have, want)
		}
	}
}

// Every metric follows Prometheus's naming: mhfz_ prefix, _total counters, units in the name.
func TestMetricNamesFollowTheConventions(t *testing.T) {
	unit := regexp.MustCompile(`_(total|seconds|records|bytes_total|up|info|timestamp_seconds|assigned|recovered|success|healthy|ready|waiting)$`)
	for cmd, defs := range serviceMetrics() {
		for _, d := range defs {
			switch {
			case !strings.HasPrefix(d.Name, "mhfz_"):
				t.Errorf("%s: %s has no mhfz_ prefix", cmd, d.Name)
			case (d.Type == observe.Counter) != strings.HasSuffix(d.Name, "_total"):
				t.Errorf("%s: %s is a %s: only counters end in _total", cmd, d.Name, d.Type)
			case !unit.MatchString(d.Name):
				t.Errorf("%s: %s names no unit", cmd, d.Name)
			case d.Help == "":
				t.Errorf("%s: %s has no help", cmd, d.Name)
			}
		}
	}
}

const (
	tableStart = "<!-- metrics table: generated from the code by cmd/mhfz TestDocMetricsTable; MHFZ_UPDATE_DOCS=1 rewrites it -->\n"
	tableEnd   = "<!-- end of the metrics table -->"
)

// metricsPage is the page of docs/ that holds the metrics table.
const metricsPage = "../../docs/observability.md"

// The metrics table of docs/observability.md is generated from the Defs; MHFZ_UPDATE_DOCS=1
// writes it again.
func TestDocMetricsTable(t *testing.T) {
	data, err := os.ReadFile(metricsPage)
	if err != nil {
		t.Fatal(err)
	}
	page := string(data)
	start, end := strings.Index(page, tableStart), strings.Index(page, tableEnd)
	if start < 0 || end < start {
		t.Fatalf("%s has no metrics table between %q and %q", metricsPage, tableStart, tableEnd)
	}
	want := metricsTable()
	if got := page[start+len(tableStart) : end]; got != want {
		if os.Getenv("MHFZ_UPDATE_DOCS") == "1" {
			page = page[:start+len(tableStart)] + want + page[end:]
			if err := os.WriteFile(metricsPage, []byte(page), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("the metrics table of %s is not the one of the code: run MHFZ_UPDATE_DOCS=1 go test -run TestDocMetricsTable ./cmd/mhfz\ngot:\n%s\nwant:\n%s", metricsPage, got, want)
	}
}

// promQL is one expression of the dashboard or the rules, and where it is.
type promQL struct{ where, expr string }

func alertExprs(t *testing.T) []promQL {
	t.Helper()
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert, Record, Expr string
				For                 string
			}
		}
	}
	readYAML(t, "../../deploy/prometheus/alerts.yml", &rules)
	var out []promQL
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out = append(out, promQL{"alert " + r.Alert + r.Record, r.Expr})
		}
	}
	if len(out) == 0 {
		t.Fatal("alerts.yml has no rule")
	}
	return out
}

type dashboard struct {
	UID    string
	Panels []struct {
		ID         int
		Type       string
		Title      string
		Datasource struct{ Type, UID string }
		GridPos    struct{ H, W, X, Y int }
		Targets    []struct {
			Expr       string
			Datasource struct{ Type, UID string }
		}
	}
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile("../../deploy/grafana/dashboards/mhfz.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("mhfz.json: %v", err)
	}
	return d
}

// grafanaMacros stand for Grafana's variables, so that Prometheus's parser reads the query.
var grafanaMacros = strings.NewReplacer("$__rate_interval", "1m", "$__interval", "15s", "$__range", "6h")

func dashboardExprs(t *testing.T) []promQL {
	var out []promQL
	for _, p := range readDashboard(t).Panels {
		for _, tg := range p.Targets {
			out = append(out, promQL{"panel " + p.Title, grafanaMacros.Replace(tg.Expr)})
		}
	}
	return out
}

// known are the metric names a query may use: what the services register (histograms with their
// series), the Go and process metrics of every service, and Prometheus's own up.
func known(t *testing.T) map[string]bool {
	names := map[string]bool{"up": true}
	for _, defs := range serviceMetrics() {
		for _, d := range defs {
			names[d.Name] = true
			if d.Type == observe.Histogram {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[d.Name+s] = true
				}
			}
		}
	}
	svc, err := observe.NewService("test", "test")
	if err != nil {
		t.Fatal(err)
	}
	families, err := svc.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		names[f.GetName()] = true
	}
	if !names["process_start_time_seconds"] {
		t.Fatal("the services do not register process_start_time_seconds, which MhfzScrapeLate uses")
	}
	return names
}

// Every PromQL expression of the dashboard and of the alert rules parses, and names only metrics
// the services register.
func TestDashboardAndAlertsQueryRegisteredMetrics(t *testing.T) {
	names := known(t)
	p := parser.NewParser(parser.Options{})
	used := map[string]bool{}
	for _, q := range append(alertExprs(t), dashboardExprs(t)...) {
		expr, err := p.ParseExpr(q.expr)
		if err != nil {
			t.Errorf("%s: %q does not parse: %v", q.where, q.expr, err)
			continue
		}
		n := 0
		parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
			if vs, ok := node.(*parser.VectorSelector); ok {
				n++
				used[vs.Name] = true
				if !names[vs.Name] {
					t.Errorf("%s: %q uses %s, which no service registers", q.where, q.expr, vs.Name)
				}
			}
			return nil
		})
		if n == 0 {
			t.Errorf("%s: %q reads no metric", q.where, q.expr)
		}
	}
	// What the dashboard must show at a glance, by the metric that says it.
	for _, m := range []string{"mhfz_sink_records_total", "mhfz_processor_records_read_total", "mhfz_processor_lag_records",
		"mhfz_sink_lag_records", "mhfz_processor_dead_letters_total", "mhfz_processor_quality_findings_total",
		"mhfz_scraper_pages_total", "mhfz_scraper_last_success_timestamp_seconds",
		"mhfz_sink_newest_row_scraped_timestamp_seconds", "mhfz_end_to_end_latency_seconds_bucket", "mhfz_sink_database_up"} {
		if !used[m] {
			t.Errorf("neither the dashboard nor the rules use %s", m)
		}
	}
}

// The alert rules the issue asks for are there.
func TestAlertRules(t *testing.T) {
	exprs := map[string]string{}
	for _, q := range alertExprs(t) {
		exprs[strings.TrimPrefix(q.where, "alert ")] = q.expr
	}
	for alert, mustUse := range map[string]string{
		"MhfzServiceDown":               "up{",
		"MhfzScrapeFailed":              "mhfz_scraper_last_scrape_success",
		"MhfzScrapeLate":                "2 * (mhfz_scraper_period_seconds",
		"MhfzProcessorLagNotDecreasing": "[15m",
		"MhfzSinkLagNotDecreasing":      "[15m",
		"MhfzDeadLettersIncreasing":     "increase(mhfz_processor_dead_letters_total",
		"MhfzSinkDeadLettersIncreasing": "dead_lettered",
	} {
		if !strings.Contains(exprs[alert], mustUse) {
			t.Errorf("alert %s: %q, want it to use %q", alert, exprs[alert], mustUse)
		}
	}
}

// promtool, Prometheus's own checker, accepts the configuration and the rules.
func TestPromtoolChecks(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is missing (scripts/testenv installs Debian's prometheus package)")
		}
		t.Skip("promtool is missing: apt-get install prometheus (scripts/testenv does)")
	}
	for _, args := range [][]string{
		{"check", "config", "../../deploy/prometheus/prometheus.yml"},
		{"check", "rules", "../../deploy/prometheus/alerts.yml"},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// mounts returns a compose service's bind mounts of the repository, host folder -> container path.
func mounts(svc composeService) map[string]string {
	out := map[string]string{}
	for _, v := range svc.Volumes {
		parts := strings.Split(v, ":")
		if strings.HasPrefix(parts[0], "./") {
			out[strings.TrimPrefix(parts[0], "./")] = parts[1]
		}
	}
	return out
}

// Prometheus scrapes every service where it serves, the healthchecks probe the same port, and
// Prometheus and Grafana are published on loopback only.
func TestComposeObservability(t *testing.T) {
	c := readCompose(t)
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName      string `yaml:"job_name"`
			DNSSDConfigs []struct {
				Names []string
				Type  string
				Port  int
			} `yaml:"dns_sd_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "../../deploy/prometheus/prometheus.yml", &prom)
	// Every replica of a service is a target of its own: found by the service's name (an A record
	// per container), not reached through it one at a time.
	targets := map[string][]string{}
	for _, sc := range prom.ScrapeConfigs {
		for _, d := range sc.DNSSDConfigs {
			for _, n := range d.Names {
				targets[sc.JobName] = append(targets[sc.JobName], fmt.Sprintf("%s %s:%d", d.Type, n, d.Port))
			}
		}
	}
	for _, name := range []string{"scraper", "processor", "sink", "serve"} {
		svc := c.Services[name]
		_, port, err := net.SplitHostPort(svc.Environment["MHFZ_HTTP_ADDR"])
		if err != nil {
			t.Errorf("%s: MHFZ_HTTP_ADDR %q: %v", name, svc.Environment["MHFZ_HTTP_ADDR"], err)
			continue
		}
		if want := []string{"A " + name + ":" + port}; !slices.Equal(targets[name], want) {
			t.Errorf("Prometheus's job %s scrapes %v, want %v", name, targets[name], want)
		}
		test, _ := svc.Healthcheck["test"].([]any)
		want := []any{"CMD", "/usr/local/bin/mhfz", "health", "--url", "http://localhost:" + port + "/readyz"}
		if !slices.Equal(test, want) {
			t.Errorf("%s: healthcheck %v, want %v", name, test, want)
		}
	}
	if !slices.Equal(prom.RuleFiles, []string{"alerts.yml"}) {
		t.Errorf("rule_files %v, want [alerts.yml] beside prometheus.yml", prom.RuleFiles)
	}
	if got := mounts(c.Services["prometheus"])["deploy/prometheus"]; got != "/etc/prometheus" {
		t.Errorf("prometheus mounts deploy/prometheus at %q, want /etc/prometheus", got)
	}
	for name, svc := range c.Services {
		for _, p := range svc.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %s beyond loopback", name, p)
			}
		}
	}
	for name, want := range map[string]string{"prometheus": "127.0.0.1:9090:9090", "grafana": "127.0.0.1:3000:3000"} {
		if !slices.Equal(c.Services[name].Ports, []string{want}) {
			t.Errorf("%s publishes %v, want %s", name, c.Services[name].Ports, want)
		}
		if img := c.Services[name].Image; !strings.HasPrefix(img, map[string]string{"prometheus": "prom/prometheus:", "grafana": "grafana/grafana:"}[name]) {
			t.Errorf("%s: image %q is not the official one", name, img)
		}
	}
}

// Grafana has no stand-in to start here: its provisioning is checked file by file.
func TestGrafanaProvisioning(t *testing.T) {
	c := readCompose(t)
	g := c.Services["grafana"]
	m := mounts(g)
	if m["deploy/grafana/provisioning"] != "/etc/grafana/provisioning" {
		t.Errorf("grafana mounts deploy/grafana/provisioning at %q, want /etc/grafana/provisioning", m["deploy/grafana/provisioning"])
	}
	// From .env, required: no default password (TestComposeVariablesHaveDefaultsOrExamples).
	if !strings.HasPrefix(g.Environment["GF_SECURITY_ADMIN_PASSWORD"], "${GRAFANA_ADMIN_PASSWORD:?") {
		t.Errorf("GF_SECURITY_ADMIN_PASSWORD %q: want it from .env's GRAFANA_ADMIN_PASSWORD, required", g.Environment["GF_SECURITY_ADMIN_PASSWORD"])
	}
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, Access, URL string
			IsDefault                    bool `yaml:"isDefault"`
		}
	}
	readYAML(t, "../../deploy/grafana/provisioning/datasources/prometheus.yml", &ds)
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 {
		t.Fatalf("datasources: apiVersion %d, %d data sources; want 1 and one", ds.APIVersion, len(ds.Datasources))
	}
	src := ds.Datasources[0]
	if src.Type != "prometheus" || src.URL != "http://prometheus:9090" || src.Access != "proxy" || src.UID == "" || !src.IsDefault {
		t.Errorf("data source %+v: want the compose stack's prometheus (http://prometheus:9090), proxied, default, with a uid", src)
	}
	if _, ok := c.Services["prometheus"]; !ok {
		t.Error("the data source's prometheus is not a compose service")
	}
	var prov struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Type string
			Options    struct{ Path string }
		}
	}
	readYAML(t, "../../deploy/grafana/provisioning/dashboards/mhfz.yml", &prov)
	if prov.APIVersion != 1 || len(prov.Providers) != 1 || prov.Providers[0].Type != "file" {
		t.Fatalf("dashboard providers %+v: want one file provider", prov)
	}
	if path := prov.Providers[0].Options.Path; path != m["deploy/grafana/dashboards"] || path == "" {
		t.Errorf("the provider reads %q, but compose mounts deploy/grafana/dashboards at %q", path, m["deploy/grafana/dashboards"])
	}
	d := readDashboard(t)
	if d.UID == "" || len(d.Panels) == 0 {
		t.Fatal("mhfz.json: no uid or no panel")
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
			t.Errorf("panel %q: grid position %+v outside Grafana's 24 columns", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource.UID != src.UID || len(p.Targets) == 0 {
			t.Errorf("panel %q: data source %q, %d queries; want %q and at least one", p.Title, p.Datasource.UID, len(p.Targets), src.UID)
		}
		for _, tg := range p.Targets {
			if tg.Datasource.UID != src.UID || tg.Expr == "" {
				t.Errorf("panel %q: a query of data source %q with expression %q", p.Title, tg.Datasource.UID, tg.Expr)
			}
		}
	}
}
