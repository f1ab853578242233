package browse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"
)

// Weapon is one weapon as the API shows it: its latest version, whole, and what surrounds it.
type Weapon struct {
	Key       string          `json:"key"`
	Weapon    json.RawMessage `json:"weapon"`     // every column of the latest version but the Kafka positions
	FeriasURL string          `json:"ferias_url"` // its row on the Ferias site
	RowID     string          `json:"row_id"`     // the id of its row on the site
	GameID    *int            `json:"game_id"`    // the game's weapon id its row id encodes (gameid.go)
	// GameIDSpace is the game's table that numbers it: melee, ranged or partner.
	GameIDSpace string          `json:"game_id_space"`
	LevelOf     *LevelRef       `json:"level_of"` // for a level row: the weapon it is a level of
	Levels      []Level         `json:"levels"`   // the weapon's levels (its own row first), when it has several
	Upgrades    Upgrades        `json:"upgrades"`
	Materials   *[]MaterialItem `json:"materials,omitempty"` // with expand=materials
	History     []Version       `json:"history"`             // every version, oldest first
}

// LevelRef points at the weapon a level row belongs to.
type LevelRef struct {
	Key  string `json:"key"`
	Name string `json:"name"`
}

// Level is one level of a weapon: on the site, the hidden rows under the weapon's row.
type Level struct {
	Key       string          `json:"key"`
	RowID     string          `json:"row_id"`
	Level     *int32          `json:"level"`
	Hidden    bool            `json:"hidden"`
	Rarity    *int32          `json:"rarity"`
	GRank     *int32          `json:"g_rank"`
	Attack    *int32          `json:"attack"`
	Affinity  *int32          `json:"affinity"`
	Elements  json.RawMessage `json:"elements"`
	Defense   *int32          `json:"defense"`
	Slots     *int32          `json:"slots"`
	Price     *int32          `json:"price"`
	Sharpness json.RawMessage `json:"sharpness"`
	Materials json.RawMessage `json:"materials"`
}

// Version is one version of a weapon and what changed since the one before.
type Version struct {
	Version     int64     `json:"version"`
	ScrapedAt   time.Time `json:"scraped_at"`
	ContentHash string    `json:"content_hash"`
	Changes     []Change  `json:"changes"`
}

var errNoWeapon = errors.New("no such weapon")

func (s *Server) apiWeapon(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("type") + "/" + r.PathValue("kind") + "/" + r.PathValue("row")
	f := newForm(r)
	parts, fields := parseWeaponParams(f)
	if f.err != nil {
		return f.err
	}
	wp, err := s.weaponWith(r.Context(), key, parts)
	if err != nil {
		return err
	}
	if fields == nil && parts == fullWeapon {
		writeJSON(w, http.StatusOK, wp)
		return nil
	}
	if fields == nil {
		fields = parts.members()
	}
	b, err := pick(wp, fields)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}

// weapon reads one weapon and all that surrounds it (what the weapon route answers without
// expand), within one query timeout.
func (s *Server) weapon(ctx context.Context, key string) (*Weapon, error) {
	return s.weaponWith(ctx, key, fullWeapon)
}

// weaponWith reads one weapon and the parts of what surrounds it that parts names.
func (s *Server) weaponWith(ctx context.Context, key string, parts weaponParts) (*Weapon, error) {
	table := tableOfKey(key)
	if table == "" {
		return nil, notFound("no weapon %q: a key is TYPE/KIND/ROW_ID, like long_sword/g/l219C (types: %s; kinds: %s)",
			clip(key), typeNames(), kindNames())
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	row, err := s.readWeapon(ctx, table, key)
	if errors.Is(err, errNoWeapon) {
		return nil, notFound("no weapon %q in the database (GET /api/weapons?id=%s searches by row id)", clip(key), clip(lastPart(key)))
	}
	if err != nil {
		return nil, s.dbError(ctx, "reading the weapon", err)
	}
	wp := &Weapon{Key: key, Weapon: row.Record, FeriasURL: s.feriasRow(row.Page, row.RowID), RowID: row.RowID,
		GameID: gameID(row.RowID), GameIDSpace: gameIDSpace(table), Levels: []Level{}}
	base := row
	if parent, err := s.levelParent(ctx, table, row); err != nil {
		return nil, s.dbError(ctx, "reading the weapon's levels", err)
	} else if parent != nil {
		wp.LevelOf = &LevelRef{Key: parent.Key, Name: parent.Name}
		base = parent
		if row.Hidden {
			wp.FeriasURL = s.feriasRow(row.Page, parent.RowID) // a hidden row cannot be scrolled to
		}
	}
	return wp, s.weaponParts(ctx, wp, table, row, base, parts)
}

// weaponParts reads the parts of a weapon's answer that parts names.
func (s *Server) weaponParts(ctx context.Context, wp *Weapon, table string, row, base *weaponRecord, parts weaponParts) error {
	var err error
	if parts.levels {
		if wp.Levels, err = s.levels(ctx, table, base); err != nil {
			return s.dbError(ctx, "reading the weapon's levels", err)
		}
	}
	if parts.tree {
		if wp.Upgrades, err = s.upgrades(ctx, row); err != nil {
			return s.dbError(ctx, "reading the upgrade tree", err)
		}
	}
	if parts.materials {
		if wp.Materials, err = s.materialItems(row.Record); err != nil {
			return err
		}
	}
	if parts.history {
		if wp.History, err = s.history(ctx, table, wp.Key); err != nil {
			return s.dbError(ctx, "reading the history", err)
		}
	}
	return nil
}

func lastPart(key string) string { return key[strings.LastIndexByte(key, '/')+1:] }

func (s *Server) feriasRow(page, rowID string) string {
	u := *s.site
	u.Path += page
	u.Fragment = rowID
	return u.String()
}

// FeriasItem is the page of an item on the Ferias site.
func (s *Server) feriasItem(itemID string) string {
	u := *s.site
	u.Path = strings.TrimSuffix(u.Path, "buki/") + "sozai/sozai.htm"
	u.RawQuery = itemID
	return u.String()
}

// readWeapon reads the latest version of a weapon: its columns, its upgrade links, and the
// whole row as JSON but the Kafka position.
func (s *Server) readWeapon(ctx context.Context, table, key string) (*weaponRecord, error) {
	rows, err := s.db.Query(ctx, `SELECT `+columnsOf("w", "w.upgrade_from", "w.upgrade_to",
		"to_jsonb(w) - 'kafka_topic' - 'kafka_partition' - 'kafka_offset' AS record")+`
		FROM `+pgx.Identifier{table}.Sanitize()+` w WHERE key = $1 ORDER BY version DESC LIMIT 1`, key)
	if err != nil {
		return nil, err
	}
	row, err := pgx.CollectOneRow(rows, pgx.RowToAddrOfStructByNameLax[weaponRecord])
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNoWeapon
	}
	return row, err
}

// levelParent returns the weapon a level row belongs to: on the site, the row of level L of a
// weapon has the weapon's row id followed by L ("l219C" → "l219C5"), the same name, on the same
// page. nil when row is not such a row.
func (s *Server) levelParent(ctx context.Context, table string, row *weaponRecord) (*weaponRecord, error) {
	if row.Level == nil {
		return nil, nil
	}
	suffix := strconv.Itoa(int(*row.Level))
	parentID, ok := strings.CutSuffix(row.RowID, suffix)
	if !ok || len(parentID) < 2 {
		return nil, nil
	}
	parentKey := row.Key[:strings.LastIndexByte(row.Key, '/')+1] + parentID
	parent, err := s.readWeapon(ctx, table, parentKey)
	if errors.Is(err, errNoWeapon) {
		return nil, nil
	}
	if err != nil || parent.Name != row.Name || parent.Page != row.Page {
		return nil, err
	}
	return parent, nil
}

// levels returns the levels of base (its own row first), or none when it has no other.
func (s *Server) levels(ctx context.Context, table string, base *weaponRecord) ([]Level, error) {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT ON (w.key) `+columnsOf("w", "w.materials")+`
		FROM `+pgx.Identifier{table}.Sanitize()+` w WHERE w.name = $1 AND w.page = $2 AND w.row_id LIKE $3
		ORDER BY w.key, w.version DESC`, base.Name, base.Page, likeEscape(base.RowID)+"%")
	if err != nil {
		return nil, err
	}
	records, err := pgx.CollectRows(rows, pgx.RowToAddrOfStructByNameLax[weaponRecord])
	if err != nil {
		return []Level{}, err
	}
	var out []Level
	for _, l := range records {
		if l.RowID == base.RowID || (l.Level != nil && l.RowID == base.RowID+strconv.Itoa(int(*l.Level))) {
			out = append(out, levelOf(l))
		}
	}
	if len(out) < 2 {
		return []Level{}, nil
	}
	slices.SortStableFunc(out, func(a, b Level) int {
		switch {
		case a.RowID == base.RowID:
			return -1
		case b.RowID == base.RowID:
			return 1
		}
		return int(deref(a.Level) - deref(b.Level))
	})
	return out, nil
}

// levelOf is what a weapon's page and API show of one of its levels.
func levelOf(r *weaponRecord) Level {
	return Level{Key: r.Key, RowID: r.RowID, Level: r.Level, Hidden: r.Hidden, Rarity: r.Rarity, GRank: r.GRank,
		Attack: r.Attack, Affinity: r.Affinity, Elements: r.Elements, Defense: r.Defense, Slots: r.Slots, Price: r.Price,
		Sharpness: r.Sharpness, Materials: r.Materials}
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// history returns every version of a weapon with what changed since the one before.
func (s *Server) history(ctx context.Context, table, key string) ([]Version, error) {
	rows, err := s.db.Query(ctx, `SELECT version, scraped_at, content_hash, to_jsonb(w)::text FROM `+
		pgx.Identifier{table}.Sanitize()+` w WHERE key = $1 ORDER BY version`, key)
	if err != nil {
		return nil, err
	}
	var out []Version
	var v Version
	var record string
	var prev []byte
	_, err = pgx.ForEachRow(rows, []any{&v.Version, &v.ScrapedAt, &v.ContentHash, &record}, func() error {
		var err error
		if v.Changes, err = diffRecords(prev, []byte(record)); err != nil {
			return fmt.Errorf("%s version %d: %w", key, v.Version, err)
		}
		prev = []byte(record)
		out = append(out, v)
		return nil
	})
	return out, err
}
