package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/mhfz/mhfz-pipeline/internal/startup"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// migrateOptions are the flags and the action of `mhfz migrate`.
type migrateOptions struct {
	db     databaseFlags
	action string
	to     *int64 // --to; nil: up to the latest, down by one
	wait   time.Duration
	// The passwords of the services' roles, given to them after `up` (empty: left as they are).
	readerPassword, writerPassword, rebuilderPassword string
}

var migrateActions = map[string]bool{"up": true, "down": true, "status": true, "version": true}

func parseMigrateFlags(args []string, output io.Writer) (*migrateOptions, error) {
	o := &migrateOptions{}
	fs := newFlagSet("migrate", "migrate [flags] up|down|status|version", output)
	fs.takesArgs = true
	o.db.register(fs)
	var to string
	fs.stringVar(&to, "to", "MHFZ_MIGRATE_TO", "",
		"up: apply up to this version; down: roll back to this version (0: everything). Empty: up to the latest, down by one")
	fs.durationVar(&o.wait, "wait", "MHFZ_DATABASE_WAIT", startup.DefaultTimeout,
		"how long to wait for the database to be reachable (a wrong password or database fails at once; 0: until stopped)")
	fs.stringVar(&o.readerPassword, "reader-password", "MHFZ_READER_PASSWORD", "",
		"up: set this password on the read-only role "+migrations.ReaderRole+" of mhfz serve (empty: leave it as it is)")
	fs.stringVar(&o.writerPassword, "writer-password", "MHFZ_WRITER_PASSWORD", "",
		"up: set this password on the role "+migrations.WriterRole+" of mhfz sink (empty: leave it as it is)")
	fs.stringVar(&o.rebuilderPassword, "rebuilder-password", "MHFZ_REBUILDER_PASSWORD", "",
		"up: set this password on the role "+migrations.RebuilderRole+" of mhfz reprocess (empty: leave it as it is)")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() == 0 {
		return nil, usageError{"migrate: missing action: up, down, status or version"}
	}
	o.action = fs.Arg(0)
	if err := fs.parseArgs(fs.Args()[1:]); err != nil { // flags after the action
		return nil, err
	}
	switch {
	case !migrateActions[o.action]:
		return nil, usageError{fmt.Sprintf("migrate: unknown action %q: want up, down, status or version", o.action)}
	case fs.NArg() > 0:
		return nil, usageError{fmt.Sprintf("migrate: unexpected arguments %q", fs.Args())}
	case o.db.url == "":
		return nil, usageError{"migrate: --database-url is empty"}
	case o.wait < 0:
		return nil, usageError{"migrate: --wait must not be negative"}
	}
	if to != "" {
		v, err := strconv.ParseInt(to, 10, 64)
		if err != nil || v < 0 {
			return nil, usageError{fmt.Sprintf("migrate: --to %q: want a version number >= 0, or nothing", to)}
		}
		o.to = &v
	}
	return o, nil
}

func runMigrate(ctx context.Context, args []string, env runEnv) error {
	o, err := parseMigrateFlags(args, env.stdout)
	if err != nil {
		return err
	}
	db, err := openMigrateDatabase(ctx, o, env)
	if err != nil {
		return err
	}
	defer db.Close()
	p, err := migrations.NewProvider(db)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	switch o.action {
	case "up":
		err = migrateUp(ctx, p, db, o, env.log)
	case "down":
		err = migrateDown(ctx, p, o, env.log)
	case "status":
		err = printStatus(ctx, p, env.stdout)
	case "version":
		err = printVersion(ctx, p, env.stdout)
	}
	if err != nil {
		return fmt.Errorf("migrate %s: %w", o.action, err)
	}
	return nil
}

// openMigrateDatabase opens the database of --database-url once it answers. In a compose stack
// the database may still be starting: that is waited for (and said); a wrong password or a
// missing database is not, since waiting would not change it.
func openMigrateDatabase(ctx context.Context, o *migrateOptions, env runEnv) (*sql.DB, error) {
	target, err := startup.PostgresTarget(o.db.url)
	if err != nil {
		return nil, usageError{fmt.Sprintf("migrate: --database-url: %v", err)}
	}
	db, err := migrations.Open(o.db.url)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if err := env.waiter(o.wait).Wait(ctx, target, db.PingContext, startup.PostgresNotReady); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return db, nil
}

// migrateUp applies the migrations up to --to (the latest without it), then gives the
// services' roles the passwords asked for.
func migrateUp(ctx context.Context, p *goose.Provider, db *sql.DB, o *migrateOptions, log *slog.Logger) error {
	var results []*goose.MigrationResult
	var err error
	if o.to != nil {
		results, err = p.UpTo(ctx, *o.to)
	} else {
		results, err = p.Up(ctx)
	}
	report(log, "applied", results)
	if err != nil {
		return err
	}
	for _, rp := range []struct{ role, password string }{
		{migrations.ReaderRole, o.readerPassword},
		{migrations.WriterRole, o.writerPassword},
		{migrations.RebuilderRole, o.rebuilderPassword},
	} {
		if rp.password == "" {
			continue
		}
		if err := setPassword(ctx, db, rp.role, rp.password); err != nil {
			return err
		}
	}
	return nil
}

// migrateDown rolls back to --to, or the last migration without it.
func migrateDown(ctx context.Context, p *goose.Provider, o *migrateOptions, log *slog.Logger) error {
	if o.to != nil {
		results, err := p.DownTo(ctx, *o.to)
		report(log, "rolled back", results)
		return err
	}
	r, err := p.Down(ctx)
	var results []*goose.MigrationResult
	if r != nil {
		results = append(results, r)
	}
	report(log, "rolled back", results)
	return err
}

func printVersion(ctx context.Context, p *goose.Provider, stdout io.Writer) error {
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, v)
	return nil
}

// setPassword gives a service's role (created by migrations 00008 and 00014, without a password:
// a migration holds no secret) its password, so that the service can log in on a server that
// asks for one. The statement takes no parameter: the password is quoted by PostgreSQL's own
// format('%L').
func setPassword(ctx context.Context, db *sql.DB, role, password string) error {
	var stmt string
	if err := db.QueryRowContext(ctx, "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)",
		role, password).Scan(&stmt); err != nil {
		return fmt.Errorf("set the password of %s: %w", role, err)
	}
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("set the password of %s (the migrating role needs CREATEROLE): %w", role, err)
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
