package codecs

import (
	"errors"
	"fmt"
	"time"
)

// WeaponSchemaVersion is the version of Weapon written by this build.
const WeaponSchemaVersion = 1

// Weapon is one version of one weapon row, parsed, validated and numbered by the processor.
// It is what the per-type topics carry and what the sink stores, one table row per version.
// Optional numbers are pointers: nil means the page does not say.
type Weapon struct {
	Schema      int    `json:"schema"`
	Key         string `json:"key"`          // the raw record's key
	Version     int64  `json:"version"`      // 1 for the first content seen, +1 for each change
	ContentHash string `json:"content_hash"` // hex SHA-256 of the normalized content

	WeaponType WeaponType `json:"weapon_type"`
	PageKind   PageKind   `json:"page_kind"`
	Layout     Layout     `json:"layout"`
	Page       string     `json:"page"`
	URL        string     `json:"url"`
	RowID      string     `json:"row_id"`
	Hidden     bool       `json:"hidden"`
	ScrapedAt  time.Time  `json:"scraped_at"`
	Source     Source     `json:"source"` // where the raw record was read on weapon_data

	Name        string        `json:"name"`
	Level       *int          `json:"level,omitempty"`     // the "Lv2" of level rows
	Rarity      *int          `json:"rarity,omitempty"`    // "12<b>GR</b>1": 12
	GRank       *int          `json:"g_rank,omitempty"`    // "12<b>GR</b>1": 1
	Attack      *int          `json:"attack,omitempty"`    // displayed attack
	Affinity    *int          `json:"affinity,omitempty"`  // percent, may be negative
	Elements    []Element     `json:"elements,omitempty"`  // elements and statuses, in page order
	Defense     *int          `json:"defense,omitempty"`   // "Defense +5"
	Sharpness   [][]Sharpness `json:"sharpness,omitempty"` // bars: normal, then with Sharpness+1
	Slots       *int          `json:"slots,omitempty"`
	Rank        *Rank         `json:"rank,omitempty"` // HR 31, GR 100, GSR 1
	Price       *int          `json:"price,omitempty"`
	Description string        `json:"description,omitempty"`

	// Materials: each list is the alternatives of one recipe ("or" on the page), each
	// alternative a list of items. G-rank pages have the 100% and 60% creation lists instead.
	Creation     [][]Material      `json:"creation,omitempty"`
	Upgrade      [][]Material      `json:"upgrade,omitempty"`
	GCreation100 [][]Material      `json:"g_creation_100,omitempty"`
	GCreation60  [][]Material      `json:"g_creation_60,omitempty"`
	UpgradeFrom  []WeaponRef       `json:"upgrade_from,omitempty"`
	UpgradeTo    []WeaponRef       `json:"upgrade_to,omitempty"`
	Bowgun       *Bowgun           `json:"bowgun,omitempty"`
	Bow          *BowStats         `json:"bow,omitempty"`
	Tower        *Tower            `json:"tower,omitempty"`
	HornNotes    []string          `json:"horn_notes,omitempty"` // note colours of a hunting horn
	Shelling     string            `json:"shelling,omitempty"`   // gunlance: "Normal Shot LV1"
	Phial        string            `json:"phial,omitempty"`      // switch axe: "Ele Phial"
	Extra        map[string]string `json:"extra,omitempty"`      // what has no typed field yet
	// ZenithSkill is the skill of a Zenith weapon ("Skill Slots Up+1" of "Zenith Skill：Skill
	// Slots Up+1", under its sharpness, ammo or charge stages); builds before it kept it in
	// Extra["zenith_skill"].
	ZenithSkill string `json:"zenith_skill,omitempty"`

	// Quality lists what looks wrong in the row: each value is stored as the site shows it, and
	// flagged here rather than dropped.
	Quality []Finding `json:"quality,omitempty"`
}

// Finding is one value of a weapon that looks wrong: out of the range the site's weapons have,
// missing, or repaired from a malformed link.
type Finding struct {
	// Field is where the value is in the weapon's JSON (as on the weapon topics): "attack",
	// "elements[1].value", "creation[0][2].item_id".
	Field string `json:"field"`
	// Value is the value as text ("102400"; "" for a missing value).
	Value string `json:"value"`
	// Rule is a short, stable id of what is wrong: "element_range", "no_attack", ...
	Rule string `json:"rule"`
}

// Source locates a record on a Kafka topic.
type Source struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// Element is one element or status of a weapon, with its value: {"fire", 270}.
type Element struct {
	Kind  string `json:"kind"`
	Value int    `json:"value"`
}

// Sharpness is one segment of a typed sharpness bar: its colour name and its hits.
type Sharpness struct {
	Colour string `json:"colour"`
	Hits   int    `json:"hits"`
}

// Rank is the hunter rank a weapon requires: a system ("HR", "GR", "GSR") and a level.
type Rank struct {
	System string `json:"system"`
	Level  *int   `json:"level,omitempty"`
}

// Material is one item of a recipe.
type Material struct {
	ItemID   string `json:"item_id"`
	Name     string `json:"name"`
	Quantity int    `json:"quantity"`
	Key      bool   `json:"key,omitempty"` // the item the page marks as the recipe's key item
}

// WeaponRef points at another weapon row: in the upgrade tree, the one a weapon comes from or
// leads to.
type WeaponRef struct {
	Page  string `json:"page"` // empty for the same page
	RowID string `json:"row_id"`
	Name  string `json:"name"`
}

// Bowgun holds what bowgun pages say beyond the common columns.
type Bowgun struct {
	Reload      string `json:"reload,omitempty"`
	Recoil      string `json:"recoil,omitempty"`
	BulletSpeed string `json:"bullet_speed,omitempty"`
	Ammo        []Ammo `json:"ammo,omitempty"`
}

// Ammo is one ammo of a bowgun at one level: its capacity ("-" on the page: not usable).
type Ammo struct {
	Ammo     string `json:"ammo"`
	Level    int    `json:"level"`
	Capacity *int   `json:"capacity,omitempty"`
	Marked   bool   `json:"marked,omitempty"` // underlined on the page
}

// BowStats holds what bow pages say beyond the common columns.
type BowStats struct {
	ArcShot      string        `json:"arc_shot,omitempty"`
	ChargeLevels []ChargeLevel `json:"charge_levels,omitempty"`
	Coatings     []string      `json:"coatings,omitempty"`
}

// ChargeLevel is one charge stage of a bow: "3:RpdLV3".
type ChargeLevel struct {
	Stage  int    `json:"stage"`
	Shot   string `json:"shot"`
	Level  int    `json:"level"`
	Locked bool   `json:"locked,omitempty"` // shown in italics: needs a skill to unlock
}

// Tower holds the per-level upgrade costs and materials of a tower weapon.
type Tower struct {
	Upgrades []TowerUpgrade `json:"upgrades,omitempty"`
}

// TowerUpgrade is the cost of raising one stat of a tower weapon by one step.
type TowerUpgrade struct {
	Stat      string     `json:"stat"`            // the column header
	Value     string     `json:"value,omitempty"` // the stat's value at this level
	Cost      *int       `json:"cost,omitempty"`
	Total     *int       `json:"total,omitempty"` // "(計N)"
	Materials []Material `json:"materials,omitempty"`
}

// DecodeWeapon decodes a Weapon and checks its envelope.
func DecodeWeapon(data []byte) (*Weapon, error) { return decodeJSON[Weapon](data) }

// CheckWeapon checks what DecodeWeapon checks after decoding: schema version, key, version, type.
// For readers that decode a Weapon their own way (the sink keeps its jsonb parts as JSON).
func CheckWeapon(w *Weapon) error { return w.check() }

func (w *Weapon) check() error {
	switch {
	case w.Schema < 1 || w.Schema > WeaponSchemaVersion:
		return fmt.Errorf("decode weapon %q: schema %d: %w", w.Key, w.Schema, ErrUnknownSchema)
	case w.Key == "":
		return errors.New("decode weapon: missing key")
	case w.Version < 1:
		return fmt.Errorf("decode weapon %q: version %d, want >= 1", w.Key, w.Version)
	case !w.WeaponType.Valid():
		return fmt.Errorf("decode weapon %q: unknown weapon_type %q", w.Key, w.WeaponType)
	}
	return nil
}
