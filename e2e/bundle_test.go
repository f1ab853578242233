package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/browse"
	"github.com/mhfz/mhfz-pipeline/bundle"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// TestPublishNewestSnapshot stores the newest snapshot, whole, through the router and the sink,
// publishes the dataset with the binary (`mhfz publish`, as mhfz_reader) and checks it against
// PostgreSQL: the manifest's files (size, SHA-256, rows per table), the SQLite file opened by
// Debian's sqlite3 (rows per table, ten random weapons), the CSV columns those of mhfz serve's
// export, `mhfz export` by hand giving the same version and the same bytes; then mhfz serve
// serves the files, and the browser opens them from the web page.
func TestPublishNewestSnapshot(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: stores the newest snapshot")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	d := newDeployment(t, ctx, "bundle")
	live := d.start(ctx, nil, "bundle")
	d.emit(snapshotRecords(t, testenv.Newest))
	d.waitStored(ctx, live)
	live.halt(t)
	u, err := url.Parse(d.url)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(migrations.ReaderRole)
	reader := u.String()

	out := t.TempDir()
	env := []string{"MHFZ_PUBLISH_DATABASE_URL=" + reader}
	start := time.Now()
	runService(t, ctx, env, "publish", "--out", out, "--keep", "2")
	t.Logf("mhfz publish over the newest snapshot took %s", time.Since(start).Round(time.Millisecond))
	version, err := bundle.ReadLatest(out)
	if err != nil || version == "" {
		t.Fatalf("latest after mhfz publish: %q, %v", version, err)
	}
	m, err := bundle.ReadManifest(filepath.Join(out, version))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	checkManifestAgainstTables(t, ctx, conn, filepath.Join(out, version), m)
	sqliteFile := filepath.Join(out, version, m.Files[0].Name)
	checkSQLiteAgainstTables(t, ctx, conn, sqliteFile)

	// By hand: the same version, the same bytes.
	exported := t.TempDir()
	runService(t, ctx, env, "export", "--format", "csv,sqlite", "--out", exported)
	em, err := bundle.ReadManifest(exported)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range em.Files {
		i := slices.IndexFunc(m.Files, func(p bundle.File) bool { return p.Name == f.Name })
		if em.Version != version || i < 0 || (f.Format == "csv" && m.Files[i].SHA256 != f.SHA256) {
			t.Errorf("mhfz export: version %s, file %s (%s); mhfz publish: %s", em.Version, f.Name, f.SHA256, version)
		}
	}
	// Again, unchanged: nothing written.
	runService(t, ctx, env, "publish", "--out", out, "--keep", "2")
	if entries, _ := os.ReadDir(out); len(entries) != 2 {
		t.Errorf("a second publication of the same data left %d entries in the folder, want the version and latest", len(entries))
	}

	base := startServe(t, ctx, reader, func(c *browse.Config) { c.DownloadsDir = out })
	checkDownloadsBrowser(t, base, m)
}

// checkManifestAgainstTables: every file of the manifest is there with its size and SHA-256,
// and its rows are those of PostgreSQL (the SQLite file: every version; the others: the table's
// current rows); the CSV files have the columns of mhfz serve's export.
func checkManifestAgainstTables(t *testing.T, ctx context.Context, conn *pgx.Conn, dir string, m *bundle.Manifest) {
	t.Helper()
	var all int64
	current := map[string]int64{}
	for _, tbl := range migrations.WeaponTables() {
		var n, c int64
		if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT (SELECT count(*) FROM %[1]s), (SELECT count(*) FROM %[1]s_current)", tbl)).
			Scan(&n, &c); err != nil {
			t.Fatal(err)
		}
		all, current[tbl] = all+n, c
	}
	if !slices.Equal(bundle.CSVColumns, browse.ExportColumns) {
		t.Errorf("the CSV files' columns %v are not those of mhfz serve's export %v", bundle.CSVColumns, browse.ExportColumns)
	}
	var size int64
	for _, f := range m.Files {
		want := current[f.Table]
		if f.Format == "sqlite" {
			want = all
		}
		if f.Rows != want {
			t.Errorf("%s: %d rows in the manifest, %d in PostgreSQL", f.Name, f.Rows, want)
		}
		data, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if int64(len(data)) != f.Size || hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Errorf("%s: %d bytes, SHA-256 %x; the manifest says %d, %s", f.Name, len(data), sum, f.Size, f.SHA256)
		}
		if f.Format == "csv" {
			head, _, _ := strings.Cut(string(data), "\n")
			if head != strings.Join(browse.ExportColumns, ",") {
				t.Errorf("%s begins %q", f.Name, head)
			}
		}
		size += f.Size
		t.Logf("%-50s %10d bytes %7d rows", f.Name, f.Size, f.Rows)
	}
	t.Logf("version %s: %d files, %d bytes, %d rows in the weapon tables", m.Version, len(m.Files), size, all)
}

// checkSQLiteAgainstTables opens the SQLite file with Debian's sqlite3 and compares its rows per
// table (every version, current ones) and ten weapons drawn at random with PostgreSQL.
func checkSQLiteAgainstTables(t *testing.T, ctx context.Context, conn *pgx.Conn, file string) {
	t.Helper()
	var want, stmts []string
	for _, tbl := range migrations.WeaponTables() {
		var n, c int64
		if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT (SELECT count(*) FROM %[1]s), (SELECT count(*) FROM %[1]s_current)", tbl)).
			Scan(&n, &c); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%s|%d|%d", tbl, n, c))
		stmts = append(stmts, fmt.Sprintf("SELECT '%[1]s', (SELECT count(*) FROM %[1]s_history), (SELECT count(*) FROM %[1]s);", tbl))
	}
	if got := sqlite3(t, file, strings.Join(stmts, "\n")); !slices.Equal(got, want) {
		t.Errorf("rows per table in the SQLite file %v, in PostgreSQL %v", got, want)
	}
	rows, err := conn.Query(ctx, "SELECT weapon_table, key FROM "+migrations.LatestTable+" ORDER BY random() LIMIT 10")
	if err != nil {
		t.Fatal(err)
	}
	picks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var p [2]string
		return p, r.Scan(&p[0], &p[1])
	})
	if err != nil || len(picks) != 10 {
		t.Fatalf("draw ten weapons: %v (%d)", err, len(picks))
	}
	for _, p := range picks {
		var pg string
		if err := conn.QueryRow(ctx, fmt.Sprintf(`SELECT concat_ws('|', key, version, name, hidden::int, attack, rarity, price,
			elements::text, sharpness::text, materials::text, upgrade_from::text, upgrade_to::text) FROM %s_current WHERE key = $1`, p[0]),
			p[1]).Scan(&pg); err != nil {
			t.Fatal(err)
		}
		// Debian 12's sqlite3 (3.40) has no concat_ws: NULL is left out as concat_ws does.
		got := sqlite3(t, file, fmt.Sprintf(`SELECT key || '|' || version || '|' || name || '|' || hidden ||
			coalesce('|' || attack, '') || coalesce('|' || rarity, '') || coalesce('|' || price, '') ||
			coalesce('|' || elements, '') || coalesce('|' || sharpness, '') || coalesce('|' || materials, '') ||
			coalesce('|' || upgrade_from, '') || coalesce('|' || upgrade_to, '') FROM "%s" WHERE key = '%s';`,
			p[0], strings.ReplaceAll(p[1], "'", "''")))
		if strings.Join(got, "\n") != pg {
			t.Errorf("weapon %s:\n SQLite     %q\n PostgreSQL %q", p[1], got, pg)
		}
	}
	t.Logf("ten random weapons the same in the SQLite file and PostgreSQL: %v", picks)
}

// sqlite3 runs statements with Debian's sqlite3 on a file, read-only, and returns its output
// lines (columns separated by |).
func sqlite3(t *testing.T, file, stmts string) []string {
	t.Helper()
	cmd := exec.Command(testenv.SQLite3(t), "-readonly", "-batch", "-noheader", "-list", file)
	cmd.Stdin = strings.NewReader(stmts)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 %s: %v: %s", file, err, out)
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}
