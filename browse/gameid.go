package browse

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// The game's weapon ids. Every row id of the site is "l", four hexadecimal digits, and for a
// level row its level ("l1A0B", "l1A0B5", "l219C50"); the four digits are the game's own weapon
// id: the untranslated names carry the same id in front, its two bytes swapped as the game stores
// them ("0B1A・覇銃槍メルカムトルム" is l1A0B), and the ids of the eleven blademaster types never
// collide with one another, nor those of the three gunner types (docs/web-and-api.md has the
// evidence). The game numbers each of three tables on its own, so an id names a weapon only with
// its space: melee (blademaster weapons), ranged (bowguns and bows), partner (the partners').
const (
	spaceMelee   = "melee"
	spaceRanged  = "ranged"
	spacePartner = "partner"
	maxGameID    = 0xFFFF
)

var gameIDPattern = regexp.MustCompile(`^[lL][0-9A-Fa-f]{4}`)

// gameID is the game's weapon id a row id encodes, or nil when it has not the site's shape.
func gameID(rowID string) *int {
	if !gameIDPattern.MatchString(rowID) {
		return nil
	}
	n, err := strconv.ParseUint(rowID[1:5], 16, 16)
	if err != nil {
		return nil
	}
	id := int(n)
	return &id
}

// gameIDSpace is the table of the game that numbers the weapons of a weapon table.
func gameIDSpace(table string) string {
	switch table {
	case migrations.PartnerTable:
		return spacePartner
	case string(codecs.LightBowgun), string(codecs.HeavyBowgun), string(codecs.Bow):
		return spaceRanged
	}
	return spaceMelee
}

// spaceTables are the weapon tables of a space.
func spaceTables(space string) []string {
	var out []string
	for _, t := range migrations.WeaponTables() {
		if gameIDSpace(t) == space {
			out = append(out, t)
		}
	}
	return out
}

// rowAnchor is the anchor of a row on its page: a level row is hidden on the site, and the page
// can only be scrolled to its weapon's row (its id without the level).
func rowAnchor(rowID string, hidden bool) string {
	if hidden && gameIDPattern.MatchString(rowID) {
		return rowID[:5]
	}
	return rowID
}

// APIItem is a weapon row as the API shows it in a list: its columns, its row on the Ferias site
// and the game's id of the weapon.
type APIItem struct {
	Item
	FeriasURL   string `json:"ferias_url"`
	GameID      *int   `json:"game_id"`
	GameIDSpace string `json:"game_id_space"`
}

func (s *Server) apiItem(it Item) APIItem {
	table := tableOf(it.WeaponType, it.PageKind)
	return APIItem{Item: it, FeriasURL: s.feriasRow(it.Page, rowAnchor(it.RowID, it.Hidden)), GameID: gameID(it.RowID),
		GameIDSpace: gameIDSpace(table)}
}

func (s *Server) asAPIItems(items []Item) []APIItem {
	out := make([]APIItem, len(items))
	for i, it := range items {
		out[i] = s.apiItem(it)
	}
	return out
}

var gameIDParams = []string{"space", "type", "fields"}

// GameIDAnswer is the answer of a lookup by the game's id: every weapon the site gives that id.
type GameIDAnswer struct {
	GameID  int       `json:"game_id"`
	Weapons []APIItem `json:"weapons"`
}

func (s *Server) apiGameID(w http.ResponseWriter, r *http.Request) error {
	raw := r.PathValue("id")
	id, err := strconv.Atoi(raw)
	if err != nil || id < 0 || id > maxGameID {
		return badRequest("id: %q is not a game weapon id: a whole number 0..%d (the site's l1A0B is 6667)", clip(raw), maxGameID)
	}
	f := newForm(r)
	q := &searchQuery{}
	q.parseTypes(f)
	space := strings.TrimSpace(f.v.Get("space"))
	if space != "" && !slices.Contains([]string{spaceMelee, spaceRanged, spacePartner}, space) {
		f.fail("space: unknown id space %q (known: melee, ranged, partner)", clip(space))
	}
	fields := parseFields(f, apiItemFields)
	if f.err != nil {
		return f.err
	}
	if space != "" {
		q.tables = slices.DeleteFunc(q.tables, func(t string) bool { return gameIDSpace(t) != space })
	}
	items, err := s.byGameID(r.Context(), id, q.tables, q.types)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return notFound("no weapon has the game id %d (0x%04X)%s", id, id, filtered(space, q.types))
	}
	if fields == nil {
		writeJSON(w, http.StatusOK, GameIDAnswer{GameID: id, Weapons: s.asAPIItems(items)})
		return nil
	}
	picked, err := pickEach(s.asAPIItems(items), fields)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"game_id": id, "weapons": picked})
	return nil
}

func filtered(space string, types []string) string {
	var parts []string
	if space != "" {
		parts = append(parts, "space "+space)
	}
	if len(types) > 0 {
		parts = append(parts, "type "+strings.Join(types, ","))
	}
	if len(parts) == 0 {
		return ""
	}
	return " among " + strings.Join(parts, ", ")
}

// byGameID reads the weapons of tables and types (all when empty) whose row id encodes id (no
// level rows, nor the levels a page shows as rows of their own: notALevel), from weapon_latest's index
// of the game ids (migration 00016), then their rows, ordered by key.
func (s *Server) byGameID(ctx context.Context, id int, tables, types []string) ([]Item, error) {
	if types == nil {
		types = []string{} // NULL would match nothing
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	rows, err := s.db.Query(ctx, `SELECT w.weapon_table, w.key, w.version FROM `+pgx.Identifier{migrations.LatestTable}.Sanitize()+
		` w WHERE mhfz_game_id(w.row_id) = $1 AND w.weapon_table = ANY($2)
		AND (cardinality($3::text[]) = 0 OR w.weapon_type = ANY($3)) AND `+notALevel+` ORDER BY w.key`, id, tables, types)
	if err != nil {
		return nil, s.dbError(ctx, "the lookup by game id", err)
	}
	var hits []hit
	var h hit
	if _, err := pgx.ForEachRow(rows, []any{&h.table, &h.key, &h.version}, func() error { hits = append(hits, h); return nil }); err != nil {
		return nil, s.dbError(ctx, "the lookup by game id", err)
	}
	items, err := s.fetchItems(ctx, hits)
	if err != nil {
		return nil, s.dbError(ctx, "the lookup by game id", err)
	}
	return items, nil
}
