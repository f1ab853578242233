package bundle_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
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
	// The rows per table and ten random weapons against PostgreSQL are checked on the real
	// newest snapshot by e2e/TestPublishNewestSnapshot (checkSQLiteAgainstTables); here, what the
	// fixture makes exact.
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
