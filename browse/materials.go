package browse

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

var (
	itemParams     = []string{"q", "limit"}
	materialParams = []string{"item_id", "name", "type", "levels", "limit", "after"}
)

// materialsText is the expression of the materials' trigram index of the weapons (not of their
// level rows; 00008_reader.sql): one line "\nITEM_ID\tNAME\n" per item of the recipes and of
// the tower upgrades. materialKeys is that of the index of every row's items: a JSON array of
// their ids and names.
const (
	materialsText = "mhfz_materials_text(w.materials, w.tower)"
	materialKeys  = `(jsonb_path_query_array(coalesce(w.materials, '{}'), '$.*[*][*].item_id') ||
		jsonb_path_query_array(coalesce(w.materials, '{}'), '$.*[*][*].name') ||
		jsonb_path_query_array(coalesce(w.tower, '{}'), '$.upgrades[*].materials[*].item_id') ||
		jsonb_path_query_array(coalesce(w.tower, '{}'), '$.upgrades[*].materials[*].name'))`
)

// ItemCount is an item and how many weapons (not counting their level rows) use it.
type ItemCount struct {
	ItemID string `json:"item_id"`
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
}

// apiItems finds items by a part of their name, or by their id, among the weapons' recipes (the
// level rows' recipes are not searched by name: see materialsText).
func (s *Server) apiItems(w http.ResponseWriter, r *http.Request) error {
	f := newForm(r)
	q, limit := f.text("q"), f.limit(defPageSize)
	if f.err == nil && q == "" {
		f.fail("q: give a part of an item's name, or its id")
	}
	if f.err != nil {
		return f.err
	}
	items, err := s.items(r.Context(), q, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) items(ctx context.Context, q string, limit int) ([]ItemCount, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	args := []any{likePattern(q), "%\t" + likePattern(q), strings.ToUpper(q) + "\t%", limit}
	if !itemIDPattern.MatchString(q) {
		args[2] = "\n" // matches no line (the lines hold no newline)
	}
	var branches []string
	for _, t := range allTables() {
		id := pgx.Identifier{t}.Sanitize()
		branches = append(branches, fmt.Sprintf(`(SELECT w.key, line FROM %[1]s w, regexp_split_to_table(%[2]s, E'\n') AS line
			WHERE NOT w.hidden AND %[2]s ILIKE $1 AND (line ILIKE $2 OR line LIKE $3) AND `+current+`)`, id, materialsText, id))
	}
	rows, err := s.db.Query(ctx, `SELECT line, count(DISTINCT key) FROM (`+strings.Join(branches, " UNION ALL ")+
		`) x GROUP BY line ORDER BY 2 DESC, 1 LIMIT $4`, args...)
	if err != nil {
		return nil, s.dbError(ctx, "the item search", err)
	}
	out := []ItemCount{}
	var line string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&line, &n}, func() error {
		id, name, _ := strings.Cut(line, "\t")
		out = append(out, ItemCount{ItemID: id, Name: name, Rows: n})
		return nil
	})
	if err != nil {
		return nil, s.dbError(ctx, "the item search", err)
	}
	return out, nil
}

// MaterialUse is one weapon row that uses an item, and where in its recipes.
type MaterialUse struct {
	Key        string `json:"key"`
	Name       string `json:"name"`
	WeaponType string `json:"weapon_type"`
	PageKind   string `json:"page_kind"`
	Hidden     bool   `json:"hidden"`
	Level      *int32 `json:"level"`
	Rarity     *int32 `json:"rarity"`
	GRank      *int32 `json:"g_rank"`
	Uses       []Use  `json:"uses"`
}

// Use is one place of an item in a weapon's recipes: the recipe ("creation", "upgrade",
// "g_creation_100", "g_creation_60", or "tower" with the stat), and how many.
type Use struct {
	Recipe   string `json:"recipe"`
	Name     string `json:"name"`
	Quantity int    `json:"quantity"`
	KeyItem  bool   `json:"key_item"`
}

// MaterialPage is one page of the weapons that use an item.
type MaterialPage struct {
	ItemID  string        `json:"item_id"`
	Name    string        `json:"name"`
	Weapons []MaterialUse `json:"weapons"`
	Next    *string       `json:"next"`
}

func (s *Server) apiMaterials(w http.ResponseWriter, r *http.Request) error {
	f := newForm(r)
	page, q := parseMaterials(f)
	if f.err != nil {
		return f.err
	}
	if err := s.materials(r.Context(), page, q); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

type materialQuery struct {
	tables []string
	levels bool
	limit  int
	after  string
}

func parseMaterials(f *form) (*MaterialPage, *materialQuery) {
	p := &MaterialPage{ItemID: strings.ToUpper(f.text("item_id")), Name: f.text("name"), Weapons: []MaterialUse{}}
	switch {
	case p.ItemID == "" && p.Name == "":
		f.fail("give item_id (like 19F3, as in the site's sozai.htm?19F3) or name (an item's whole name)")
	case p.ItemID != "" && p.Name != "":
		f.fail("give item_id or name, not both")
	case p.ItemID != "" && !itemIDPattern.MatchString(p.ItemID):
		f.fail("item_id: %q is not an item id (hexadecimal, like 19F3)", clip(p.ItemID))
	}
	sq := &searchQuery{}
	sq.parseTypes(f)
	q := &materialQuery{tables: sq.tables, levels: f.boolean("levels", true), limit: f.limit(100), after: f.text("after")}
	if q.after != "" && tableOfKey(q.after) == "" {
		f.fail("after: not a cursor: give the next value of the previous page")
	}
	return p, q
}

func (s *Server) materials(ctx context.Context, p *MaterialPage, q *materialQuery) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	keys := []string{p.ItemID}
	if p.ItemID == "" {
		var err error
		if keys, err = s.itemNames(ctx, p.Name); err != nil {
			return s.dbError(ctx, "the material search", err)
		}
	}
	stmt, args := q.usesSQL(keys)
	rows, err := s.db.Query(ctx, stmt, args...)
	if err != nil {
		return s.dbError(ctx, "the material search", err)
	}
	records, err := pgx.CollectRows(rows, pgx.RowToAddrOfStructByNameLax[weaponRecord])
	if err != nil {
		return s.dbError(ctx, "the material search", err)
	}
	for _, r := range records {
		u, err := uses(r.Materials, r.Tower, p)
		if err != nil {
			return fmt.Errorf("the material search: %s: %w", r.Key, err)
		}
		p.Weapons = append(p.Weapons, MaterialUse{Key: r.Key, Name: r.Name, WeaponType: r.WeaponType, PageKind: r.PageKind,
			Hidden: r.Hidden, Level: r.Level, Rarity: r.Rarity, GRank: r.GRank, Uses: u})
	}
	if len(p.Weapons) > q.limit {
		p.Weapons = p.Weapons[:q.limit]
		next := p.Weapons[q.limit-1].Key
		p.Next = &next
	}
	return nil
}

// usesSQL builds the statement of a page of the weapons whose recipes have one of the items
// keys (ids or names), by key.
func (q *materialQuery) usesSQL(keys []string) (string, []any) {
	args := []any{q.after, q.limit + 1}
	var alts []string
	for _, k := range keys {
		b, _ := json.Marshal([]string{k})
		args = append(args, string(b))
		alts = append(alts, materialKeys+" @> $"+strconv.Itoa(len(args))+"::jsonb")
	}
	usesItem := "(" + strings.Join(alts, " OR ") + ")"
	var branches []string
	for _, t := range q.tables {
		id := pgx.Identifier{t}.Sanitize()
		cond := ""
		if !q.levels {
			cond = "NOT w.hidden AND "
		}
		branches = append(branches, fmt.Sprintf(`(SELECT %s FROM %s w WHERE %s%s AND w.key > $1 AND `+current+` ORDER BY w.key LIMIT $2)`,
			columnsOf("w", "w.materials", "w.tower"), id, cond, usesItem, id))
	}
	return "SELECT * FROM (" + strings.Join(branches, " UNION ALL ") + ") x ORDER BY key LIMIT $2", args
}

// itemNames returns name and the spellings of it, in other cases, that the weapons' recipes have
// (the index of the items holds them as written).
func (s *Server) itemNames(ctx context.Context, name string) ([]string, error) {
	var branches []string
	for _, t := range allTables() {
		branches = append(branches, fmt.Sprintf(`(SELECT split_part(line, E'\t', 2) FROM %s w, regexp_split_to_table(%s, E'\n') AS line
			WHERE NOT w.hidden AND %s ILIKE $1 AND line ILIKE $2)`, pgx.Identifier{t}.Sanitize(), materialsText, materialsText))
	}
	rows, err := s.db.Query(ctx, "SELECT DISTINCT * FROM ("+strings.Join(branches, " UNION ALL ")+") x LIMIT 10",
		"%\t"+likeEscape(name)+"\n%", "%\t"+likeEscape(name))
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	if !slices.Contains(names, name) {
		names = append(names, name)
	}
	return names, nil
}

// uses finds the item of p in a weapon's materials and tower upgrades.
func uses(mats, tower []byte, p *MaterialPage) ([]Use, error) {
	match := func(m codecs.Material) bool {
		if p.ItemID != "" {
			return strings.EqualFold(m.ItemID, p.ItemID)
		}
		return strings.EqualFold(m.Name, p.Name)
	}
	out, err := recipeUses(mats, match)
	if err != nil {
		return nil, err
	}
	if tower != nil {
		var t codecs.Tower
		if err := json.Unmarshal(tower, &t); err != nil {
			return nil, fmt.Errorf("decode tower: %w", err)
		}
		for _, u := range t.Upgrades {
			for _, m := range u.Materials {
				if match(m) {
					out = append(out, Use{Recipe: "tower " + u.Stat, Name: m.Name, Quantity: m.Quantity, KeyItem: m.Key})
				}
			}
		}
	}
	return out, nil
}

// recipeUses finds the materials that match in a weapon's recipes, by recipe name.
func recipeUses(mats []byte, match func(codecs.Material) bool) ([]Use, error) {
	out := []Use{}
	if mats == nil {
		return out, nil
	}
	var recipes map[string][][]codecs.Material
	if err := json.Unmarshal(mats, &recipes); err != nil {
		return nil, fmt.Errorf("decode materials: %w", err)
	}
	for _, name := range slices.Sorted(maps.Keys(recipes)) {
		for i, alt := range recipes[name] {
			recipe := name
			if len(recipes[name]) > 1 {
				recipe += " (option " + strconv.Itoa(i+1) + ")"
			}
			for _, m := range alt {
				if match(m) {
					out = append(out, Use{Recipe: recipe, Name: m.Name, Quantity: m.Quantity, KeyItem: m.Key})
				}
			}
		}
	}
	return out, nil
}

func allTables() []string {
	sq := &searchQuery{}
	sq.parseTypes(&form{})
	return sq.tables
}
