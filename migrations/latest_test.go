package migrations_test

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// TestWeaponLatest: 00010's triggers keep weapon_latest the latest version of every key of the
// weapon tables that is not a level row, whatever the statements on the tables, and 00008's
// indexes are back when it is rolled back.
func TestWeaponLatest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, db := provider(t, testenv.DatabaseURL(t))
	if _, err := p.UpTo(ctx, 9); err != nil {
		t.Fatal(err)
	}
	// A row stored before 00010 is in weapon_latest once it is applied.
	if _, err := db.ExecContext(ctx, "INSERT INTO lance "+cols+" VALUES "+row("lance", "old", 1, false, "Old Lance")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 10); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"old": "1 Old Lance lance"}
	check(t, ctx, db, "after the migration", want)
	steps := []struct {
		what, sql string
		want      map[string]string // changed keys; "" removes one
	}{
		{"a first version", "INSERT INTO bow " + cols + " VALUES " + row("bow", "a", 1, false, "Bow A"),
			map[string]string{"a": "1 Bow A bow"}},
		{"two newer versions in one statement", "INSERT INTO bow " + cols + " VALUES " + row("bow", "a", 3, false, "Bow A3") +
			", " + row("bow", "a", 2, false, "Bow A2"), map[string]string{"a": "3 Bow A3 bow"}},
		{"an older version again (a duplicate, not inserted)", "INSERT INTO bow " + cols + " VALUES " +
			row("bow", "a", 1, false, "Other") + " ON CONFLICT DO NOTHING", nil},
		{"a level row", "INSERT INTO bow " + cols + " VALUES " + row("bow", "lv", 1, true, "Bow Lv2"), nil},
		{"a weapon whose newer version is a level row", "INSERT INTO bow " + cols + " VALUES " +
			row("bow", "b", 1, false, "Bow B") + "; INSERT INTO bow " + cols + " VALUES " + row("bow", "b", 2, true, "Bow B"), nil},
		{"a visible version older than a level row, in one statement", "INSERT INTO bow " + cols + " VALUES " +
			row("bow", "c", 1, false, "Bow C") + ", " + row("bow", "c", 2, true, "Bow C"), nil},
		{"an older version after a newer one", "INSERT INTO long_sword " + cols + " VALUES " +
			row("long_sword", "d", 2, false, "Katana D2") + "; INSERT INTO long_sword " + cols + " VALUES " +
			row("long_sword", "d", 1, false, "Katana D1"), map[string]string{"d": "2 Katana D2 long_sword"}},
		{"a partner", "INSERT INTO partner_weapon " + cols + " VALUES " + row("hammer", "p", 1, false, "Partner Hammer"),
			map[string]string{"p": "1 Partner Hammer partner_weapon"}},
		{"the latest version deleted", "DELETE FROM bow WHERE key = 'a' AND version = 3", map[string]string{"a": "2 Bow A2 bow"}},
		{"the level row deleted", "DELETE FROM bow WHERE key = 'b' AND version = 2", map[string]string{"b": "1 Bow B bow"}},
		{"a name updated", "UPDATE bow SET name = 'Bow A2 renamed' WHERE key = 'a' AND version = 2",
			map[string]string{"a": "2 Bow A2 renamed bow"}},
		{"a table truncated", "TRUNCATE bow", map[string]string{"a": "", "b": ""}},
	}
	for _, s := range steps {
		if _, err := db.ExecContext(ctx, s.sql); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		for k, v := range s.want {
			if v == "" {
				delete(want, k)
			} else {
				want[k] = v
			}
		}
		check(t, ctx, db, s.what, want)
	}
	if _, err := p.DownTo(ctx, 9); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_indexes WHERE indexname IN ('bow_visible_idx', 'bow_name_trgm_idx')`).Scan(&n); err != nil || n != 2 {
		t.Errorf("00008's indexes of bow after rolling 00010 back: %d (%v), want 2", n, err)
	}
}

// cols are the columns row gives.
const cols = `(key, version, content_hash, weapon_type, page_kind, layout, page, url, row_id, hidden, scraped_at,
	kafka_topic, kafka_partition, kafka_offset, name, attack)`

// row is a weapon row of a test: weaponType's, of the partners' table if the key is "p".
func row(weaponType, key string, version int, hidden bool, name string) string {
	kind := "base"
	if key == "p" {
		kind = "partner"
	}
	return fmt.Sprintf("('%s', %d, 'h%d', '%s', '%s', 'blademaster', 'x.htm', 'u', 'r%s', %t, now(), 't', 0, %d, '%s', %d)",
		key, version, version, weaponType, kind, key, hidden, version, name, 100*version)
}

// check fails unless weapon_latest holds want: key -> "version name weapon_table", each row with
// its attack and its name in lower case.
func check(t *testing.T, ctx context.Context, db *sql.DB, what string, want map[string]string) {
	t.Helper()
	rows, err := db.QueryContext(ctx, `SELECT key, version || ' ' || name || ' ' || weapon_table,
		name_lower = lower(name) AND attack = 100 * version FROM weapon_latest`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var k, v string
		var ok bool
		if err := rows.Scan(&k, &v, &ok); err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Errorf("%s: row %s %s has the wrong name_lower or attack", what, k, v)
		}
		got[k] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Errorf("%s: weapon_latest holds\n%v\nwant\n%v", what, got, want)
	}
}
