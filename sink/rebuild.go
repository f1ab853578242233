package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// ErrRebuilding says that a re-processing has started and not switched yet: the weapon topics
// hold the records of the new build, which belong to the rebuilt tables, not to the live ones.
// The live sink waits until it is over (retryable).
var ErrRebuilding = errors.New("a re-processing (mhfz reprocess) is in progress")

// Rebuild is the PostgreSQL side of a re-processing: the marker that holds the live sink, the
// rebuilt tables, and the switch that puts them in place of the live ones.
type Rebuild struct {
	pool          *pgxpool.Pool
	live, rebuild string // the consumers (kafka_offsets, dead letters, conflicts) of both sinks
}

// NewRebuild connects to the database; live and rebuild name the live sink and the
// re-processing's sink (codecs.Names' SinkConsumer and SinkRebuildConsumer).
func NewRebuild(ctx context.Context, databaseURL, live, rebuild string) (*Rebuild, error) {
	if live == "" || rebuild == "" || live == rebuild {
		return nil, fmt.Errorf("rebuild: consumers %q and %q must be two names", live, rebuild)
	}
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("rebuild: database: %w", err)
	}
	return &Rebuild{pool: pool, live: live, rebuild: rebuild}, nil
}

// Close closes the connections.
func (r *Rebuild) Close() { r.pool.Close() }

// Prepare starts (or starts again) a re-processing, in one transaction: it sets the marker,
// creates the rebuilt tables empty (like the live ones, indexes and constraints included) and
// forgets what the re-processing's sink stored before.
func (r *Rebuild) Prepare(ctx context.Context) error {
	return pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO pipeline_rebuild (consumer) VALUES ($1)
			ON CONFLICT (singleton) DO UPDATE SET started_at = now(), consumer = EXCLUDED.consumer`, r.rebuild); err != nil {
			return fmt.Errorf("rebuild: set the marker: %w", err)
		}
		// weapon_latest first: the triggers of the weapon tables write the one of their schema.
		tables := append([]string{migrations.LatestTable}, migrations.WeaponTables()...)
		if err := emptyRebuildSchema(ctx, tx, tables); err != nil {
			return err
		}
		for _, t := range tables {
			if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (LIKE %s INCLUDING ALL)",
				pgx.Identifier{migrations.RebuildSchema, t}.Sanitize(), pgx.Identifier{"public", t}.Sanitize())); err != nil {
				return fmt.Errorf("rebuild: create table %s.%s: %w", migrations.RebuildSchema, t, err)
			}
			if t == migrations.LatestTable {
				continue
			}
			// LIKE copies no trigger: the rebuilt table gets those that keep its weapon_latest.
			rebuilt := pgx.Identifier{migrations.RebuildSchema, t}.Sanitize()
			if _, err := tx.Exec(ctx, "SELECT mhfz_latest_triggers($1::regclass)", rebuilt); err != nil {
				return fmt.Errorf("rebuild: create the triggers of %s.%s: %w", migrations.RebuildSchema, t, err)
			}
		}
		return forgetConsumer(ctx, tx, r.rebuild)
	})
}

// Offsets returns the next offsets the re-processing's sink has stored.
func (r *Rebuild) Offsets(ctx context.Context) (kafka.Ends, error) {
	rows, err := r.pool.Query(ctx, `SELECT topic, partition, next_offset FROM kafka_offsets WHERE consumer = $1`, r.rebuild)
	if err != nil {
		return nil, fmt.Errorf("rebuild: read offsets: %w", err)
	}
	next, err := scanOffsets(rows)
	if err != nil {
		return nil, fmt.Errorf("rebuild: read offsets: %w", err)
	}
	return next, nil
}

// Switch puts the rebuilt tables in place of the live ones, in one transaction: readers see the
// old tables until it commits and the new ones after, never a mix or an empty table. The live
// sink takes over the re-processing sink's offsets, dead letters and conflicts, and the marker
// is removed. The old tables are dropped.
func (r *Rebuild) Switch(ctx context.Context) (time.Time, error) {
	for attempt := 1; ; attempt++ {
		started, err := r.trySwitch(ctx)
		var pgErr *pgconn.PgError
		if err == nil || attempt == switchAttempts || !errors.As(err, &pgErr) ||
			(pgErr.Code != pgerrcode.LockNotAvailable && pgErr.Code != pgerrcode.DeadlockDetected) {
			return started, err
		}
		// A reader held a table too long, or a query of several tables took their locks in
		// another order: nothing was changed; try again.
		select {
		case <-ctx.Done():
			return started, ctx.Err()
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
}

// switchAttempts bounds the attempts of a switch that long readers keep waiting.
const switchAttempts = 20

func (r *Rebuild) trySwitch(ctx context.Context) (time.Time, error) {
	var started time.Time
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		// Readers queue behind the switch's locks: hold them briefly, or give up and try again.
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '5s'"); err != nil {
			return fmt.Errorf("rebuild: set lock_timeout: %w", err)
		}
		var err error
		if started, err = r.marker(ctx, tx); err != nil {
			return err
		}
		// weapon_latest first: a search locks it before the weapon tables.
		if err := swapLatest(ctx, tx); err != nil {
			return fmt.Errorf("rebuild: switch %s: %w", migrations.LatestTable, err)
		}
		for _, t := range migrations.WeaponTables() {
			if err := swapTable(ctx, tx, t); err != nil {
				return fmt.Errorf("rebuild: switch %s: %w", t, err)
			}
		}
		// The moved tables are new tables: the sink's and the readers' rights are given again.
		if _, err := tx.Exec(ctx, "SELECT mhfz_service_grants()"); err != nil {
			return fmt.Errorf("rebuild: grant %s and %s their rights on the switched tables: %w",
				migrations.WriterRole, migrations.ReaderRole, err)
		}
		return r.handOver(ctx, tx)
	})
	return started, err
}

// marker locks the marker of the re-processing and returns when it started.
func (r *Rebuild) marker(ctx context.Context, tx pgx.Tx) (time.Time, error) {
	var started time.Time
	err := tx.QueryRow(ctx, `SELECT started_at FROM pipeline_rebuild WHERE consumer = $1 FOR UPDATE`, r.rebuild).Scan(&started)
	if errors.Is(err, pgx.ErrNoRows) {
		return started, errors.New("rebuild: no re-processing is in progress")
	}
	if err != nil {
		return started, fmt.Errorf("rebuild: read the marker: %w", err)
	}
	return started, nil
}

// handOver gives the live sink the re-processing sink's offsets, dead letters and conflicts
// (forgetting its own) and removes the marker. The rebuild schema is left empty: its tables
// were moved into public.
func (r *Rebuild) handOver(ctx context.Context, tx pgx.Tx) error {
	if err := forgetConsumer(ctx, tx, r.live); err != nil {
		return err
	}
	for _, table := range migrations.ConsumerTables() {
		if _, err := tx.Exec(ctx, fmt.Sprintf("UPDATE %s SET consumer = $1 WHERE consumer = $2",
			pgx.Identifier{table}.Sanitize()), r.live, r.rebuild); err != nil {
			return fmt.Errorf("rebuild: hand %s over to %s: %w", table, r.live, err)
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM pipeline_rebuild`); err != nil {
		return fmt.Errorf("rebuild: remove the marker: %w", err)
	}
	return nil
}

// emptyRebuildSchema drops the tables an earlier re-processing left in the rebuild schema. The
// schema itself is mhfz_rebuilder's (migration 00014), which may create tables there but not
// schemas, so it stays.
func emptyRebuildSchema(ctx context.Context, tx pgx.Tx, tables []string) error {
	ids := make([]string, len(tables))
	for i, t := range tables {
		ids[i] = pgx.Identifier{migrations.RebuildSchema, t}.Sanitize()
	}
	if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+strings.Join(ids, ", ")+" CASCADE"); err != nil {
		return fmt.Errorf("rebuild: empty schema %s: %w", migrations.RebuildSchema, err)
	}
	return nil
}

// swapTable replaces public's table by the rebuilt one, with the view and function readers use.
func swapTable(ctx context.Context, tx pgx.Tx, table string) error {
	live := pgx.Identifier{"public", table}.Sanitize()
	view := pgx.Identifier{"public", table + "_current"}.Sanitize()
	stmts := []string{
		// The view first, then its table: the order in which a query of the view locks them, so
		// that a reader of one view never deadlocks with the switch.
		"LOCK TABLE " + view + " IN ACCESS EXCLUSIVE MODE",
		"LOCK TABLE " + live + " IN ACCESS EXCLUSIVE MODE",
		"DROP VIEW " + view,
		"DROP FUNCTION " + pgx.Identifier{"public", table + "_history"}.Sanitize() + "(text)",
		"DROP TABLE " + live,
		"ALTER TABLE " + pgx.Identifier{migrations.RebuildSchema, table}.Sanitize() + " SET SCHEMA public",
	}
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	if _, err := tx.Exec(ctx, "SELECT mhfz_weapon_views($1)", table); err != nil {
		return fmt.Errorf("recreate the views: %w", err)
	}
	return nil
}

// swapLatest replaces public's weapon_latest by the rebuilt one.
func swapLatest(ctx context.Context, tx pgx.Tx) error {
	live := pgx.Identifier{"public", migrations.LatestTable}.Sanitize()
	for _, stmt := range []string{
		"LOCK TABLE " + live + " IN ACCESS EXCLUSIVE MODE",
		"DROP TABLE " + live,
		"ALTER TABLE " + pgx.Identifier{migrations.RebuildSchema, migrations.LatestTable}.Sanitize() + " SET SCHEMA public",
	} {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}

// forgetConsumer deletes a consumer's offsets, dead letters and conflicts.
func forgetConsumer(ctx context.Context, tx pgx.Tx, consumer string) error {
	for _, table := range migrations.ConsumerTables() {
		if _, err := tx.Exec(ctx, fmt.Sprintf("DELETE FROM %s WHERE consumer = $1", pgx.Identifier{table}.Sanitize()),
			consumer); err != nil {
			return fmt.Errorf("rebuild: forget %s of %s: %w", table, consumer, err)
		}
	}
	return nil
}

// rebuilding reports ErrRebuilding while a re-processing is in progress.
func rebuilding(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) error {
	var started time.Time
	err := q.QueryRow(ctx, `SELECT started_at FROM pipeline_rebuild`).Scan(&started)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("%w (started at %s): the live tables stay as they are until it switches; "+
		"if it was interrupted, run it again", ErrRebuilding, started.UTC().Format(time.RFC3339))
}
