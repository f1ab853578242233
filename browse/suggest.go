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
// then, with 3 characters or more, the names that have it elsewhere ("katana" finds "Iron
// Katana"), and when none has it, the names that look like it ("nodahci" finds "Nodachi"). Level
// rows are not suggested: they have their weapon's name.
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
	// Match says how it was found: prefix (the name begins with q), substring (it has q
	// elsewhere) or similar (no name has q: the name looks like it).
	Match string `json:"match"`
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

// notALevel leaves out of the suggestions the levels that the site shows as rows of their own
// (the tower pages: "l3190" then "l31901" … "l319099", the same name on a hundred rows) when
// their weapon's row is there: a row id longer than the weapon's five characters whose first
// five are a row of the same page (its key, by the primary key of weapon_latest).
const notALevel = `NOT (length(w.row_id) > 5 AND EXISTS (SELECT 1 FROM weapon_latest l
		WHERE l.key = left(w.key, length(w.key) - length(w.row_id) + 5)))`

// The three steps of a suggestion. The names that begin with q are one range of the index of
// mhfz_suggest_name (00016), in byte order; the bound after the range is q followed by the last
// character of Unicode. The names that have q elsewhere are found by the trigram index of
// name_lower (00010), those where q begins a word first, then the most similar. When no name has
// q at all (a typo), the similar names (pg_trgm's %: a similarity of 0.3 or more), the closest
// first: a similarity is costly to check (10-20 ms for a common word, where the substrings take
// 0.2-2 ms), so it is the last resort.
//
// The trigram steps run with sequential scans off: their generic plans (each statement is planned
// once: poolConfig) cannot know how few names a pattern matches, and would read the whole table
// (30 ms for a substring, 200-300 ms for a similarity on the newest snapshot).
var (
	suggestPrefixSQL = `SELECT ` + suggestColumns + ` FROM ` + pgx.Identifier{migrations.LatestTable}.Sanitize() + ` w
		WHERE mhfz_suggest_name(w.name_lower) COLLATE "C" >= (SELECT lower($1::text))
		AND mhfz_suggest_name(w.name_lower) COLLATE "C" < (SELECT lower($1::text) || chr(1114111))
		AND (cardinality($2::text[]) = 0 OR w.weapon_type = ANY($2)) AND ` + notALevel + `
		ORDER BY mhfz_suggest_name(w.name_lower) COLLATE "C", w.key LIMIT $3`
	suggestSubstringSQL = `SELECT ` + suggestColumns + ` FROM ` + pgx.Identifier{migrations.LatestTable}.Sanitize() + ` w
		WHERE w.name_lower LIKE (SELECT lower($4::text)) AND NOT (w.key = ANY($3))
		AND (cardinality($2::text[]) = 0 OR w.weapon_type = ANY($2)) AND ` + notALevel + `
		ORDER BY (' ' || translate(w.name_lower, '・【】「」（）()"''＝=-', '              ')) LIKE (SELECT lower($5::text)) DESC,
			similarity(w.name_lower, (SELECT lower($1::text))) DESC, w.name_lower, w.key LIMIT $6`
	suggestSimilarSQL = `SELECT ` + suggestColumns + ` FROM ` + pgx.Identifier{migrations.LatestTable}.Sanitize() + ` w
		WHERE w.name_lower % (SELECT lower($1::text)) AND (cardinality($2::text[]) = 0 OR w.weapon_type = ANY($2))
		AND ` + notALevel + `
		ORDER BY similarity(w.name_lower, (SELECT lower($1::text))) DESC, w.name_lower, w.key LIMIT $3`
)

// suggest finds at most limit weapons for q: by prefix, then, if there are fewer, by substring,
// and if there are none, by similarity.
func (s *Server) suggest(ctx context.Context, q string, types []string, limit int) ([]Suggestion, error) {
	if types == nil {
		types = []string{} // NULL would match nothing
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	rows, err := s.db.Query(ctx, suggestPrefixSQL, q, types, limit)
	out, err := s.suggestions(rows, err, "prefix")
	if err != nil {
		return nil, s.dbError(ctx, "the suggestions", err)
	}
	if len(out) == limit || utf8.RuneCountInString(q) < minSimilar {
		return out, nil
	}
	seen := make([]string, len(out))
	for i, sg := range out {
		seen[i] = sg.Key
	}
	esc := likeEscape(q)
	more, err := s.suggestionsWithoutSeqScans(ctx, "substring", suggestSubstringSQL, q, types, seen, "%"+esc+"%", "% "+esc+"%",
		limit-len(out))
	if err == nil && len(out)+len(more) == 0 {
		more, err = s.suggestionsWithoutSeqScans(ctx, "similar", suggestSimilarSQL, q, types, limit)
	}
	if err != nil {
		return nil, s.dbError(ctx, "the suggestions", err)
	}
	return append(out, more...), nil
}

// suggestionsWithoutSeqScans runs a trigram step with sequential scans off: SET LOCAL and the
// statement in one batch, which PostgreSQL runs as one transaction (one round trip).
func (s *Server) suggestionsWithoutSeqScans(ctx context.Context, match, stmt string, args ...any) ([]Suggestion, error) {
	b := &pgx.Batch{}
	b.Queue("SET LOCAL enable_seqscan = off")
	b.Queue(stmt, args...)
	br := s.db.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, err
	}
	rows, err := br.Query()
	return s.suggestions(rows, err, match)
}

// suggestions reads the rows of a step (suggestColumns), found by match.
func (s *Server) suggestions(rows pgx.Rows, err error, match string) ([]Suggestion, error) {
	if err != nil {
		return nil, err
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
	return out, err
}
