package migrations_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// TestWeaponTablesFunction: the SQL function future migrations loop over (00011) names the same
// tables, in the same order, as migrations.WeaponTables() in Go; and they are exactly the
// tables of the schema that have a <table>_current view and a <table>_history function.
func TestWeaponTablesFunction(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, db := provider(t, testenv.DatabaseURL(t))
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	names := func(query string) []string {
		t.Helper()
		rows, err := db.QueryContext(ctx, query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			out = append(out, name)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := names("SELECT t FROM unnest(mhfz_weapon_tables()) WITH ORDINALITY AS u(t, n) ORDER BY n")
	if want := migrations.WeaponTables(); !slices.Equal(got, want) {
		t.Errorf("mhfz_weapon_tables() = %q\nmigrations.WeaponTables() = %q", got, want)
	}
	// What the migrations created: every table of public with a _current view over it and a
	// _history function.
	created := names(`SELECT c.relname FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
		WHERE c.relkind = 'r'
		  AND to_regclass('public.' || quote_ident(c.relname || '_current')) IS NOT NULL
		  AND to_regprocedure('public.' || quote_ident(c.relname || '_history') || '(text)') IS NOT NULL
		ORDER BY c.relname`)
	slices.Sort(got)
	if !slices.Equal(got, created) {
		t.Errorf("mhfz_weapon_tables() = %q, but the weapon tables of the schema are %q", got, created)
	}
	// The recipe of the package's doc for recreating the views of every table runs as written
	// (in a transaction rolled back: the schema stays as the migrations left it).
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, recreateViews); err != nil {
		t.Fatalf("the views again by mhfz_weapon_tables() and mhfz_weapon_views: %v", err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM long_sword_current").Scan(&n); err != nil {
		t.Errorf("long_sword_current after the recipe: %v", err)
	}
}

// recreateViews is the package doc's recipe.
const recreateViews = `DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY mhfz_weapon_tables() LOOP
        EXECUTE format('DROP VIEW %I', t || '_current');
        EXECUTE format('DROP FUNCTION %I(text)', t || '_history');
        PERFORM mhfz_weapon_views(t);
    END LOOP;
END
$$`

// TestMigrationVersions: the versions are 1, 2, ... without a repeat, and 7 is the only number
// missing (see the package's doc). goose needs no option for the gap: a number that was never
// used is not a missing migration. It would refuse one added below the version a database is
// at (a "missing (out-of-order)" migration), which is why 00007 must stay unused.
func TestMigrationVersions(t *testing.T) {
	p, _ := provider(t, "postgres://unused@localhost/unused") // ListSources reads the embedded files only
	var missing []int64
	next := int64(1)
	for _, s := range p.ListSources() {
		if s.Version < next {
			t.Fatalf("version %d (%s) after %d", s.Version, s.Path, next-1)
		}
		for ; next < s.Version; next++ {
			missing = append(missing, next)
		}
		next = s.Version + 1
	}
	if !slices.Equal(missing, []int64{7}) {
		t.Errorf("missing versions %v, want [7] only (a new migration takes the number after the highest)", missing)
	}
}
