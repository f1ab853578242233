package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/mhfz/mhfz-pipeline/bundle"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

const (
	envPublishDatabaseURL = "MHFZ_PUBLISH_DATABASE_URL"
	envDatabaseWait       = "MHFZ_DATABASE_WAIT"
)

// publishOptions are the flags of `mhfz publish` and `mhfz export`.
type publishOptions struct {
	cfg     bundle.Config
	formats []string
	observe observeFlags
}

// registerBundleDatabase registers the flags export and publish share.
func registerBundleDatabase(fs *flagSet, c *bundle.Config, def bundle.Config) {
	fs.stringVar(&c.DatabaseURL, "database-url", envPublishDatabaseURL, def.DatabaseURL,
		"PostgreSQL URL of the read-only role "+migrations.ReaderRole+", which the downloadable files are read as")
	fs.durationVar(&c.Startup.Timeout, "wait", envDatabaseWait, def.Startup.Timeout,
		"how long to wait for the database to be reachable (a wrong password or database fails at once; 0: until stopped)")
}

func parsePublishFlags(args []string, output io.Writer) (*publishOptions, error) {
	o := &publishOptions{cfg: bundle.DefaultConfig()}
	c, def := &o.cfg, bundle.DefaultConfig()
	fs := newFlagSet("publish", "publish [flags]", output)
	registerBundleDatabase(fs, c, def)
	fs.stringVar(&c.Out, "out", "MHFZ_PUBLISH_OUT", def.Out,
		"folder of the published versions (one folder each) and of the latest pointer: mhfz serve's --downloads-dir")
	fs.durationVar(&c.Every, "every", "MHFZ_PUBLISH_EVERY", def.Every,
		"publish again this long after each publication, when the data changed (0: publish once and exit)")
	fs.durationVar(&c.Settle, "settle", "MHFZ_PUBLISH_SETTLE", def.Settle,
		"with --every: publish only once the stored data has stayed the same this long (a scrape still being stored is not published half way; 0: at once)")
	fs.intVar(&c.Keep, "keep", "MHFZ_PUBLISH_KEEP", def.Keep, "versions kept (the newest; older ones are removed)")
	o.observe.register(fs)
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if err := o.observe.check("publish"); err != nil {
		return nil, err
	}
	return o, nil
}

func runPublish(ctx context.Context, args []string, env runEnv) error {
	o, err := parsePublishFlags(args, env.stdout)
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
	cfg.Startup.Log, cfg.Startup.Every = env.log, env.waitEvery
	if obs != nil {
		cfg.Health = obs.Health
	}
	p, err := bundle.New(cfg)
	if err != nil {
		return usageError{fmt.Sprintf("publish: %v", err)}
	}
	if err := p.Run(ctx); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	s := p.Summary()
	fmt.Fprintf(env.stdout, "publish: %d versions published, %d unchanged; latest %s (%d files, %d bytes) in %s\n",
		s.Published, s.Unchanged, s.Version, s.Files, s.Bytes, cfg.Out)
	return nil
}

func parseExportFlags(args []string, output io.Writer) (*publishOptions, error) {
	o := &publishOptions{cfg: bundle.DefaultConfig()}
	c, def := &o.cfg, bundle.DefaultConfig()
	fs := newFlagSet("export", "export [flags]", output)
	registerBundleDatabase(fs, c, def)
	fs.stringVar(&c.Out, "out", "MHFZ_EXPORT_OUT", ".", "folder the files (and their manifest.json) are written into")
	fs.listVar(&o.formats, "format", "MHFZ_EXPORT_FORMAT", "sqlite,jsonl,csv",
		"the files to write, comma-separated: sqlite (one database), jsonl and csv (one file per weapon table)")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	formats, err := bundle.ParseFormats(o.formats)
	if err != nil {
		return nil, usageError{"export: --format: " + err.Error()}
	}
	c.Formats = formats
	return o, nil
}

func runExport(ctx context.Context, args []string, env runEnv) error {
	o, err := parseExportFlags(args, env.stdout)
	if err != nil {
		return err
	}
	cfg := o.cfg
	cfg.Logger = env.log
	cfg.Startup.Log, cfg.Startup.Every = env.log, env.waitEvery
	p, err := bundle.New(cfg)
	if err != nil {
		return usageError{fmt.Sprintf("export: %v", err)}
	}
	progress := func(table string, rows, current int64) {
		env.log.Info("table written", "table", table, "rows", rows, "current", current)
	}
	m, err := p.Export(ctx, progress)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	var size int64
	var names []string
	for _, f := range m.Files {
		size += f.Size
		names = append(names, f.Format)
	}
	fmt.Fprintf(env.stdout, "export: version %s, %d files (%s), %d bytes in %s\n", m.Version, len(m.Files),
		strings.Join(uniq(names), ", "), size, cfg.Out)
	return nil
}

func uniq(s []string) []string {
	var out []string
	for _, v := range s {
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}
