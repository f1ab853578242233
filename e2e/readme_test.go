package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// readmeQueries returns the SQL statements of the ```sql blocks of the user's pages: the
// README's three queries and those of docs/ (the example queries, the operations' ones).
func readmeQueries(t testing.TB) []string {
	t.Helper()
	docs, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	inReadme := 0
	for _, path := range append([]string{"../README.md"}, docs...) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, block := range regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(data), -1) {
			for _, stmt := range strings.Split(block[1], ";\n") {
				if stmt = strings.TrimSpace(stmt); stmt != "" {
					out = append(out, stmt)
				}
			}
		}
		if path == "../README.md" {
			inReadme = len(out)
		}
	}
	if inReadme < 3 || len(out) < 14 {
		t.Fatalf("the README has %d SQL statements and the docs %d; their examples are missing", inReadme, len(out)-inReadme)
	}
	return out
}

// checkReadmeQueries runs every example query of the README and docs/ on a database the stack filled:
// each must run, and each SELECT must return at least one row.
func checkReadmeQueries(t *testing.T, ctx context.Context, conn *pgx.Conn) {
	t.Helper()
	for _, q := range readmeQueries(t) {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Errorf("README query failed: %v\n%s", err, q)
			continue
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			t.Errorf("README query failed: %v\n%s", err, q)
		} else if n == 0 && !strings.Contains(q, "changed") && !strings.Contains(q, "IS DISTINCT FROM") &&
			!strings.Contains(q, "version > 1") && !strings.Contains(q, "sink_dead_letter") {
			t.Errorf("README query returned no row on the whole snapshot:\n%s", q)
		}
	}
}

// TestReadmeQueriesOnTheSchema runs every query of the README and docs/ on a freshly migrated,
// empty database: each must run as written against the schema of the migrations (whether they
// return rows is checked on the whole snapshot, by TestStack and TestStackScriptHistory). It is
// the quick check of the docs' SQL, without the stack.
func TestReadmeQueriesOnTheSchema(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	url := testenv.DatabaseURL(t)
	p := migrationsOf(t, url)
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range readmeQueries(t) {
		rows, err := conn.Query(ctx, q)
		if err == nil {
			rows.Close() // reads what is left of the answer, and its error
			err = rows.Err()
		}
		if err != nil {
			t.Errorf("query of the docs failed on the migrated schema: %v\n%s", err, q)
		}
	}
}
