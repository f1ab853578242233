package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/mhfz/mhfz-pipeline/browse"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// serveOptions are the flags of `mhfz serve`: the server's configuration, and where it shows
// its metrics and health.
type serveOptions struct {
	cfg     browse.Config
	observe observeFlags
}

func parseServeFlags(args []string, output io.Writer) (*serveOptions, error) {
	o := &serveOptions{cfg: browse.DefaultConfig()}
	c, def := &o.cfg, browse.DefaultConfig()
	fs := newFlagSet("serve", "serve [flags]", output)
	fs.stringVar(&c.Addr, "addr", "MHFZ_SERVE_ADDR", def.Addr,
		"host:port the web page and the JSON API listen on (:8080 for every interface)")
	fs.stringVar(&c.DatabaseURL, "database-url", "MHFZ_SERVE_DATABASE_URL", def.DatabaseURL,
		"PostgreSQL URL of the read-only role "+migrations.ReaderRole+" (created by mhfz migrate up)")
	fs.stringVar(&c.SiteURL, "site-url", "MHFZ_SERVE_SITE_URL", def.SiteURL,
		"the Ferias site's buki/ folder, which the weapon pages link to")
	fs.durationVar(&c.QueryTimeout, "query-timeout", "MHFZ_SERVE_QUERY_TIMEOUT", def.QueryTimeout,
		"the longest one search, weapon or page may take before it is answered with 503")
	fs.durationVar(&c.ExportTimeout, "export-timeout", "MHFZ_SERVE_EXPORT_TIMEOUT", def.ExportTimeout,
		"the longest a CSV or JSON Lines export may take")
	registerServeHTTPFlags(fs, c, def)
	fs.stringVar(&c.DownloadsDir, "downloads-dir", "MHFZ_SERVE_DOWNLOADS_DIR", def.DownloadsDir,
		"folder of the dataset's versions that mhfz publish writes (its --out), served under /downloads/ (empty: none)")
	fs.durationVar(&c.Startup.Timeout, "wait", "MHFZ_DATABASE_WAIT", def.Startup.Timeout,
		"how long to wait for the database to be reachable (a wrong password or database fails at once; 0: until stopped)")
	o.observe.register(fs)
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if err := o.observe.check("serve"); err != nil {
		return nil, err
	}
	return o, nil
}

func runServe(ctx context.Context, args []string, env runEnv) error {
	o, err := parseServeFlags(args, env.stdout)
	if err != nil {
		return err
	}
	obs, stopServing, err := o.observe.start(env)
	if err != nil {
		return err
	}
	defer stopServing()
	cfg := o.cfg
	cfg.Logger, cfg.StallTimeout = env.log, o.observe.stall
	if version != "" && commit != "" && !strings.Contains(version, "dirty") {
		cfg.Release = version + " " + commit // a build of a clean tree: its ETags hold across restarts
	}
	cfg.Startup.Log, cfg.Startup.Every = env.log, env.waitEvery
	if obs != nil {
		cfg.Registry, cfg.Health = obs.Registry, obs.Health
	}
	s, err := browse.New(cfg)
	if err != nil {
		return usageError{fmt.Sprintf("serve: %v", err)}
	}
	if err := s.Run(ctx); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// registerServeHTTPFlags registers the flags of the HTTP caching, CORS and the query guards.
func registerServeHTTPFlags(fs *flagSet, c *browse.Config, def browse.Config) {
	fs.durationVar(&c.CacheMaxAge, "cache-max-age", "MHFZ_SERVE_CACHE_MAX_AGE", def.CacheMaxAge,
		"how long clients and proxies may reuse an answer before asking again with its ETag (Cache-Control: public, max-age; 0: ask every time)")
	fs.intVar(&c.AnswerCacheSize, "answer-cache-size", "MHFZ_SERVE_ANSWER_CACHE_SIZE", def.AnswerCacheSize,
		"bytes of API answers (weapon, suggest, game id) kept in memory for the data's version, least recently used dropped first (0: none)")
	fs.listVar(&c.CORSOrigins, "cors-origins", "MHFZ_SERVE_CORS_ORIGINS", strings.Join(def.CORSOrigins, ","),
		"origins whose scripts may read the API (GET and HEAD), comma-separated, such as https://example.org (*: any; empty: none)")
	fs.intVar(&c.MaxPageSize, "max-page-size", "MHFZ_SERVE_MAX_PAGE_SIZE", def.MaxPageSize,
		"the largest page of a search, the materials or the changes: a larger limit is answered 400")
	fs.intVar(&c.MaxExports, "max-exports", "MHFZ_SERVE_MAX_EXPORTS", def.MaxExports,
		"the most CSV or JSON Lines exports streaming at once: another is answered 429 with Retry-After")
	fs.floatVar(&c.RateLimit, "rate-limit", "MHFZ_SERVE_RATE_LIMIT", def.RateLimit,
		"requests a second one client address may make on average (429 with Retry-After beyond; 0: no limit)")
	fs.intVar(&c.RateBurst, "rate-burst", "MHFZ_SERVE_RATE_BURST", def.RateBurst,
		"requests one client address may make at once before --rate-limit applies")
	fs.boolVar(&c.RateLimitLoopback, "rate-limit-loopback", "MHFZ_SERVE_RATE_LIMIT_LOOPBACK", def.RateLimitLoopback,
		"apply --rate-limit to loopback clients too (a proxy on the same host makes every client one loopback address)")
}
