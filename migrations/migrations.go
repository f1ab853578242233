// Package migrations owns the PostgreSQL schema of the pipeline: the goose SQL migrations,
// embedded in the binary, the goose provider that applies them, and the schema's names the Go
// code uses (schema.go). Two processes may migrate at once (two containers starting together):
// a PostgreSQL session advisory lock serializes them, and the second finds nothing left to do.
//
// # Writing a migration
//
// A new migration is the file NNNNN_what.sql numbered after the highest one. A migration that
// was released is never edited: databases past it would not run it again.
//
// A migration that changes every weapon table loops over the SQL function mhfz_weapon_tables()
// (00011; the same names as WeaponTables, checked by a test) instead of pasting the fifteen
// names, as 00003 to 00010 still do:
//
//	DO $$
//	DECLARE
//	    t text;
//	BEGIN
//	    FOREACH t IN ARRAY mhfz_weapon_tables() LOOP
//	        EXECUTE format('ALTER TABLE %I ADD COLUMN ...', t);
//	    END LOOP;
//	END
//	$$;
//
// A <table>_current view holds the columns its * had when it was created, so a migration that
// adds or drops a column creates it again; it does so with mhfz_weapon_views(t) (00005, which
// mhfz reprocess uses too), after dropping the view and the <table>_history function, instead of
// restating their DDL:
//
//	EXECUTE format('DROP VIEW %I', t || '_current');
//	EXECUTE format('DROP FUNCTION %I(text)', t || '_history');
//	PERFORM mhfz_weapon_views(t);
//
// # Roles
//
// Each service connects as a role of its own (00008, 00014; the names are ReaderRole,
// WriterRole and RebuilderRole): the migrating role, the owner, is mhfz migrate's alone.
// RebuilderRole owns the weapon tables, weapon_latest and their views and functions (the switch
// of a re-processing drops them), so a migration that adds a weapon table gives it to that role
// and calls mhfz_service_grants() (00014), which grants WriterRole and ReaderRole their rights on
// the weapon tables; one that adds another table grants WriterRole and RebuilderRole what they
// need of it (ReaderRole reads every table the migrating role creates, by default privileges).
// TestServiceRolesOwnership checks it.
//
// # Why there is no 00007
//
// No migration 00007 ever existed: the history holds no such file. 00008, the read-only role
// of mhfz serve (commit a4b630a), was written on a branch of its own while 00006 was the latest
// migration, and numbered 8 with 7 left free for the work beside it; nothing took 7 afterwards.
// goose needs no option for the gap (an unused number is not a missing migration), but it
// refuses to apply a migration numbered below the version a database is already at, so 7 stays
// unused for good (TestMigrationVersions).
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

//go:embed *.sql
var files embed.FS

// Open opens the database at url through pgx's database/sql driver.
func Open(url string) (*sql.DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// NewProvider returns a goose provider of the embedded migrations on db, holding a session
// advisory lock while it migrates.
func NewProvider(db *sql.DB) (*goose.Provider, error) {
	if db == nil {
		return nil, fmt.Errorf("migrations: nil database")
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300)) // wait up to 5 minutes
	if err != nil {
		return nil, fmt.Errorf("migrations: session locker: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, files, goose.WithSessionLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("migrations: goose provider: %w", err)
	}
	return p, nil
}

// Up applies every migration not applied yet to the database at url (`mhfz migrate up` without
// its passwords and its report), for the tests and tools that need a migrated database.
func Up(ctx context.Context, url string) error {
	db, err := Open(url)
	if err != nil {
		return err
	}
	defer db.Close()
	p, err := NewProvider(db)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: up: %w", err)
	}
	return nil
}
