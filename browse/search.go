package browse

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	json "github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// The parameters of a search; an export takes the same but the page.
var (
	filterParams = []string{"q", "id", "type", "kind", "rarity_min", "rarity_max", "g_rank_min", "g_rank_max",
		"attack_min", "attack_max", "element", "element_min", "slots_min", "levels", "flagged", "sort"}
	searchParams = append(slices.Clone(filterParams), "limit", "after", "fields")
	exportParams = append(slices.Clone(filterParams), "limit")
)

// sortColumn is one order of the results: a column, compared as text or as a number.
type sortColumn struct {
	expr    string
	numeric bool
}

var sortColumns = map[string]sortColumn{
	"name": {"w.name", false}, "type": {"w.weapon_type", false}, "attack": {"w.attack", true},
	"affinity": {"w.affinity", true}, "rarity": {"w.rarity", true}, "g_rank": {"w.g_rank", true},
	"element": {"w.element_value", true}, "status": {"w.status_value", true}, "slots": {"w.slots", true},
	"price": {"w.price", true}, "level": {"w.level", true}, "defense": {"w.defense", true},
}

func sortNames() string {
	names := make([]string, 0, len(sortColumns))
	for n := range sortColumns {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// searchQuery is a parsed search.
type searchQuery struct {
	q, id                string
	tables               []string
	types, kinds         []string
	rarityMin, rarityMax *int
	gRankMin, gRankMax   *int
	attackMin, attackMax *int
	element              string
	elementMin           *int
	slotsMin             *int
	levels, flagged      bool
	sort                 string // as given: "name", "-attack"
	col                  sortColumn
	desc                 bool
	limit                int
	after                *cursor
}

// cursor is where a page ends: the sort it belongs to, the last row's sort value and key.
type cursor struct {
	Sort  string          `json:"s"`
	Value json.RawMessage `json:"v"`
	Key   string          `json:"k"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseSearch reads a search from the parameters; page says whether it is paged (an export is not).
func parseSearch(f *form, page bool) *searchQuery {
	q := &searchQuery{q: f.text("q"), id: f.text("id"), element: strings.ToLower(f.text("element"))}
	if q.id != "" && !idPattern.MatchString(q.id) {
		f.fail("id: %q is not a row id of the site (like l219C or 219C5)", clip(q.id))
	}
	q.parseTypes(f)
	q.rarityMin, q.rarityMax = f.intRange("rarity_min", 0, 100), f.intRange("rarity_max", 0, 100)
	q.gRankMin, q.gRankMax = f.intRange("g_rank_min", 0, 1000), f.intRange("g_rank_max", 0, 1000)
	q.attackMin, q.attackMax = f.intRange("attack_min", -1_000_000, 1_000_000), f.intRange("attack_max", -1_000_000, 1_000_000)
	q.elementMin = f.intRange("element_min", -1_000_000, 1_000_000)
	q.slotsMin = f.intRange("slots_min", 0, 3)
	if q.element != "" && !elementPattern.MatchString(q.element) {
		f.fail("element: %q is not an element or status name (fire, water, thunder, ice, dragon, poison, para, sleep, blast, …)", clip(q.element))
	}
	if q.elementMin != nil && q.element == "" {
		f.fail("element_min needs element: the minimum of which element or status")
	}
	q.levels = f.boolean("levels", q.id != "") // an id may well be a level row's
	q.flagged = f.boolean("flagged", false)
	q.parseSort(f)
	if page {
		q.limit = f.limit(defPageSize)
		q.parseAfter(f)
	} else if f.v.Get("limit") != "" {
		q.limit = *f.intRangeOr("limit", 1, 1_000_000, 0)
	}
	return q
}

func (f *form) intRangeOr(name string, lo, hi, def int) *int {
	if p := f.intRange(name, lo, hi); p != nil {
		return p
	}
	return &def
}

func (q *searchQuery) parseTypes(f *form) {
	q.types = f.list("type")
	q.kinds = f.list("kind")
	for _, t := range q.types {
		if !codecs.WeaponType(t).Valid() {
			f.fail("type: unknown weapon type %q (known: %s)", clip(t), typeNames())
		}
	}
	for _, k := range q.kinds {
		if _, ok := codecs.PageKinds()[codecs.PageKind(k)]; !ok {
			f.fail("kind: unknown page kind %q (known: %s)", clip(k), kindNames())
		}
	}
	for _, t := range migrations.WeaponTables() {
		if t == migrations.PartnerTable {
			if len(q.kinds) == 0 || slices.Contains(q.kinds, string(codecs.KindPartner)) {
				q.tables = append(q.tables, t)
			}
			continue
		}
		onlyPartners := len(q.kinds) == 1 && q.kinds[0] == string(codecs.KindPartner)
		if (len(q.types) == 0 || slices.Contains(q.types, t)) && !onlyPartners {
			q.tables = append(q.tables, t)
		}
	}
}

func typeNames() string {
	names := make([]string, len(codecs.WeaponTypes))
	for i, t := range codecs.WeaponTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

func (q *searchQuery) parseSort(f *form) {
	q.sort = strings.TrimSpace(f.v.Get("sort"))
	if q.sort == "" {
		q.sort = "name"
	}
	name := strings.TrimPrefix(q.sort, "-")
	col, ok := sortColumns[name]
	if !ok {
		f.fail("sort: unknown order %q (known: %s; a leading - sorts descending)", clip(q.sort), sortNames())
		q.sort, col = "name", sortColumns["name"]
	}
	q.col, q.desc = col, strings.HasPrefix(q.sort, "-")
	if name == "name" && (utf8.RuneCountInString(q.q) >= 3 || (q.q != "" && !q.levels)) {
		// A name of 3 characters or more is found through the trigram index; the plans are
		// generic (made once, whatever the name), and one that may walk the index of the names
		// in order would rather filter every weapon's name than use it. An expression of the
		// name orders the same but has no index to walk. A shorter name is looked for in each of
		// weapon_latest's names: one pass over that narrow table, where a walk of the index would
		// read every row out of order for a rare name.
		q.col.expr = "(w.name || '')"
	}
}

func (q *searchQuery) parseAfter(f *form) {
	raw := strings.TrimSpace(f.v.Get("after"))
	if raw == "" {
		return
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	var c cursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.Key == "" {
		f.fail("after: not a cursor: give the next value of the previous page")
		return
	}
	if c.Sort != q.sort {
		f.fail("after: a cursor of a search sorted by %q, not %q: give the next value of the previous page of this search", clip(c.Sort), q.sort)
		return
	}
	q.after = &c
}

// sortValue is the value of the item the cursor compares.
func (it *Item) sortValue(sort string) any {
	col, ok := sortColumns[strings.TrimPrefix(sort, "-")]
	if !ok {
		return nil
	}
	return it.column(strings.TrimPrefix(col.expr, "w."))
}

// current keeps the latest version of each key: the row has no newer version.
const current = `NOT EXISTS (SELECT 1 FROM %s n WHERE n.key = w.key AND n.version > w.version)`

// branchesSQL builds the statement of a search of the weapon tables themselves, level rows
// included (weapon_latest has none): one branch per table, each ordered and limited so that it
// can stop early on an index, merged in the same order; each row is checked to be its key's
// latest version.
//
// keysOnly selects only the table, key, version and sort column of each row; the rows of the
// page are read after, by key (fetchItems).
func (q *searchQuery) branchesSQL(limit int, keysOnly bool) (string, []any, error) {
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	conds, err := q.conditions(arg, false)
	if err != nil {
		return "", nil, err
	}
	order := q.order()
	lim := ""
	if limit > 0 {
		lim = " LIMIT " + arg(limit)
	}
	branches := make([]string, 0, len(q.tables))
	for _, t := range q.tables {
		id := pgx.Identifier{t}.Sanitize()
		where := append(slices.Clone(conds), fmt.Sprintf(current, id))
		cols := itemColumns
		if keysOnly {
			cols = "'" + t + "'::text AS tbl, w.key, w.version, " + q.col.expr + " AS sortkey" // t: a name of migrations.WeaponTables()
		}
		branches = append(branches, fmt.Sprintf("(SELECT %s FROM %s w WHERE %s ORDER BY %s%s)",
			cols, id, strings.Join(where, " AND "), order, lim))
	}
	outer := strings.NewReplacer("w.", "s.").Replace(order)
	if keysOnly {
		outer = q.keysOrder()
	}
	return fmt.Sprintf("SELECT * FROM (%s) s ORDER BY %s%s", strings.Join(branches, " UNION ALL "), outer, lim), args, nil
}

// keysSQL builds the statement of a search's keys, in its order: the weapon table, key, version
// and sort value of each row. A search of the weapons reads weapon_latest (migration 00010) alone:
// the latest version of every weapon's key, without the level rows, with what searches filter
// and sort on. One that includes the level rows (levels) reads the weapon tables
// (branchesSQL). Every value is a parameter; the columns come from fixed lists.
func (q *searchQuery) keysSQL(limit int) (string, []any, error) {
	if q.levels {
		return q.branchesSQL(limit, true)
	}
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	conds, err := q.conditions(arg, true)
	if err != nil {
		return "", nil, err
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	lim := ""
	if limit > 0 {
		lim = " LIMIT " + arg(limit)
	}
	return fmt.Sprintf("SELECT w.weapon_table, w.key, w.version, %s AS sortkey FROM %s w%s ORDER BY %s%s",
		q.col.expr, pgx.Identifier{migrations.LatestTable}.Sanitize(), where, q.order(), lim), args, nil
}

// rowsSQL builds the statement of a search's whole rows, in its order (an export): its keys
// (keysSQL), each joined to its row in its own table.
func (q *searchQuery) rowsSQL(limit int) (string, []any, error) {
	if q.levels {
		return q.branchesSQL(limit, false)
	}
	keys, args, err := q.keysSQL(limit)
	if err != nil {
		return "", nil, err
	}
	branches := make([]string, 0, len(q.tables))
	for _, t := range q.tables {
		// t: a name of migrations.WeaponTables(), as weapon_latest's weapon_table holds it.
		branches = append(branches, fmt.Sprintf(
			"(SELECT %s FROM %s w WHERE s.weapon_table = '%s' AND w.key = s.key AND w.version = s.version)",
			itemColumns, pgx.Identifier{t}.Sanitize(), t))
	}
	return fmt.Sprintf("SELECT r.* FROM (%s) s CROSS JOIN LATERAL (%s) r ORDER BY %s", keys,
		strings.Join(branches, " UNION ALL "), q.keysOrder()), args, nil
}

// keysOrder is the search's order over s, a sub-select of its keys (sortkey, key).
func (q *searchQuery) keysOrder() string {
	return strings.Replace(strings.Replace(q.order(), q.col.expr, "s.sortkey", 1), "w.key", "s.key", 1)
}

// conditions are the conditions of the search on w: weapon_latest (latest), which holds no level
// row, or a weapon table.
func (q *searchQuery) conditions(arg func(any) string, latest bool) ([]string, error) {
	var conds []string
	if !q.levels && !latest {
		conds = append(conds, "NOT w.hidden")
	}
	if q.q != "" {
		conds = append(conds, q.nameOrID(arg, latest))
	}
	if q.id != "" {
		conds = append(conds, "upper(w.row_id) = ANY("+arg(rowIDs(q.id))+")")
	}
	if len(q.kinds) > 0 {
		conds = append(conds, "w.page_kind = ANY("+arg(q.kinds)+")")
	}
	if len(q.types) > 0 {
		conds = append(conds, "w.weapon_type = ANY("+arg(q.types)+")")
	}
	conds = append(conds, q.valueConditions(arg)...)
	if q.flagged && latest {
		conds = append(conds, "w.flagged")
	} else if q.flagged {
		conds = append(conds, "w.quality IS NOT NULL")
	}
	keyset, err := q.keyset(arg)
	if err != nil {
		return nil, err
	}
	if keyset != "" {
		conds = append(conds, keyset)
	}
	return conds, nil
}

// valueConditions are the conditions of the search on the values of w: its ranges, its slots,
// its element.
func (q *searchQuery) valueConditions(arg func(any) string) []string {
	var conds []string
	for _, r := range []struct {
		col    string
		lo, hi *int
	}{{"w.rarity", q.rarityMin, q.rarityMax}, {"w.g_rank", q.gRankMin, q.gRankMax}, {"w.attack", q.attackMin, q.attackMax}} {
		if r.lo != nil {
			conds = append(conds, r.col+" >= "+arg(*r.lo))
		}
		if r.hi != nil {
			conds = append(conds, r.col+" <= "+arg(*r.hi))
		}
	}
	if q.slotsMin != nil {
		conds = append(conds, "w.slots >= "+arg(*q.slotsMin))
	}
	if q.element != "" {
		min := -1 << 31
		if q.elementMin != nil {
			min = *q.elementMin
		}
		// The containment (cheap, first) keeps the weapons that have the element at all; the
		// path checks its value.
		k := arg(q.element)
		conds = append(conds, "w.elements @> jsonb_build_array(jsonb_build_object('kind', "+k+"::text))",
			"jsonb_path_exists(w.elements, '$[*] ? (@.kind == $k && @.value >= $v)', jsonb_build_object('k', "+
				k+"::text, 'v', "+arg(min)+"::int))")
	}
	return conds
}

// nameOrID is the condition of q's q: the name has it, or, if it looks like one, the row id is it.
func (q *searchQuery) nameOrID(arg func(any) string, latest bool) string {
	var c string
	if latest {
		c = q.nameCondition(arg)
	} else {
		c = "w.name ILIKE " + arg(likePattern(q.q))
	}
	if !idPattern.MatchString(q.q) {
		return c
	}
	p := arg(rowIDs(q.q))
	ids := "upper(w.row_id) = ANY(" + p + ")"
	if latest && utf8.RuneCountInString(q.q) < 3 {
		// The names are read one by one (nameCondition): the ids are found once, by the index,
		// rather than upper() of every row's id.
		ids = "w.key IN (SELECT i.key FROM " + pgx.Identifier{migrations.LatestTable}.Sanitize() +
			" i WHERE upper(i.row_id) = ANY(" + p + "))"
	}
	return "(" + c + " OR " + ids + ")"
}

// nameCondition finds q's name in weapon_latest w: in name_lower, lower(name), which is what
// ILIKE compares (lower(name) LIKE lower(pattern)); the pattern is lowered once (a sub-select: a
// parameter's lower() in a generic plan would be computed again for every row). A name of 3
// characters or more goes through the trigram index. A shorter one has no trigram: the index
// would hand every row to the check, so it is looked for in each name of the table (an
// expression of the column, which has no index).
func (q *searchQuery) nameCondition(arg func(any) string) string {
	col := "w.name_lower"
	if utf8.RuneCountInString(q.q) < 3 {
		col = "(w.name_lower || '')"
	}
	return col + " LIKE (SELECT lower(" + arg(likePattern(q.q)) + "::text))"
}

func (q *searchQuery) order() string {
	dir := "ASC"
	if q.desc {
		dir = "DESC"
	}
	return q.col.expr + " " + dir + " NULLS LAST, w.key"
}

// keyset is the condition of the rows after the cursor, in the order of the sort (NULLS LAST,
// then the key).
func (q *searchQuery) keyset(arg func(any) string) (string, error) {
	if q.after == nil {
		return "", nil
	}
	c := q.after
	if string(c.Value) == "null" || len(c.Value) == 0 {
		return "(" + q.col.expr + " IS NULL AND w.key > " + arg(c.Key) + ")", nil
	}
	var v any
	if q.col.numeric {
		var n int64
		if err := json.Unmarshal(c.Value, &n); err != nil {
			return "", badRequest("after: not a cursor of this search: give the next value of the previous page")
		}
		v = n
	} else {
		var s string
		if err := json.Unmarshal(c.Value, &s); err != nil {
			return "", badRequest("after: not a cursor of this search: give the next value of the previous page")
		}
		v = s
	}
	op := ">"
	if q.desc {
		op = "<"
	}
	pv, pk := arg(v), arg(c.Key)
	return fmt.Sprintf("(%[1]s %[2]s %[3]s OR (%[1]s = %[3]s AND w.key > %[4]s) OR %[1]s IS NULL)", q.col.expr, op, pv, pk), nil
}

// SearchPage is one page of results.
type SearchPage struct {
	Items []Item  `json:"items"`
	Next  *string `json:"next"` // the after of the next page; null on the last page
}

// search runs a paged search in two steps: the keys of the page (keysSQL: from weapon_latest
// alone, unless it asks for level rows), then their rows.
func (s *Server) search(ctx context.Context, q *searchQuery) (*SearchPage, error) {
	stmt, args, err := q.keysSQL(q.limit + 1)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	rows, err := s.db.Query(ctx, stmt, args...)
	if err != nil {
		return nil, s.dbError(ctx, "the search", err)
	}
	var hits []hit
	var h hit
	var sortValue any
	_, err = pgx.ForEachRow(rows, []any{&h.table, &h.key, &h.version, &sortValue}, func() error {
		hits = append(hits, h)
		return nil
	})
	if err != nil {
		return nil, s.dbError(ctx, "the search", err)
	}
	page := &SearchPage{Items: []Item{}}
	if page.Items, err = s.fetchItems(ctx, hits); err != nil {
		return nil, s.dbError(ctx, "the search", err)
	}
	if len(page.Items) > q.limit {
		page.Items = page.Items[:q.limit]
		last := page.Items[q.limit-1]
		v, _ := json.Marshal(last.sortValue(q.sort))
		next := cursor{Sort: q.sort, Value: v, Key: last.Key}.encode()
		page.Next = &next
	}
	return page, nil
}

// hit is a row a search found: its table, key and version.
type hit struct {
	table, key string
	version    int64
}

// fetchItems reads the rows of hits, in their order, one statement for all their tables.
func (s *Server) fetchItems(ctx context.Context, hits []hit) ([]Item, error) {
	if len(hits) == 0 {
		return []Item{}, nil
	}
	byTable := map[string][2][]any{}
	var tables []string
	for _, h := range hits {
		kv, ok := byTable[h.table]
		if !ok {
			tables = append(tables, h.table)
		}
		byTable[h.table] = [2][]any{append(kv[0], h.key), append(kv[1], h.version)}
	}
	var branches []string
	var args []any
	for _, t := range tables {
		kv := byTable[t]
		args = append(args, kv[0], kv[1])
		branches = append(branches, fmt.Sprintf(`(SELECT %s FROM %s w JOIN unnest($%d::text[], $%d::bigint[]) AS h(key, version)
			ON w.key = h.key AND w.version = h.version)`, itemColumns, pgx.Identifier{t}.Sanitize(), len(args)-1, len(args)))
	}
	rows, err := s.db.Query(ctx, strings.Join(branches, " UNION ALL "), args...)
	if err != nil {
		return nil, err
	}
	items, err := pgx.CollectRows(rows, pgx.RowToStructByName[Item])
	if err != nil {
		return nil, err
	}
	byKey := make(map[string]Item, len(items))
	for _, it := range items {
		byKey[it.Key] = it
	}
	out := make([]Item, 0, len(hits))
	for _, h := range hits {
		if it, ok := byKey[h.key]; ok {
			out = append(out, it)
		}
	}
	return out, nil
}

func (s *Server) apiSearch(w http.ResponseWriter, r *http.Request) error {
	f := newForm(r)
	q := parseSearch(f, true)
	fields := parseFields(f, apiItemFields)
	if f.err != nil {
		return f.err
	}
	page, err := s.search(r.Context(), q)
	if err != nil {
		return err
	}
	items := s.asAPIItems(page.Items)
	if fields == nil {
		writeJSON(w, http.StatusOK, map[string]any{"items": items, "next": page.Next})
		return nil
	}
	picked, err := pickEach(items, fields)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": picked, "next": page.Next})
	return nil
}
