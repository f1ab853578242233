package bundle_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// sqlite3 runs statements with Debian's sqlite3 command on a file, read-only, and returns its
// output lines (columns separated by |).
func sqlite3(t *testing.T, file, stmts string) []string {
	t.Helper()
	cmd := exec.Command(testenv.SQLite3(t), "-readonly", "-batch", "-noheader", "-list", file)
	cmd.Stdin = strings.NewReader(stmts)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 %s: %v: %s", file, err, out)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// TestSQLiteFileAgainstPostgres: the SQLite file, opened by Debian's sqlite3, holds as many rows
// per table (every version, and current ones) as PostgreSQL, the same ten random weapons, its
// meta, the materials and upgrade links, and an FTS5 index of the names.
func TestSQLiteFileAgainstPostgres(t *testing.T) {
	t.Parallel()
	_, reader := fixtureDB(t)
	out := t.TempDir()
	v := publish(t, config(t, reader, out)).Version
	file := filepath.Join(out, v, "mhfz-weapons-"+v+".sqlite")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	checkCountsAndWeapons(t, ctx, conn, file)
	for _, tc := range []struct{ stmt, want string }{
		{"SELECT value FROM meta WHERE name = 'data_version';", v},
		{"SELECT value FROM meta WHERE name = 'rows.long_sword';", "31"},
		{"SELECT value FROM meta WHERE name = 'last_scraped_at';", "2026-11-02T10:00:00.123456Z"},
		{"SELECT recipe, option, position, item_id, quantity, key_item FROM materials WHERE key = 'long_sword/base/l0001' ORDER BY position;",
			""}, // l0001's second version has no materials
		{"SELECT count(*) FROM long_sword_fts WHERE long_sword_fts MATCH 'katana';", "30"},
		{"SELECT count(*) FROM gunlance_fts WHERE gunlance_fts MATCH '銃槍';", "3"},
		{"SELECT direction, target_key FROM upgrades WHERE key = 'long_sword/base/l0002';", "from|long_sword/base/l0001"},
		{"SELECT is_current FROM long_sword_history WHERE key = 'long_sword/base/l0001' ORDER BY version;", "0\n1"},
	} {
		if got := strings.Join(sqlite3(t, file, tc.stmt), "\n"); got != tc.want {
			t.Errorf("%s\n got %q, want %q", tc.stmt, got, tc.want)
		}
	}
}

// checkCountsAndWeapons compares the SQLite file with PostgreSQL: the rows of every table (every
// version, and the current ones) and ten weapons drawn at random.
func checkCountsAndWeapons(t *testing.T, ctx context.Context, conn *pgx.Conn, file string) {
	t.Helper()
	var pgCounts, stmts []string
	for _, tbl := range migrations.WeaponTables() {
		var all, cur int64
		if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT (SELECT count(*) FROM %[1]s), (SELECT count(*) FROM %[1]s_current)", tbl)).
			Scan(&all, &cur); err != nil {
			t.Fatal(err)
		}
		pgCounts = append(pgCounts, fmt.Sprintf("%s|%d|%d", tbl, all, cur))
		stmts = append(stmts, fmt.Sprintf("SELECT '%[1]s', (SELECT count(*) FROM %[1]s_history), (SELECT count(*) FROM %[1]s);", tbl))
	}
	if got := sqlite3(t, file, strings.Join(stmts, "\n")); strings.Join(got, "\n") != strings.Join(pgCounts, "\n") {
		t.Errorf("rows per table (all, current) in the SQLite file:\n%s\nin PostgreSQL:\n%s", strings.Join(got, "\n"),
			strings.Join(pgCounts, "\n"))
	}
	rows, err := conn.Query(ctx, "SELECT weapon_table, key FROM "+migrations.LatestTable+" ORDER BY random() LIMIT 10")
	if err != nil {
		t.Fatal(err)
	}
	picks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var p [2]string
		return p, r.Scan(&p[0], &p[1])
	})
	if err != nil || len(picks) == 0 {
		t.Fatalf("draw weapons: %v (%d)", err, len(picks))
	}
	for _, p := range picks {
		var want string
		if err := conn.QueryRow(ctx, fmt.Sprintf(`SELECT concat_ws('|', key, version, name, hidden::int, attack, rarity, elements::text,
			materials::text, upgrade_to::text) FROM %s_current WHERE key = $1`, p[0]), p[1]).Scan(&want); err != nil {
			t.Fatal(err)
		}
		// Debian 12's sqlite3 (3.40) has no concat_ws: NULL is left out as concat_ws does.
		got := sqlite3(t, file, fmt.Sprintf(`SELECT key || '|' || version || '|' || name || '|' || hidden ||
			coalesce('|' || attack, '') || coalesce('|' || rarity, '') || coalesce('|' || elements, '') ||
			coalesce('|' || materials, '') || coalesce('|' || upgrade_to, '') FROM "%s" WHERE key = '%s';`,
			p[0], strings.ReplaceAll(p[1], "'", "''")))
		if strings.Join(got, "\n") != want {
			t.Errorf("weapon %s:\n SQLite     %q\n PostgreSQL %q", p[1], got, want)
		}
	}
}
