// Package migrations owns the PostgreSQL schema of the pipeline: the goose SQL migrations,
// embedded in the binary, and the goose provider that applies them. Two processes may migrate
// at once (two containers starting together): a PostgreSQL session advisory lock serializes
// them, and the second finds nothing left to do.
package migrations

import (
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
