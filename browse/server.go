package browse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mhfz/mhfz-pipeline/internal/observe"
)

// DefaultSiteURL is the weapon folder of the Ferias site, which the weapon pages link to.
const DefaultSiteURL = "https://xl3lackout.github.io/MHFZ-Ferias-English-Project/buki/"

// Config configures a Server. Zero durations take the defaults in parentheses.
type Config struct {
	DatabaseURL   string        // PostgreSQL, as mhfz_reader (required)
	SiteURL       string        // the Ferias site's buki/ folder, for the links to its rows (DefaultSiteURL)
	QueryTimeout  time.Duration // the longest a query of a page or an API call may take (5s)
	ExportTimeout time.Duration // the longest an export may take, streaming included (2m)
	Logger        *slog.Logger  // required

	// Registry, if set, gets the server's metrics (Metrics); Health, if set, its checks: alive
	// while no request has been running for longer than StallTimeout (5m, longer than the
	// export timeout), ready while PostgreSQL answers the ping made every ProbeEvery (5s) while
	// serving.
	Registry     prometheus.Registerer
	Health       *observe.Health
	StallTimeout time.Duration
	ProbeEvery   time.Duration
}

// Server serves the API and the page. It is safe for concurrent use.
type Server struct {
	cfg     Config
	obs     observation
	log     *slog.Logger
	db      *pgxpool.Pool
	site    *url.URL
	handler http.Handler
	pages   *pages
	// openAPIJSON is openapi.yaml as JSON.
	openAPIJSON []byte
}

// New validates cfg and prepares the connections (opened when first needed).
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		return nil, errors.New("browse: no logger")
	}
	if cfg.DatabaseURL == "" {
		return nil, errors.New("browse: no database URL")
	}
	if cfg.SiteURL == "" {
		cfg.SiteURL = DefaultSiteURL
	}
	site, err := url.Parse(cfg.SiteURL)
	if err != nil || (site.Scheme != "http" && site.Scheme != "https") || site.Host == "" {
		return nil, fmt.Errorf("browse: site URL %q: want http(s)://HOST/…/buki/", cfg.SiteURL)
	}
	if !strings.HasSuffix(site.Path, "/") {
		site.Path += "/"
	}
	if cfg.QueryTimeout == 0 {
		cfg.QueryTimeout = 5 * time.Second
	}
	if cfg.ExportTimeout == 0 {
		cfg.ExportTimeout = 2 * time.Minute
	}
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = observe.DefaultStallTimeout
	}
	if cfg.ProbeEvery == 0 {
		cfg.ProbeEvery = 5 * time.Second
	}
	if cfg.QueryTimeout < 0 || cfg.ExportTimeout < 0 || cfg.ProbeEvery < 0 {
		return nil, fmt.Errorf("browse: negative timeout (query %s, export %s) or probe interval %s",
			cfg.QueryTimeout, cfg.ExportTimeout, cfg.ProbeEvery)
	}
	if cfg.Health != nil && cfg.StallTimeout <= max(cfg.QueryTimeout, cfg.ExportTimeout) {
		return nil, fmt.Errorf("browse: stall timeout %s must be longer than the export timeout %s: an export may take that long",
			cfg.StallTimeout, max(cfg.QueryTimeout, cfg.ExportTimeout))
	}
	db, err := openPool(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, db: db, site: site}
	if err = s.observe(); err == nil {
		s.pages, err = newPages()
	}
	if err == nil {
		s.openAPIJSON, err = openAPIJSON()
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// Close closes the connections.
func (s *Server) Close() { s.db.Close() }

// Handler is the HTTP handler of the API and the page.
func (s *Server) Handler() http.Handler { return s.handler }

// Ping checks that the database answers.
func (s *Server) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// Serve serves on addr until ctx ends, then lets the requests in progress finish (at most the
// export timeout) and returns. started, if not nil, is called with the listening address. While
// it serves, it probes the database for the readiness check and the metrics.
func (s *Server) Serve(ctx context.Context, addr string, started func(string)) error {
	srv := &http.Server{
		Addr:              addr,
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	ln, err := listen(ctx, addr)
	if err != nil {
		return err
	}
	if started != nil {
		started(ln.Addr().String())
	}
	monitorCtx, stopMonitor := context.WithCancel(ctx)
	monitored := make(chan struct{})
	go func() { defer close(monitored); s.monitor(monitorCtx) }()
	defer func() { stopMonitor(); <-monitored }()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve on %s: %w", addr, err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ExportTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("stop serving on %s: %w", addr, err)
	}
	<-done
	return nil
}
