package sink

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// TestRebuildKeepsTheIndexes: the tables a re-processing creates (mhfz reprocess's Prepare, as
// mhfz_rebuilder) have every index of the live ones, the migrations' latest included (00016's
// suggestions and game ids on weapon_latest), and so do the tables the switch puts in place.
func TestRebuildKeepsTheIndexes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := dbFixture(t)
	before := f.indexes(t, ctx, "public")
	for _, want := range []string{"(mhfz_suggest_name(name_lower) COLLATE \"C\", key)", "(mhfz_game_id(row_id))"} {
		if !slices.ContainsFunc(before["weapon_latest"], func(d string) bool { return strings.Contains(d, want) }) {
			t.Fatalf("the live weapon_latest has no index %s: %q", want, before["weapon_latest"])
		}
	}
	rb, err := NewRebuild(ctx, testenv.RoleURL(t, f.url, migrations.RebuilderRole), string(f.names.SinkConsumer()),
		string(f.names.SinkRebuildConsumer()))
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	if err := rb.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	f.sameIndexes(t, "the rebuilt tables", before, f.indexes(t, ctx, migrations.RebuildSchema))
	if _, err := rb.Switch(ctx); err != nil {
		t.Fatal(err)
	}
	f.sameIndexes(t, "the switched tables", before, f.indexes(t, ctx, "public"))
}

// indexes are the definitions of the indexes of weapon_latest and of every weapon table of a
// schema, by table, without their names (a table created LIKE another names its copies anew).
func (f *fixture) indexes(t *testing.T, ctx context.Context, schema string) map[string][]string {
	t.Helper()
	tables := append(migrations.WeaponTables(), migrations.LatestTable)
	rows, err := f.db.Query(ctx, `SELECT tablename, substring(indexdef FROM ' USING .*$') FROM pg_indexes
		WHERE schemaname = $1 AND tablename = ANY($2) ORDER BY 1, 2`, schema, tables)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var table, def string
		if err := rows.Scan(&table, &def); err != nil {
			t.Fatal(err)
		}
		out[table] = append(out[table], def)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (f *fixture) sameIndexes(t *testing.T, what string, want, got map[string][]string) {
	t.Helper()
	for table, defs := range want {
		if !slices.Equal(got[table], defs) {
			t.Errorf("%s: %s has the indexes\n%q\nthe live one had\n%q", what, table, got[table], defs)
		}
	}
}
