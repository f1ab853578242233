package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/mhfz/mhfz-pipeline/migrations"
)

// migrateOptions are the flags and the action of `mhfz migrate`.
type migrateOptions struct {
	db     databaseFlags
	action string
	to     int64
	wait   time.Duration
}

var migrateActions = map[string]bool{"up": true, "down": true, "status": true, "version": true}

func parseMigrateFlags(args []string, output io.Writer) (*migrateOptions, error) {
	o := &migrateOptions{}
	fs := newFlagSet("migrate", "migrate [flags] up|down|status|version", output)
	fs.takesArgs = true
	o.db.register(fs)
	var to int
	fs.intVar(&to, "to", "MHFZ_MIGRATE_TO", -1,
		"up: apply up to this version; down: roll back to this version (0: everything). -1: up to the latest, down by one")
	fs.durationVar(&o.wait, "wait", "MHFZ_DATABASE_WAIT", time.Minute, "how long to wait for the database to answer")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() == 0 {
		return nil, usageError{"migrate: missing action: up, down, status or version"}
	}
	o.action = fs.Arg(0)
	if err := fs.Parse(fs.Args()[1:]); err != nil { // flags after the action
		return nil, usageError{err.Error()}
	}
	switch {
	case !migrateActions[o.action]:
		return nil, usageError{fmt.Sprintf("migrate: unknown action %q: want up, down, status or version", o.action)}
	case fs.NArg() > 0:
		return nil, usageError{fmt.Sprintf("migrate: unexpected arguments %q", fs.Args())}
	case o.db.url == "":
		return nil, usageError{"migrate: --database-url is empty"}
	case to < -1:
		return nil, usageError{"migrate: --to must be >= -1"}
	}
	o.to = int64(to)
	return o, nil
}

func runMigrate(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	o, err := parseMigrateFlags(args, stdout)
	if err != nil {
		return err
	}
	db, err := migrations.Open(o.db.url)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer db.Close()
	if err := waitForDatabase(ctx, o.wait, db.PingContext); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	p, err := migrations.NewProvider(db)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	switch o.action {
	case "up":
		var results []*goose.MigrationResult
		if o.to >= 0 {
			results, err = p.UpTo(ctx, o.to)
		} else {
			results, err = p.Up(ctx)
		}
		report(log, "applied", results)
	case "down":
		var results []*goose.MigrationResult
		if o.to >= 0 {
			results, err = p.DownTo(ctx, o.to)
		} else {
			var r *goose.MigrationResult
			if r, err = p.Down(ctx); r != nil {
				results = append(results, r)
			}
		}
		report(log, "rolled back", results)
	case "status":
		err = printStatus(ctx, p, stdout)
	case "version":
		var v int64
		if v, err = p.GetDBVersion(ctx); err == nil {
			fmt.Fprintln(stdout, v)
		}
	}
	if err != nil {
		return fmt.Errorf("migrate %s: %w", o.action, err)
	}
	return nil
}

func report(log *slog.Logger, what string, results []*goose.MigrationResult) {
	if len(results) == 0 {
		log.Info("migrate: nothing to do")
	}
	for _, r := range results {
		log.Info("migrate: "+what, "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration.Round(time.Millisecond))
	}
}

func printStatus(ctx context.Context, p *goose.Provider, stdout io.Writer) error {
	statuses, err := p.Status(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "VERSION\tSTATE\tAPPLIED AT\tFILE")
	for _, s := range statuses {
		applied := "-"
		if s.State == goose.StateApplied {
			applied = s.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", s.Source.Version, s.State, applied, s.Source.Path)
	}
	return w.Flush()
}

// waitForDatabase pings until the database answers or wait is over: in a compose stack, the
// database may still be starting.
func waitForDatabase(ctx context.Context, wait time.Duration, ping func(context.Context) error) error {
	deadline := time.Now().Add(wait)
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := ping(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("database not answering after %s: %w", wait, errors.Join(err, ctx.Err()))
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}
