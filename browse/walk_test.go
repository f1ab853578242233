package browse

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// treeRow is one version of a weapon of the test's graph. Links are "page#row" ("#row": the
// same page); null stores a JSON null instead of the links.
type treeRow struct {
	table, page, row string
	version          int64
	hidden, null     bool
	from, to         []string
}

// treeGraph is a graph of upgrades with what the walk must get right: a chain deeper than
// maxTreeDepth, a cycle, links to missing weapons, to another page of the same table and to
// another table and back, a weapon whose latest version changed its links, a level row, a
// JSON null, a link without row id, a tree larger than maxTreeNodes, and one larger than
// walkLimit (the walk stops, the tree's walk asks for the rest).
func treeGraph() []treeRow {
	gs, gsG, partner := "taiken.htm", "taiken_g.htm", "taiken_partnya.htm"
	var rows []treeRow
	add := func(r treeRow) { rows = append(rows, r) }
	for i := range 35 {
		r := treeRow{table: "great_sword", page: gs, row: fmt.Sprintf("a%d", i), version: 1}
		if i > 0 {
			r.from = []string{fmt.Sprintf("#a%d", i-1)}
		}
		if i < 34 {
			r.to = []string{fmt.Sprintf("#a%d", i+1)}
		}
		add(r)
	}
	add(treeRow{table: "great_sword", page: gs, row: "c1", version: 1, to: []string{"#c2", "#missing", gsG + "#g1", "#"}})
	add(treeRow{table: "great_sword", page: gs, row: "c2", version: 1, from: []string{"#c1"}, to: []string{"#c3", partner + "#p1"}})
	add(treeRow{table: "great_sword", page: gs, row: "c3", version: 1, from: []string{"#c2"}, to: []string{"#c1", "#a30"}})
	add(treeRow{table: "great_sword", page: gsG, row: "g1", version: 1, from: []string{gs + "#c1"}, to: []string{"#g2", "#lv1"}})
	add(treeRow{table: "great_sword", page: gsG, row: "g2", version: 1, to: []string{"#old"}})
	add(treeRow{table: "great_sword", page: gsG, row: "g2", version: 2, from: []string{"#g1"}, to: []string{gs + "#c3"}})
	add(treeRow{table: "great_sword", page: gsG, row: "lv1", version: 1, hidden: true, to: []string{"#g2"}})
	add(treeRow{table: "great_sword", page: gsG, row: "n1", version: 1, null: true})
	add(treeRow{table: "great_sword", page: gs, row: "n0", version: 1, to: []string{gsG + "#n1", partner + "#gone"}})
	add(treeRow{table: "partner_weapon", page: partner, row: "p1", version: 1, from: []string{gs + "#c2"}, to: []string{"#p2"}})
	add(treeRow{table: "partner_weapon", page: partner, row: "p2", version: 1, from: []string{"#p1"}, to: []string{gs + "#c1", gs + "#nowhere"}})
	// Wide trees: w (20 × 25: over maxTreeNodes) and v (45 × 40: over walkLimit).
	for _, wide := range []struct {
		root        string
		first, next int
	}{{"w", 20, 25}, {"v", 45, 40}} {
		root := treeRow{table: "great_sword", page: gs, row: wide.root, version: 1}
		for i := range wide.first {
			child := treeRow{table: "great_sword", page: gs, row: fmt.Sprintf("%s%d", wide.root, i), version: 1,
				from: []string{"#" + wide.root}}
			root.to = append(root.to, "#"+child.row)
			for j := range wide.next {
				leaf := fmt.Sprintf("%s%d_%d", wide.root, i, j)
				child.to = append(child.to, "#"+leaf)
				add(treeRow{table: "great_sword", page: gs, row: leaf, version: 1, from: []string{"#" + child.row}})
			}
			add(child)
		}
		add(root)
	}
	return rows
}

// refs turns "page#row" links into the stored links.
func refs(links []string) []codecs.WeaponRef {
	out := []codecs.WeaponRef{}
	for _, l := range links {
		var r codecs.WeaponRef
		for i := range l {
			if l[i] == '#' {
				r.Page, r.RowID = l[:i], l[i+1:]
				break
			}
		}
		r.Name = "to " + r.RowID
		out = append(out, r)
	}
	return out
}

func storeTreeGraph(t *testing.T, ctx context.Context, owner string) {
	conn, err := pgx.Connect(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	byTable := map[string][][]any{}
	for i, r := range treeGraph() {
		typ, kind, err := codecs.ParsePageName(r.page)
		if err != nil {
			t.Fatal(err)
		}
		var from, to any = refs(r.from), refs(r.to)
		if r.null {
			from, to = json.RawMessage("null"), json.RawMessage("null")
		}
		byTable[r.table] = append(byTable[r.table], []any{codecs.RecordKey(typ, kind, r.row, 1), r.version, "h", string(typ),
			string(kind), "ken", r.page, "http://x/" + r.page, r.row, r.hidden, time.Now(), "t", 0, int64(i), "weapon " + r.row,
			int32(100 + i), from, to})
	}
	cols := []string{"key", "version", "content_hash", "weapon_type", "page_kind", "layout", "page", "url", "row_id", "hidden",
		"scraped_at", "kafka_topic", "kafka_partition", "kafka_offset", "name", "attack", "upgrade_from", "upgrade_to"}
	for table, rows := range byTable {
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows)); err != nil {
			t.Fatalf("store %s: %v", table, err)
		}
	}
}

// countQueries counts the queries of a server's connections.
type countQueries struct{ n atomic.Int64 }

func (c *countQueries) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *countQueries) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestWalkBuildsTheSameTree: the tree of every weapon of treeGraph, built from the walk's one
// statement, is the tree built one query per depth (the way before the walk), and the walk
// asks no more queries: one for a tree within its table.
func TestWalkBuildsTheSameTree(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	owner := testenv.DatabaseURL(t)
	db, err := migrations.Open(owner)
	if err != nil {
		t.Fatal(err)
	}
	p, err := migrations.NewProvider(db)
	if err == nil {
		_, err = p.Up(ctx)
	}
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	storeTreeGraph(t, ctx, owner)
	cfg := DefaultConfig()
	queries := &countQueries{}
	cfg.DatabaseURL, cfg.QueryTracer = testenv.RoleURL(t, owner, migrations.ReaderRole), queries
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.db, err = pgxpool.NewWithConfig(ctx, s.pool); err != nil {
		t.Fatal(err)
	}
	defer s.db.Close()
	// One statement per table and round: c1's tree goes from the great swords to the partners and
	// back (three rounds), n0's to a partner that is missing (two).
	want := map[string]int64{"great_sword/base/a0": 1, "great_sword/base/a34": 1, "great_sword/base/w": 1,
		"great_sword/base/c1": 3, "great_sword/base/n0": 2}
	checked := map[string]bool{}
	for _, r := range treeGraph() {
		typ, kind, _ := codecs.ParsePageName(r.page)
		key := codecs.RecordKey(typ, kind, r.row, 1)
		if checked[key] {
			continue
		}
		checked[key] = true
		row, err := s.readWeapon(ctx, r.table, key)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		before := queries.n.Load()
		old, err := s.upgradesVia(ctx, row, nil)
		if err != nil {
			t.Fatalf("%s, one query per depth: %v", key, err)
		}
		between := queries.n.Load()
		walked, err := s.upgrades(ctx, row)
		if err != nil {
			t.Fatalf("%s, walked: %v", key, err)
		}
		after := queries.n.Load()
		a, _ := json.Marshal(old)
		b, _ := json.Marshal(walked)
		if string(a) != string(b) {
			t.Errorf("%s: the walk's tree differs:\n%s\none query per depth:\n%s", key, b, a)
		}
		if n, ok := want[key]; ok && after-between != n {
			t.Errorf("%s: the walk made %d queries, want %d (one query per depth: %d)", key, after-between, n, between-before)
		}
		// At worst (a walk stopped at walkLimit), the walk's statement and then what the tree
		// asked before.
		if after-between > between-before+1 {
			t.Errorf("%s: the walk made %d queries, one per depth made %d", key, after-between, between-before)
		}
	}
	// What the graph is there for.
	for key, check := range map[string]func(Upgrades) bool{
		"great_sword/base/a0": func(u Upgrades) bool { return u.Truncated }, // deeper than maxTreeDepth
		"great_sword/base/w":  func(u Upgrades) bool { return u.Truncated }, // more than maxTreeNodes
		"great_sword/base/c1": func(u Upgrades) bool { return len(u.To) == 4 && !u.To[1].Found && u.To[3].Key == "" },
	} {
		row, err := s.readWeapon(ctx, tableOfKey(key), key)
		if err != nil {
			t.Fatal(err)
		}
		if u, err := s.upgrades(ctx, row); err != nil || !check(u) {
			b, _ := json.Marshal(u)
			t.Errorf("%s: unexpected tree (%v): %s", key, err, b)
		}
	}
}
