package sink

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// topicTables maps each weapon topic of names to its table.
func topicTables(names codecs.Names) map[string]string {
	m := make(map[string]string, len(codecs.WeaponTypes)+1)
	for _, t := range codecs.WeaponTypes {
		m[string(names.Type(t))] = string(t)
	}
	m[string(names.Partner())] = migrations.PartnerTable
	return m
}

// record is one message decoded for storage: its location, bytes and weapon.
type record struct {
	table  string
	pos    kafka.Position
	key    []byte
	value  []byte
	weapon *storedWeapon // nil when the value could not be decoded; else &stored
	reason string        // why the record cannot be stored (decode error, value out of range), if it cannot
	stored storedWeapon  // the weapon, decoded into the record itself: one allocation for both
}

// storable reports whether r has a row to store; if not, r.reason says why.
func (r *record) storable() bool { return r.reason == "" }

// column is one column of a weapon table and how a record fills it.
type column struct {
	name    string
	value   func(r *record) any
	integer bool // a PostgreSQL integer (int4): values beyond 32 bits cannot be stored
}

func weaponCol(name string, f func(w *codecs.Weapon) any) column {
	return column{name: name, value: func(r *record) any { return f(&r.weapon.Weapon) }}
}

// storedCol is a column of the weapon's parts kept as JSON (storedWeapon).
func storedCol(name string, f func(w *storedWeapon) any) column {
	return column{name: name, value: func(r *record) any { return f(r.weapon) }}
}

func intCol(name string, f func(w *codecs.Weapon) any) column {
	c := weaponCol(name, f)
	c.integer = true
	return c
}

// commonColumns are the columns of every weapon table (migrations/00001_weapon_tables.sql).
var commonColumns = []column{
	weaponCol("key", func(w *codecs.Weapon) any { return textRef{&w.Key} }),
	weaponCol("version", func(w *codecs.Weapon) any { return int64Ref{&w.Version} }),
	weaponCol("content_hash", func(w *codecs.Weapon) any { return textRef{&w.ContentHash} }),
	weaponCol("weapon_type", func(w *codecs.Weapon) any { return textRef{(*string)(&w.WeaponType)} }),
	weaponCol("page_kind", func(w *codecs.Weapon) any { return textRef{(*string)(&w.PageKind)} }),
	weaponCol("layout", func(w *codecs.Weapon) any { return textRef{(*string)(&w.Layout)} }),
	weaponCol("page", func(w *codecs.Weapon) any { return textRef{&w.Page} }),
	weaponCol("url", func(w *codecs.Weapon) any { return textRef{&w.URL} }),
	weaponCol("row_id", func(w *codecs.Weapon) any { return textRef{&w.RowID} }),
	weaponCol("hidden", func(w *codecs.Weapon) any { return w.Hidden }),
	weaponCol("scraped_at", func(w *codecs.Weapon) any { return timeRef{&w.ScrapedAt} }),
	{name: "kafka_topic", value: func(r *record) any { return textRef{&r.pos.Topic} }},
	{name: "kafka_partition", value: func(r *record) any { return r.pos.ID }, integer: true},
	{name: "kafka_offset", value: func(r *record) any { return int64Ref{&r.pos.Offset} }},
	weaponCol("name", func(w *codecs.Weapon) any { return textRef{&w.Name} }),
	intCol("level", func(w *codecs.Weapon) any { return intRef{w.Level} }),
	intCol("rarity", func(w *codecs.Weapon) any { return intRef{w.Rarity} }),
	intCol("g_rank", func(w *codecs.Weapon) any { return intRef{w.GRank} }),
	intCol("attack", func(w *codecs.Weapon) any { return intRef{w.Attack} }),
	intCol("affinity", func(w *codecs.Weapon) any { return intRef{w.Affinity} }),
	weaponCol("element", func(w *codecs.Weapon) any { return elementKind(w, false) }),
	intCol("element_value", func(w *codecs.Weapon) any { return elementValue(w, false) }),
	weaponCol("status", func(w *codecs.Weapon) any { return elementKind(w, true) }),
	intCol("status_value", func(w *codecs.Weapon) any { return elementValue(w, true) }),
	storedCol("elements", func(w *storedWeapon) any { return rawJSONB(&w.Elements) }),
	intCol("defense", func(w *codecs.Weapon) any { return intRef{w.Defense} }),
	intCol("slots", func(w *codecs.Weapon) any { return intRef{w.Slots} }),
	weaponCol("rank_system", func(w *codecs.Weapon) any {
		if w.Rank == nil {
			return nil
		}
		return text(&w.Rank.System)
	}),
	intCol("rank_level", func(w *codecs.Weapon) any {
		if w.Rank == nil {
			return nil
		}
		return intRef{w.Rank.Level}
	}),
	intCol("price", func(w *codecs.Weapon) any { return intRef{w.Price} }),
	weaponCol("description", func(w *codecs.Weapon) any { return text(&w.Description) }),
	storedCol("upgrade_from", func(w *storedWeapon) any { return rawJSONB(&w.UpgradeFrom) }),
	storedCol("upgrade_to", func(w *storedWeapon) any { return rawJSONB(&w.UpgradeTo) }),
	storedCol("sharpness", func(w *storedWeapon) any { return rawJSONB(&w.Sharpness) }),
	storedCol("materials", storedMaterials),
	storedCol("tower", func(w *storedWeapon) any { return rawJSONB(&w.Tower) }),
}

// The columns of one type's pages.
var (
	hornColumns = []column{
		weaponCol("horn_notes", func(w *codecs.Weapon) any { return w.HornNotes }),
	}
	gunlanceColumns = []column{
		weaponCol("shelling", func(w *codecs.Weapon) any { return text(&w.Shelling) }),
	}
	axeColumns = []column{
		weaponCol("phial", func(w *codecs.Weapon) any { return text(&w.Phial) }),
	}
	bowgunColumns = []column{
		storedCol("reload", func(w *storedWeapon) any { return bowgun(w, func(b *storedBowgun) any { return text(&b.Reload) }) }),
		storedCol("recoil", func(w *storedWeapon) any { return bowgun(w, func(b *storedBowgun) any { return text(&b.Recoil) }) }),
		storedCol("bullet_speed", func(w *storedWeapon) any {
			return bowgun(w, func(b *storedBowgun) any { return text(&b.BulletSpeed) })
		}),
		storedCol("ammo", func(w *storedWeapon) any { return bowgun(w, func(b *storedBowgun) any { return rawJSONB(&b.Ammo) }) }),
	}
	bowColumns = []column{
		storedCol("arc_shot", func(w *storedWeapon) any { return bow(w, func(b *storedBow) any { return text(&b.ArcShot) }) }),
		storedCol("charge_levels", func(w *storedWeapon) any {
			return bow(w, func(b *storedBow) any { return rawJSONB(&b.ChargeLevels) })
		}),
		storedCol("coatings", func(w *storedWeapon) any { return bow(w, func(b *storedBow) any { return b.Coatings }) }),
	}
	tailColumns = []column{
		storedCol("extra", func(w *storedWeapon) any { return rawJSONB(&w.Extra) }),
		storedCol("quality", func(w *storedWeapon) any { return rawJSONB(&w.Quality) }), // 00003_quality.sql
		storedCol("source", func(w *storedWeapon) any { return rawJSONB(&w.Source) }),   // 00009_slim_rows.sql
		// 00012_zenith_skill.sql
		weaponCol("zenith_skill", func(w *codecs.Weapon) any { return text(&w.ZenithSkill) }),
	}
)

// columnsByTable holds tableColumns of every table, computed once.
var columnsByTable = func() map[string][]column {
	m := map[string][]column{}
	for _, t := range migrations.WeaponTables() {
		m[t] = buildColumns(t)
	}
	return m
}()

// tableColumns returns the columns of a weapon table, in the migration's order.
func tableColumns(table string) []column { return columnsByTable[table] }

func buildColumns(table string) []column {
	var specific []column
	switch table {
	case string(codecs.HuntingHorn):
		specific = hornColumns
	case string(codecs.Gunlance):
		specific = gunlanceColumns
	case string(codecs.SwitchAxeF):
		specific = axeColumns
	case string(codecs.LightBowgun), string(codecs.HeavyBowgun):
		specific = bowgunColumns
	case string(codecs.Bow):
		specific = bowColumns
	case migrations.PartnerTable:
		specific = concat(hornColumns, gunlanceColumns, axeColumns, bowgunColumns, bowColumns)
	}
	return concat(commonColumns, specific, tailColumns)
}

func concat(lists ...[]column) []column {
	var out []column
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// columnNames returns the names of cols.
func columnNames(cols []column) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return names
}

// checkRow checks the integer columns of a decoded record. A number its column cannot hold (an
// attack of 3e9) makes the record unstorable and says why: the COPY would refuse to encode it,
// which fails the whole batch, so the record is dead-lettered before it gets there. The row's
// values are read when it is written (appendCopy), not kept with the record.
func checkRow(r *record, cols []column) {
	for _, c := range cols {
		if !c.integer {
			continue
		}
		if n, ok := int4Overflow(c.value(r)); ok {
			r.reason = fmt.Sprintf("%s: store %s version %d in %s: column %s: %d is out of range for type integer",
				r.pos, r.weapon.Key, r.weapon.Version, r.table, c.name, n)
			return
		}
	}
}

// rowOf fills row (reused: its capacity is kept) with the values of r's columns, in order: the
// arguments of a single row's INSERT (the COPY encodes the same values: appendCopy).
func rowOf(r *record, cols []column, row []any) []any {
	row = row[:0]
	for _, c := range cols {
		row = append(row, c.value(r))
	}
	return row
}

// int4Overflow returns v as a number, and whether it is a number beyond PostgreSQL's integer.
func int4Overflow(v any) (int64, bool) {
	ref, ok := v.(intRef)
	if !ok || ref.n == nil {
		return 0, false
	}
	n := int64(*ref.n)
	return n, n < math.MinInt32 || n > math.MaxInt32
}

// statuses are the element kinds that are statuses (the rest are elements).
var statuses = map[string]bool{"poison": true, "paralysis": true, "para": true, "sleep": true, "blast": true}

func isStatus(kind string) bool { return statuses[strings.ToLower(strings.TrimSpace(kind))] }

// firstElement returns the first element (or status) of w, in page order.
func firstElement(w *codecs.Weapon, status bool) *codecs.Element {
	for i := range w.Elements {
		if isStatus(w.Elements[i].Kind) == status {
			return &w.Elements[i]
		}
	}
	return nil
}

func elementKind(w *codecs.Weapon, status bool) any {
	if e := firstElement(w, status); e != nil {
		return textRef{&e.Kind}
	}
	return nil
}

func elementValue(w *codecs.Weapon, status bool) any {
	if e := firstElement(w, status); e != nil {
		return intRef{&e.Value}
	}
	return nil
}

func bowgun(w *storedWeapon, f func(*storedBowgun) any) any {
	if w.Bowgun == nil {
		return nil
	}
	return f(w.Bowgun)
}

func bow(w *storedWeapon, f func(*storedBow) any) any {
	if w.Bow == nil {
		return nil
	}
	return f(w.Bow)
}

// text is NULL for an empty string: the page does not say.
func text(s *string) any {
	if *s == "" {
		return nil
	}
	return textRef{s}
}

// The values of the columns point into the record: a string, a number or a time boxed in an
// any allocates, for every value of every row; a struct of one pointer does not, and pgx
// reads these through its valuer interfaces (the same encoding as of the values they point to).
type (
	textRef  struct{ s *string }
	intRef   struct{ n *int } // NULL when n is nil
	int64Ref struct{ n *int64 }
	timeRef  struct{ t *time.Time }
)

func (v textRef) TextValue() (pgtype.Text, error) { return pgtype.Text{String: *v.s, Valid: true}, nil }

func (v intRef) Int64Value() (pgtype.Int8, error) {
	if v.n == nil {
		return pgtype.Int8{}, nil
	}
	return pgtype.Int8{Int64: int64(*v.n), Valid: true}, nil
}

func (v int64Ref) Int64Value() (pgtype.Int8, error) {
	return pgtype.Int8{Int64: *v.n, Valid: true}, nil
}

func (v timeRef) TimestamptzValue() (pgtype.Timestamptz, error) {
	return pgtype.Timestamptz{Time: *v.t, Valid: true}, nil
}
