package browse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mhfz/mhfz-pipeline/internal/observe"
)

// The server's metrics. The route is the pattern of the mux that matched, never the path asked
// for: a label value per weapon would make a series per weapon.
var (
	metricRequests = observe.Def{Name: "mhfz_serve_requests_total", Type: observe.Counter, Labels: []string{"route", "code"},
		Help: "Requests the web page and the API answered, by route (the mux pattern that matched, such as " +
			"GET /api/weapons/{type}/{kind}/{row}; none when no pattern matched: a redirect, a method not allowed) and HTTP status code."}
	metricDuration = observe.Def{Name: "mhfz_serve_request_duration_seconds", Type: observe.Histogram, Labels: []string{"route"},
		Help:    "Time to answer a request, by route, until its last byte is written (an export's streaming included).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}}
	metricExportRows = observe.Def{Name: "mhfz_serve_export_rows_total", Type: observe.Counter, Labels: []string{"format"},
		Help: "Rows streamed by the exports, by format (csv, jsonl)."}
	metricAnswerCache = observe.Def{Name: "mhfz_serve_answer_cache_total", Type: observe.Counter, Labels: []string{"result"},
		Help: "Answers of the in-memory answer cache (the weapon, suggest and game id routes), by result: hit (kept), " +
			"miss (made), shared (made once for identical requests at once), evicted (dropped for room or for a new data version)."}
	metricDatabaseUp = observe.Def{Name: "mhfz_serve_database_up", Type: observe.Gauge,
		Help: "1 while PostgreSQL answers the server (checked every few seconds), else 0."}
)

// Metrics are the metrics a Server registers.
func Metrics() []observe.Def {
	return []observe.Def{metricRequests, metricDuration, metricExportRows, metricAnswerCache, metricDatabaseUp}
}

// unmatched is the route of a request no pattern matched (a redirect, a method not allowed).
const unmatched = "none"

// observation is what the server shows of itself. The collectors exist whether or not they are
// registered, so that the handlers need not ask.
type observation struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	exportRows *prometheus.CounterVec
	answers    *prometheus.CounterVec
	watch      *observe.Watchdog // nil without a Health: watches nothing
	database   *observe.Probe
}

// observe builds the server's metrics and registers them and its health checks (either may be
// nil): alive while no request has run for longer than StallTimeout, ready while it serves and
// PostgreSQL answers the probe.
func (s *Server) observe() error {
	o := &s.obs
	o.requests, o.duration = metricRequests.NewCounterVec(), metricDuration.NewHistogramVec()
	o.exportRows = metricExportRows.NewCounterVec()
	for _, format := range []string{"csv", "jsonl"} {
		o.exportRows.WithLabelValues(format) // a series from the start, for rate()
	}
	o.answers = metricAnswerCache.NewCounterVec()
	for _, result := range []string{"hit", "miss", "shared", "evicted"} {
		o.answers.WithLabelValues(result)
	}
	o.database = observe.NewProbe("PostgreSQL", 3*s.cfg.ProbeEvery)
	if s.cfg.Health != nil {
		w, err := observe.NewWatchdog(s.cfg.StallTimeout)
		if err != nil {
			return fmt.Errorf("browse: %w", err)
		}
		o.watch = w
		s.cfg.Health.Live("serve requests", w.Check)
		s.cfg.Health.Ready("serve database", o.database.Check)
		s.cfg.Health.Ready("serve listening", s.checkServing)
	}
	if s.cfg.Registry == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{o.requests, o.duration, o.exportRows, o.answers, observe.Collector{
		Defs: []observe.Def{metricDatabaseUp},
		Read: func(emit func(observe.Def, float64, ...string)) { emit(metricDatabaseUp, o.database.Up()) },
	}} {
		if err := s.cfg.Registry.Register(c); err != nil {
			return fmt.Errorf("browse: register metrics: %w", err)
		}
	}
	return nil
}

// countAnswer counts an answer of the answer cache.
func (o *observation) countAnswer(result string) { o.answers.WithLabelValues(result).Inc() }

// answered counts a request once it is answered, under the pattern that matched it (set on r
// by the mux).
func (s *Server) answered(r *http.Request, status int, took time.Duration) {
	route := r.Pattern
	if route == "" {
		route = unmatched
	}
	s.obs.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	s.obs.duration.WithLabelValues(route).Observe(took.Seconds())
}

// monitor pings PostgreSQL every ProbeEvery until ctx ends: the answers are the readiness check
// and mhfz_serve_database_up. A ping waits for a free connection like any request, so a pool
// held by long exports also reads as not ready: the server cannot answer then either.
func (s *Server) monitor(ctx context.Context) {
	if s.cfg.Registry == nil && s.cfg.Health == nil {
		return
	}
	t := time.NewTicker(s.cfg.ProbeEvery)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, s.cfg.ProbeEvery)
		err := s.db.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		s.obs.database.Report(err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// errNotServing is the readiness of a server that waits for PostgreSQL, checks the schema, or
// has stopped: the database may answer already, but no request is served yet.
var errNotServing = errors.New("not serving: waiting for PostgreSQL, checking the schema, or stopped")

func (s *Server) checkServing() error {
	if !s.serving.Load() {
		return errNotServing
	}
	return nil
}
