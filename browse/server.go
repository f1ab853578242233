package browse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mhfz/mhfz-pipeline/internal/observe"
	"github.com/mhfz/mhfz-pipeline/internal/startup"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// The defaults of DefaultConfig that cmd shows too.
const (
	// DefaultSiteURL is the weapon folder of the Ferias site, which the weapon pages link to.
	DefaultSiteURL = "https://xl3lackout.github.io/MHFZ-Ferias-English-Project/buki/"
	// DefaultDatabaseURL is a local database, as the read-only role.
	DefaultDatabaseURL = "postgres://" + migrations.ReaderRole + "@localhost:5432/mhfz?sslmode=disable"
	// DefaultAddr serves on loopback only.
	DefaultAddr = "127.0.0.1:8080"
)

// Config configures a Server. Start from DefaultConfig; a zero field is an error unless its
// comment says what zero (or nil) means.
type Config struct {
	Addr string // host:port the page and the API listen on
	// Listener, if not nil, is where Run serves instead of listening on Addr (a test's free
	// port, known before Run starts); Run closes it.
	Listener net.Listener

	DatabaseURL   string        // PostgreSQL, as mhfz_reader
	SiteURL       string        // the Ferias site's buki/ folder, for the links to its rows
	QueryTimeout  time.Duration // the longest a query of a page or an API call may take
	ExportTimeout time.Duration // the longest an export may take, streaming included
	// DownloadsDir is the folder `mhfz publish` writes the dataset's versions into, served under
	// /downloads/ ("": none published; the routes say so).
	DownloadsDir string
	// Startup is how Run waits at start for PostgreSQL: saying what it waits for, failing at
	// once on what waiting cannot change (a wrong password), for at most its Timeout (0: until
	// stopped). Its Log is Logger when nil.
	Startup startup.Waiter
	Logger  *slog.Logger
	// QueryTracer, if not nil, sees every query of the server's connections (a test counts
	// them; a benchmark EXPLAINs what a route runs).
	QueryTracer pgx.QueryTracer

	// Registry, if not nil, gets the server's metrics (Metrics); Health, if not nil, its checks:
	// alive while no request has been running for longer than StallTimeout (longer than the
	// export timeout), ready while PostgreSQL answers the ping made every ProbeEvery.
	Registry     prometheus.Registerer
	Health       *observe.Health
	StallTimeout time.Duration
	ProbeEvery   time.Duration

	// HTTP caching (caching.go): the answers' Cache-Control max-age (0: public, no-cache: every
	// use asks again, with the ETag); how long one reading of the data's version serves the
	// requests (0: every request reads it); Release names the build in the ETags (empty: this
	// process, so that a restart never answers 304 to another build's ETag).
	CacheMaxAge time.Duration
	VersionTTL  time.Duration
	Release     string
	// AnswerCacheSize bounds, in bytes, the answers kept in memory for the data's version
	// (answercache.go: the weapon, suggest and game id routes; 0: none kept).
	AnswerCacheSize int
	// CORSOrigins may read the API from scripts ("*": any; empty: no CORS headers).
	CORSOrigins []string
	// Guards (guards.go): the largest page of a search (a larger limit is refused), the most
	// exports at once (another is answered 429), and a token bucket per client address of
	// RateLimit requests a second in bursts of RateBurst (0: no limit), not applied to loopback
	// clients unless RateLimitLoopback.
	MaxPageSize       int
	MaxExports        int
	RateLimit         float64
	RateBurst         int
	RateLimitLoopback bool
}

// DefaultConfig is the configuration of `mhfz serve` without flags.
func DefaultConfig() Config {
	return Config{
		Addr:            DefaultAddr,
		DatabaseURL:     DefaultDatabaseURL,
		SiteURL:         DefaultSiteURL,
		QueryTimeout:    5 * time.Second,
		ExportTimeout:   2 * time.Minute,
		Startup:         startup.Waiter{Timeout: startup.DefaultTimeout},
		Logger:          slog.Default(),
		StallTimeout:    observe.DefaultStallTimeout,
		ProbeEvery:      observe.DefaultLagEvery,
		CacheMaxAge:     time.Minute,
		VersionTTL:      time.Second,
		AnswerCacheSize: 64 << 20,
		CORSOrigins:     []string{"*"},
		MaxPageSize:     maxPageSize,
		MaxExports:      3,
		RateLimit:       20,
		RateBurst:       40,
	}
}

// Server serves the API and the page. It is safe for concurrent use.
type Server struct {
	cfg     Config
	obs     observation
	log     *slog.Logger
	pool    *pgxpool.Config
	target  string        // the database, for the log and the errors, without its password
	db      *pgxpool.Pool // opened by Run
	site    *url.URL
	handler http.Handler
	pages   *pages
	// openAPIJSON is openapi.yaml as JSON.
	openAPIJSON  []byte
	versions     versionCache
	answers      *answerCache // nil: none
	cacheControl string
	compress     func(http.Handler) http.Handler
	exports      chan struct{} // a token per export streaming
	clients      *clientLimits // nil: no rate limit
	ran          atomic.Bool
	serving      atomic.Bool // Run serves requests: readiness
}

// New validates cfg and builds the server, its metrics and its checks. It connects to nothing:
// Run does.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("browse: %w", err)
	}
	if cfg.Startup.Log == nil {
		cfg.Startup.Log = cfg.Logger
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	var err error
	if s.site, err = siteURL(cfg.SiteURL); err != nil {
		return nil, fmt.Errorf("browse: %w", err)
	}
	if s.pool, err = poolConfig(cfg); err != nil {
		return nil, fmt.Errorf("browse: %w", err)
	}
	if s.target, err = startup.PostgresTarget(cfg.DatabaseURL); err != nil {
		return nil, fmt.Errorf("browse: DatabaseURL: %w", err)
	}
	if err = s.observe(); err == nil {
		s.pages, err = newPages()
	}
	if err == nil {
		s.openAPIJSON, err = openAPIJSON()
	}
	if err == nil {
		s.compress, err = compressor()
	}
	if err != nil {
		return nil, err
	}
	s.versions.release, s.cacheControl = releaseTag(cfg, time.Now()), cacheControl(cfg.CacheMaxAge)
	s.exports = make(chan struct{}, cfg.MaxExports)
	s.answers = newAnswerCache(cfg.AnswerCacheSize, s.obs.countAnswer)
	s.clients = newClientLimits(cfg.RateLimit, cfg.RateBurst, cfg.RateLimitLoopback)
	s.handler = s.routes()
	return s, nil
}

// validate says which field is wrong, if one is.
func (cfg *Config) validate() error {
	longest := max(cfg.QueryTimeout, cfg.ExportTimeout)
	switch {
	case cfg.Logger == nil:
		return errors.New("Logger is nil")
	case cfg.Addr == "" && cfg.Listener == nil:
		return errors.New("Addr is empty (and no Listener)")
	case cfg.DatabaseURL == "":
		return errors.New("DatabaseURL is empty")
	case cfg.QueryTimeout <= 0 || cfg.ExportTimeout <= 0:
		return fmt.Errorf("QueryTimeout %s and ExportTimeout %s must be positive", cfg.QueryTimeout, cfg.ExportTimeout)
	case cfg.ProbeEvery <= 0:
		return fmt.Errorf("ProbeEvery %s must be positive", cfg.ProbeEvery)
	case cfg.Startup.Timeout < 0:
		return fmt.Errorf("Startup.Timeout %s must not be negative (0: until stopped)", cfg.Startup.Timeout)
	case cfg.Startup.Every < 0 || cfg.Startup.Retry < 0 || cfg.Startup.Attempt < 0:
		return fmt.Errorf("Startup's intervals (every %s, retry %s, attempt %s) must not be negative",
			cfg.Startup.Every, cfg.Startup.Retry, cfg.Startup.Attempt)
	case cfg.Health != nil && cfg.StallTimeout <= longest:
		return fmt.Errorf("StallTimeout %s must be longer than ExportTimeout and QueryTimeout (%s): a request may take that long",
			cfg.StallTimeout, longest)
	}
	return cfg.validateHTTP()
}

// siteURL is the Ferias site's buki/ folder, ending with a slash.
func siteURL(raw string) (*url.URL, error) {
	site, err := url.Parse(raw)
	if err != nil || (site.Scheme != "http" && site.Scheme != "https") || site.Host == "" {
		return nil, fmt.Errorf("SiteURL %q: want http(s)://HOST/…/buki/", raw)
	}
	if !strings.HasSuffix(site.Path, "/") {
		site.Path += "/"
	}
	return site, nil
}

// poolConfig is how Run connects: read-only transactions, and a server-side statement timeout
// as long as the longest a request may take (each request also has its own deadline).
func poolConfig(cfg Config) (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("DatabaseURL: %w", err)
	}
	pc.ConnConfig.Tracer = cfg.QueryTracer
	rp := pc.ConnConfig.RuntimeParams
	rp["default_transaction_read_only"] = "on"
	rp["statement_timeout"] = strconv.FormatInt(max(cfg.QueryTimeout, cfg.ExportTimeout).Milliseconds(), 10)
	// Plans are made once per statement and kept (pgx prepares and caches each statement): a
	// search unites one branch per weapon table, whose planning would otherwise cost more than
	// running it. The statements are written so that their generic plans use the indexes.
	rp["plan_cache_mode"] = "force_generic_plan"
	if rp["application_name"] == "" {
		rp["application_name"] = "mhfz-serve"
	}
	return pc, nil
}

// Run waits for PostgreSQL, checks that the role can read the schema (check), then serves the
// page and the API until ctx ends; then it lets the requests in progress finish (at most the
// export timeout) and returns nil. While it serves, it probes the database for the readiness
// check and the metrics. A stop before PostgreSQL ever answered is an error
// (startup.ErrNotStarted). Run may be called once.
func (s *Server) Run(ctx context.Context) error {
	if s.cfg.Listener != nil {
		defer s.cfg.Listener.Close() // also when Run fails before serving: the clients waiting learn it
	}
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("browse: Run called twice")
	}
	db, err := pgxpool.NewWithConfig(ctx, s.pool)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	defer db.Close()
	s.db = db
	// Each attempt is also a probe: the server is not ready while it waits.
	probe := func(ctx context.Context) error { err := db.Ping(ctx); s.obs.database.Report(err); return err }
	if err := s.cfg.Startup.Wait(ctx, s.target, probe, startup.PostgresNotReady); err != nil {
		return err
	}
	if err := s.check(ctx); err != nil {
		return err
	}
	ln := s.cfg.Listener
	if ln == nil {
		if ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Addr); err != nil {
			return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
		}
	}
	addr := ln.Addr().String()
	s.log.Info("serving the web page and the JSON API", "url", "http://"+addr+"/", "api", "http://"+addr+"/api/openapi.yaml",
		"database", s.target)
	return s.serve(ctx, ln)
}

// serve serves on ln until ctx ends, probing the database meanwhile.
func (s *Server) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	monitorCtx, stopMonitor := context.WithCancel(ctx)
	monitored := make(chan struct{})
	go func() { defer close(monitored); s.monitor(monitorCtx) }()
	defer func() { stopMonitor(); <-monitored }()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	s.serving.Store(true)
	defer s.serving.Store(false)
	select {
	case err := <-done:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ExportTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("stop serving on %s: %w", ln.Addr(), err)
	}
	<-done
	return nil
}
