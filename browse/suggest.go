package browse

import (
	"context"
	"net/http"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// Suggestions: what an autocomplete (a Discord bot's, a search box's) shows while a name is
// typed. The names that begin with what was typed come first (English or Japanese: the site's
// untranslated names count from after the game's id in front of them), in the order of the names;
// then, with 3 characters or more, the names that have it elsewhere or look like it (trigrams:
// "katana" finds "Iron Katana", "nodahci" finds "Nodachi"), the closest first. Level rows are
// not suggested: they have their weapon's name.
const (
	defSuggestions = 10
	maxSuggestions = 25 // what a Discord autocomplete shows at most
	minSimilar     = 3  // characters the trigram fallback needs: a shorter text has no trigram
)

var suggestParams = []string{"q", "type", "limit"}

// Suggestion is one suggested weapon: what a picker shows of it.
type Suggestion struct {
	Key  string `json:"key"`
	Name string `json:"name"`
	// NameJA is its Japanese name on the site: its own name when the site left it untranslated,
	// or the name another page of its type gives the same game weapon in Japanese (the tower
	// pages: "Blood Drunk" is "ブラッドドランク"); null when the site has none.
	NameJA      *string `json:"name_ja"`
	WeaponType  string  `json:"weapon_type"`
	PageKind    string  `json:"page_kind"`
	Rarity      *int32  `json:"rarity"`
	GRank       *int32  `json:"g_rank"`
	Attack      *int32  `json:"attack"`
	RowID       string  `json:"row_id"`
	GameID      *int    `json:"game_id"`
	GameIDSpace string  `json:"game_id_space"`
	FeriasURL   string  `json:"ferias_url"`
	Match       string  `json:"match"` // prefix (the name begins with q) or similar
}

// SuggestAnswer is the answer of /api/suggest.
type SuggestAnswer struct {
	Q           string       `json:"q"`
	Suggestions []Suggestion `json:"suggestions"`
}

func (s *Server) apiSuggest(w http.ResponseWriter, r *http.Request) error {
	f := newForm(r)
	q := f.text("q")
	if q == "" && f.err == nil {
		f.fail("q: required: the beginning of a weapon's name")
	}
	sq := &searchQuery{}
	sq.parseTypes(f)
	limit := *f.intRangeOr("limit", 1, maxSuggestions, defSuggestions)
	if f.err != nil {
		return f.err
	}
	out, err := s.suggest(r.Context(), q, sq.types, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, SuggestAnswer{Q: q, Suggestions: out})
	return nil
}

// suggestColumns are what a suggestion reads of weapon_latest w, the Japanese name by the index
// of the game ids (migration 00016).
const suggestColumns = `w.key, w.name, w.weapon_type, w.page_kind, w.rarity, w.g_rank, w.attack, w.row_id, w.weapon_table,
	(SELECT j.name FROM weapon_latest j WHERE mhfz_game_id(j.row_id) = mhfz_game_id(w.row_id)
		AND j.weapon_table = w.weapon_table AND j.name ~ '[\u3040-\u30ff\u3400-\u9fff]' ORDER BY j.key LIMIT 1)`

// The two steps of a suggestion. The names that begin with q are one range of the index of
// mhfz_suggest_name (00016), in byte order; the bound after the range is q followed by the last
// character of Unicode. The others are found by the trigram index of name_lower (00010): a
// substring (LIKE) or a similar name (%, pg_trgm's similarity of 0.3 or more), those where q
// begins a word first, then the most similar.
var (
	suggestPrefixSQL = `SELECT ` + suggestColumns + ` FROM ` + pgx.Identifier{migrations.LatestTable}.Sanitize() + ` w
		WHERE mhfz_suggest_name(w.name_lower) COLLATE "C" >= (SELECT lower($1::text))
		AND mhfz_suggest_name(w.name_lower) COLLATE "C" < (SELECT lower($1::text) || chr(1114111))
		AND (cardinality($2::text[]) = 0 OR w.weapon_type = ANY($2))
		ORDER BY mhfz_suggest_name(w.name_lower) COLLATE "C", w.key LIMIT $3`
	suggestSimilarSQL = `SELECT ` + suggestColumns + ` FROM ` + pgx.Identifier{migrations.LatestTable}.Sanitize() + ` w,
		(SELECT lower($1::text) AS q, lower($4::text) AS sub, lower($5::text) AS word) p
		WHERE (w.name_lower LIKE p.sub OR w.name_lower % p.q) AND NOT (w.key = ANY($3))
		AND (cardinality($2::text[]) = 0 OR w.weapon_type = ANY($2))
		ORDER BY (' ' || translate(w.name_lower, '・【】「」（）()"''＝=-', '              ')) LIKE p.word DESC,
			w.name_lower LIKE p.sub DESC, similarity(w.name_lower, p.q) DESC, w.name_lower, w.key LIMIT $6`
)

// suggest finds at most limit weapons for q: by prefix, then, if there are fewer, by trigrams.
func (s *Server) suggest(ctx context.Context, q string, types []string, limit int) ([]Suggestion, error) {
	if types == nil {
		types = []string{} // NULL would match nothing
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	out, err := s.suggestions(ctx, "prefix", suggestPrefixSQL, q, types, limit)
	if err != nil || len(out) == limit || utf8.RuneCountInString(q) < minSimilar {
		return out, err
	}
	seen := make([]string, len(out))
	for i, sg := range out {
		seen[i] = sg.Key
	}
	esc := likeEscape(q)
	more, err := s.suggestions(ctx, "similar", suggestSimilarSQL, q, types, seen, "%"+esc+"%", "% "+esc+"%", limit-len(out))
	return append(out, more...), err
}

func (s *Server) suggestions(ctx context.Context, match, stmt string, args ...any) ([]Suggestion, error) {
	rows, err := s.db.Query(ctx, stmt, args...)
	if err != nil {
		return nil, s.dbError(ctx, "the suggestions", err)
	}
	out := []Suggestion{}
	var sg Suggestion
	var table string
	_, err = pgx.ForEachRow(rows, []any{&sg.Key, &sg.Name, &sg.WeaponType, &sg.PageKind, &sg.Rarity, &sg.GRank, &sg.Attack,
		&sg.RowID, &table, &sg.NameJA}, func() error {
		sg.Match, sg.GameID, sg.GameIDSpace = match, gameID(sg.RowID), gameIDSpace(table)
		sg.FeriasURL = s.feriasRow(codecs.PageName(codecs.WeaponType(sg.WeaponType), codecs.PageKind(sg.PageKind)), sg.RowID)
		out = append(out, sg)
		return nil
	})
	if err != nil {
		return nil, s.dbError(ctx, "the suggestions", err)
	}
	return out, nil
}
