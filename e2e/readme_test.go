package e2e

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// readmeQueries returns the SQL statements of the README's ```sql blocks.
func readmeQueries(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, block := range regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(data), -1) {
		for _, stmt := range strings.Split(block[1], ";\n") {
			if stmt = strings.TrimSpace(stmt); stmt != "" {
				out = append(out, stmt)
			}
		}
	}
	if len(out) < 8 {
		t.Fatalf("the README has %d SQL statements; its examples are missing", len(out))
	}
	return out
}

// checkReadmeQueries runs every example query of the README on a database the stack filled:
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
