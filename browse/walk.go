package browse

import (
	"context"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// walkLimit bounds the rows of a statement of the walk (a weapon reached at several depths
// counts once per depth): no tree of both snapshots reaches it (none of their weapons' routes
// makes more than 6 queries); beyond, the tree asks for the rest depth by depth.
const walkLimit = 4 * maxTreeNodes

// maxWalkRounds bounds the statements of a walk: one per table per round, a round for the
// links that left the tables of the round before (a great sword's tree that leads to long
// swords: two rounds).
const maxWalkRounds = 3

// walked is what a walk read of the trees around a weapon: the latest version of every weapon
// it reached, and the keys it looked for and did not find (of a statement that stopped at
// walkLimit, none, since it may not have looked for all).
type walked struct {
	found  map[string]*weaponRecord
	absent map[string]bool
}

// walkRow is one row of the walk's statement: a weapon, how it was reached, and how many rows
// the walk made.
type walkRow struct {
	weaponRecord
	Up    bool  `db:"walk_up"`
	Depth int32 `db:"walk_depth"`
	Rows  int64 `db:"walk_rows"`
}

// walkStarts are where a statement of the walk starts in one table: keys, directions (up:
// upgrade_from) and the depths of the tree they are at.
type walkStarts struct {
	keys   []string
	ups    []bool
	depths []int32
}

func (st *walkStarts) add(key string, up bool, depth int32) {
	st.keys, st.ups, st.depths = append(st.keys, key), append(st.ups, up), append(st.depths, depth)
}

// walk reads the latest version of every weapon of the upgrade trees of row, both directions,
// to maxTreeDepth: for each table, one recursive statement that follows the links of each
// weapon it reads within the table, as nodes does (walkSQL); then, for the links that left
// it, the same from there, at most maxWalkRounds times. Nil when row has no link.
func (s *Server) walk(ctx context.Context, row *weaponRecord) (*walked, error) {
	starts := map[string]*walkStarts{}
	s.follow(starts, row, true, 0, func(string) bool { return false })
	s.follow(starts, row, false, 0, func(string) bool { return false })
	if len(starts) == 0 {
		return nil, nil
	}
	w := &walked{found: map[string]*weaponRecord{}, absent: map[string]bool{}}
	for round := 0; round < maxWalkRounds && len(starts) > 0; round++ {
		next := map[string]*walkStarts{}
		for table, st := range starts {
			if err := s.walkTable(ctx, w, table, st, next); err != nil {
				return nil, err
			}
		}
		starts = next
	}
	return w, nil
}

// follow adds to starts the links of r in one direction, at depth+1, that skip does not drop.
func (s *Server) follow(starts map[string]*walkStarts, r *weaponRecord, up bool, depth int32, skip func(key string) bool) {
	links := r.UpgradeTo
	if up {
		links = r.UpgradeFrom
	}
	for _, n := range s.nodes(r.Page, links) {
		t := tableOfKey(n.Key)
		if t == "" || skip(n.Key) {
			continue
		}
		if starts[t] == nil {
			starts[t] = &walkStarts{}
		}
		starts[t].add(n.Key, up, depth+1)
	}
}

// walkTable runs the walk's statement of table from st into w. When it did not stop at
// walkLimit, it looked for the start keys and for every link into table of every weapon it
// reached above maxTreeDepth: those it did not find are absent; the links into other tables
// that w knows nothing of are where next starts.
func (s *Server) walkTable(ctx context.Context, w *walked, table string, st *walkStarts, next map[string]*walkStarts) error {
	pages := walkPages()[table]
	rows, err := s.db.Query(ctx, walkSQL()[table], st.keys, st.ups, st.depths, pages.names, pages.prefixes, maxTreeDepth, walkLimit)
	if err != nil {
		return err
	}
	read, err := pgx.CollectRows(rows, pgx.RowToAddrOfStructByNameLax[walkRow])
	if err != nil {
		return err
	}
	for _, r := range read {
		w.found[r.Key] = &r.weaponRecord
	}
	if len(read) > 0 && read[0].Rows > walkLimit {
		return nil
	}
	for _, k := range st.keys {
		if w.found[k] == nil {
			w.absent[k] = true
		}
	}
	for _, r := range read {
		if r.Depth >= maxTreeDepth {
			continue
		}
		s.follow(next, &r.weaponRecord, r.Up, r.Depth, func(key string) bool {
			if w.found[key] != nil || w.absent[key] {
				return true
			}
			if tableOfKey(key) == table { // looked for by the statement: not found
				w.absent[key] = true
				return true
			}
			return false
		})
	}
	return nil
}

// lookup returns the latest version of the nodes' weapons: what the walk read, and from the
// database what it did not look for (w may be nil: all from the database).
func (w *walked) lookup(ctx context.Context, s *Server, nodes []*Node) (map[string]*weaponRecord, error) {
	if w == nil {
		return s.lookup(ctx, nodes)
	}
	out := make(map[string]*weaponRecord, len(nodes))
	var rest []*Node
	for _, n := range nodes {
		if r, ok := w.found[n.Key]; ok {
			out[n.Key] = r
		} else if !w.absent[n.Key] {
			rest = append(rest, n)
		}
	}
	if len(rest) == 0 {
		return out, nil
	}
	more, err := s.lookup(ctx, rest)
	for k, r := range more {
		out[k] = r
	}
	return out, err
}

// treeColumns are the columns a tree reads of a weapon: what nodeWeapon shows, and its links.
func treeColumns(alias string) string {
	cols := []string{"key", "page", "name", "weapon_type", "page_kind", "rarity", "g_rank", "attack", "upgrade_from", "upgrade_to"}
	for i, c := range cols {
		cols[i] = alias + "." + c
	}
	return strings.Join(cols, ", ")
}

// tablePages are the weapon pages of one table, each with the start of its weapons' keys.
type tablePages struct{ names, prefixes []string }

// walkPages are the pages of each weapon table: how the walk turns a link (page, row id) into
// a key, as nodes does with codecs.
var walkPages = sync.OnceValue(func() map[string]*tablePages {
	out := map[string]*tablePages{}
	for _, t := range codecs.WeaponTypes {
		for kind := range codecs.PageKinds() {
			table := tableOf(string(t), string(kind))
			if out[table] == nil {
				out[table] = &tablePages{}
			}
			p := out[table]
			p.names = append(p.names, codecs.PageName(t, kind))
			p.prefixes = append(p.prefixes, codecs.RecordKey(t, kind, "", 1))
		}
	}
	return out
})

// walkSQL is the walk's statement of each weapon table. Its parameters: the start keys, their
// directions (up: upgrade_from) and depths, the table's pages and their keys' prefix
// (walkPages), maxTreeDepth and walkLimit.
//
// walk holds (key, direction, depth); each step reads the latest version of a weapon by the
// table's primary key and follows its links in the same direction to the table's pages. A
// weapon reached at several depths is read once per depth (UNION drops only the same row
// twice), cycles included, up to maxTreeDepth; walkLimit stops a walk of a graph too large.
// Then the latest version of each weapon reached, with the direction and the smallest depth it
// was reached at, and the number of rows of the walk (more than walkLimit: it stopped). One
// statement per table rather than one over every table: planned once per connection, a
// statement with a branch per table took 40 ms to plan.
var walkSQL = sync.OnceValue(func() map[string]string {
	out := map[string]string{}
	for _, t := range migrations.WeaponTables() {
		latest := func(cols string) string {
			return `SELECT ` + cols + ` FROM ` + pgx.Identifier{t}.Sanitize() + ` t WHERE t.key = w.key ORDER BY t.version DESC LIMIT 1`
		}
		out[t] = `WITH RECURSIVE walk(key, up, depth) AS (
		SELECT s.key, s.up, s.depth FROM unnest($1::text[], $2::boolean[], $3::integer[]) AS s(key, up, depth)
		UNION
		SELECT p.prefix || (ref->>'row_id'), w.up, w.depth + 1
		FROM walk w
		CROSS JOIN LATERAL (` + latest("t.page, t.upgrade_from, t.upgrade_to") + `) r
		CROSS JOIN LATERAL (SELECT CASE WHEN w.up THEN r.upgrade_from ELSE r.upgrade_to END AS l) d
		CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(d.l) = 'array' THEN d.l END) ref
		JOIN unnest($4::text[], $5::text[]) AS p(page, prefix) ON p.page = coalesce(nullif(ref->>'page', ''), r.page)
		WHERE w.depth < $6 AND coalesce(ref->>'row_id', '') <> ''
	), stopped AS MATERIALIZED (SELECT * FROM walk LIMIT $7 + 1),
	reached AS (SELECT key, up, min(depth) AS depth FROM stopped GROUP BY key, up)
	SELECT r.*, w.up AS walk_up, w.depth AS walk_depth, (SELECT count(*) FROM stopped) AS walk_rows
	FROM reached w CROSS JOIN LATERAL (` + latest(treeColumns("t")) + `) r`
	}
	return out
})
