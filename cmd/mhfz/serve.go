package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/mhfz/mhfz-pipeline/browse"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
	"github.com/mhfz/mhfz-pipeline/internal/startup"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// serveOptions are the flags of `mhfz serve`.
type serveOptions struct {
	addr          string
	dbURL         string
	siteURL       string
	queryTimeout  time.Duration
	exportTimeout time.Duration
	wait          time.Duration
	observe       observeFlags
}

const defaultServeDatabaseURL = "postgres://" + migrations.ReaderRole + "@localhost:5432/mhfz?sslmode=disable"

func parseServeFlags(args []string, output io.Writer) (*serveOptions, error) {
	o := &serveOptions{}
	fs := newFlagSet("serve", "serve [flags]", output)
	fs.stringVar(&o.addr, "addr", "MHFZ_SERVE_ADDR", "127.0.0.1:8080",
		"host:port the web page and the JSON API listen on (:8080 for every interface)")
	fs.stringVar(&o.dbURL, "database-url", "MHFZ_SERVE_DATABASE_URL", defaultServeDatabaseURL,
		"PostgreSQL URL of the read-only role "+migrations.ReaderRole+" (created by mhfz migrate up)")
	fs.stringVar(&o.siteURL, "site-url", "MHFZ_SERVE_SITE_URL", browse.DefaultSiteURL,
		"the Ferias site's buki/ folder, which the weapon pages link to")
	fs.durationVar(&o.queryTimeout, "query-timeout", "MHFZ_SERVE_QUERY_TIMEOUT", 5*time.Second,
		"the longest one search, weapon or page may take before it is answered with 503")
	fs.durationVar(&o.exportTimeout, "export-timeout", "MHFZ_SERVE_EXPORT_TIMEOUT", 2*time.Minute,
		"the longest a CSV or JSON Lines export may take")
	fs.durationVar(&o.wait, "wait", "MHFZ_DATABASE_WAIT", time.Minute,
		"how long to wait for the database to be reachable (a wrong password or database fails at once; 0: until stopped)")
	o.observe.register(fs)
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if err := o.observe.check("serve"); err != nil {
		return nil, err
	}
	switch {
	case o.addr == "":
		return nil, usageError{"serve: --addr is empty"}
	case o.dbURL == "":
		return nil, usageError{"serve: --database-url is empty"}
	case o.queryTimeout <= 0 || o.exportTimeout <= 0:
		return nil, usageError{"serve: --query-timeout and --export-timeout must be > 0"}
	case o.wait < 0:
		return nil, usageError{"serve: --wait must not be negative"}
	case o.observe.addr != "" && o.observe.stall <= max(o.queryTimeout, o.exportTimeout):
		return nil, usageError{"serve: --stall-timeout must be longer than --export-timeout and --query-timeout: a request may take that long"}
	}
	return o, nil
}

func runServe(ctx context.Context, args []string, env runEnv) error {
	o, err := parseServeFlags(args, env.stdout)
	if err != nil {
		return err
	}
	target, err := startup.PostgresTarget(o.dbURL)
	if err != nil {
		return usageError{fmt.Sprintf("serve: --database-url: %v", err)}
	}
	obs, stopServing, err := o.observe.start(env)
	if err != nil {
		return err
	}
	defer stopServing()
	cfg := browse.Config{DatabaseURL: o.dbURL, SiteURL: o.siteURL, QueryTimeout: o.queryTimeout,
		ExportTimeout: o.exportTimeout, Logger: env.log, StallTimeout: o.observe.stall, ProbeEvery: observe.DefaultLagEvery}
	if obs != nil {
		cfg.Registry, cfg.Health = obs.Registry, obs.Health
	}
	s, err := browse.New(ctx, cfg)
	if err != nil {
		return usageError{fmt.Sprintf("serve: %v", err)}
	}
	defer s.Close()
	if err := env.waiter(o.wait).Wait(ctx, target, s.Ping, startup.PostgresNotReady); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if err := s.Check(ctx); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return s.Serve(ctx, o.addr, func(addr string) {
		env.log.Info("serving the web page and the JSON API", "url", "http://"+addr+"/", "api", "http://"+addr+"/api/openapi.yaml", "database", target)
	})
}
