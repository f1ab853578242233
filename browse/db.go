package browse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/startup"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// check checks once, at start, that the database has the schema and that the role can read
// every weapon table and view; it returns what to do otherwise. It warns when the role could
// write: the server needs only mhfz_reader.
func (s *Server) check(ctx context.Context) error {
	var user string
	if err := s.db.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil {
		return fmt.Errorf("check the database: %w", err)
	}
	for _, t := range migrations.WeaponTables() {
		for _, rel := range []string{t, t + "_current"} {
			_, err := s.db.Exec(ctx, "SELECT 1 FROM "+pgx.Identifier{rel}.Sanitize()+" LIMIT 0")
			var pgErr *pgconn.PgError
			switch {
			case errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UndefinedTable:
				return fmt.Errorf("table %s does not exist: run mhfz migrate up", rel)
			case errors.As(err, &pgErr) && pgErr.Code == pgerrcode.InsufficientPrivilege:
				return fmt.Errorf("role %s cannot read %s: serve as %s (mhfz migrate up creates it and grants it SELECT)",
					user, rel, migrations.ReaderRole)
			case err != nil:
				return fmt.Errorf("check table %s: %w", rel, err)
			}
		}
	}
	var fn, latest bool
	if err := s.db.QueryRow(ctx, "SELECT to_regproc('mhfz_materials_text') IS NOT NULL, to_regclass($1) IS NOT NULL",
		migrations.LatestTable).Scan(&fn, &latest); err != nil {
		return fmt.Errorf("check the database: %w", err)
	}
	if !fn {
		return errors.New("the database lacks migration 00008 (mhfz_materials_text): run mhfz migrate up")
	}
	if !latest {
		return errors.New("the database lacks migration 00010 (" + migrations.LatestTable + ", which searches read): run mhfz migrate up")
	}
	var writes bool
	if err := s.db.QueryRow(ctx, "SELECT has_table_privilege('long_sword', 'INSERT')").Scan(&writes); err != nil {
		return fmt.Errorf("check the privileges of %s: %w", user, err)
	}
	if writes {
		s.log.Warn("the database role can write to the weapon tables; the server needs only "+migrations.ReaderRole+
			" (its connections are read-only all the same)", "role", user)
	}
	return nil
}

// unavailable reports whether err says that the database cannot be reached or is not
// accepting queries now (as opposed to a fault of the query).
func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return startup.PostgresNotReady(err)
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connErr) || errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// tableOf returns the table of a weapon type and page kind, or "" if there is none.
func tableOf(weaponType, kind string) string {
	if !codecs.WeaponType(weaponType).Valid() {
		return ""
	}
	if _, ok := codecs.PageKinds()[codecs.PageKind(kind)]; !ok {
		return ""
	}
	if codecs.PageKind(kind) == codecs.KindPartner {
		return migrations.PartnerTable
	}
	return weaponType
}

// tableOfKey returns the table of a weapon key ("long_sword/g/l219C"), or "".
func tableOfKey(key string) string {
	t, rest, ok := strings.Cut(key, "/")
	if !ok {
		return ""
	}
	kind, _, _ := strings.Cut(rest, "/")
	return tableOf(t, kind)
}

// dbError turns a database error into what the client may see: a timeout or an unavailable
// database is a 503 that says so, anything else an internal error (logged, never shown).
func (s *Server) dbError(ctx context.Context, what string, err error) error {
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &pgErr) && pgErr.Code == pgerrcode.QueryCanceled:
		return &apiError{status: 503, msg: what + " took too long: narrow it (a weapon type, a longer name, fewer rows)"}
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return errClientGone
	case unavailable(err):
		return &apiError{status: 503, msg: "the database is not available; try again in a moment", cause: err}
	}
	return fmt.Errorf("%s: %w", what, err)
}
