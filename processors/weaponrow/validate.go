package weaponrow

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// The rules of the findings that are not ranges. A range rule is named after its field:
// "attack_range", "element_range", ...
const (
	RuleNoAttack          = "no_attack"           // a weapon without an attack value
	RuleItemLinkMalformed = "item_link_malformed" // an item link whose id needed a repair
	RuleItemIDNotHex      = "item_id_not_hex"     // an item link without a hex id: id left empty
)

// bounds is a closed range of integers.
type bounds struct{ min, max int }

func (b bounds) has(v int) bool { return v >= b.min && v <= b.max }

// The ranges of the weapon tables' columns: PostgreSQL's integer (their CHECK constraints on
// plausible values went with migrations/00006: such values are findings). A value outside cannot
// be stored at all.
var (
	int4Column     = bounds{math.MinInt32, math.MaxInt32}
	insideJSONB    = bounds{math.MinInt, math.MaxInt} // numbers of jsonb columns: any
	elementsColumn = int4Column                       // the first element and status have columns
)

// number is one number of a weapon: where it is, what its column can hold and the range of
// plausible values (wide enough for every weapon of both snapshots of the site, narrow enough to
// catch a cell read as the wrong column). A value outside the plausible range is a finding.
type number struct {
	at    place
	v     *int
	store bounds
	sane  bounds
	rule  string
}

// place is where a number is in the weapon's JSON: a field, or a field of an element of a list
// (of a list): "attack", "elements[1].value", "sharpness[0][2].hits". Its text is built only
// for a finding: most numbers are fine.
type place struct {
	list string
	i, j int // -1: not in a list
	leaf string
}

func fieldAt(name string) place                  { return place{list: name, i: -1, j: -1} }
func item(list string, i int, leaf string) place { return place{list: list, i: i, j: -1, leaf: leaf} }
func item2(list string, i, j int, leaf string) place {
	return place{list: list, i: i, j: j, leaf: leaf}
}

func (p place) String() string {
	s := p.list
	if p.i >= 0 {
		s += "[" + strconv.Itoa(p.i) + "]"
	}
	if p.j >= 0 {
		s += "[" + strconv.Itoa(p.j) + "]"
	}
	if p.leaf != "" {
		s += "." + p.leaf
	}
	return s
}

// eachNumber calls fn for every number of w that Validate checks.
func eachNumber(w *codecs.Weapon, fn func(number)) {
	fn(number{fieldAt("attack"), w.Attack, int4Column, bounds{1, 10000}, "attack_range"})
	fn(number{fieldAt("rarity"), w.Rarity, int4Column, bounds{1, 12}, "rarity_range"})
	fn(number{fieldAt("g_rank"), w.GRank, int4Column, bounds{1, 20}, "g_rank_range"})
	fn(number{fieldAt("affinity"), w.Affinity, int4Column, bounds{-100, 100}, "affinity_range"})
	fn(number{fieldAt("defense"), w.Defense, int4Column, bounds{-1000, 1000}, "defense_range"})
	fn(number{fieldAt("slots"), w.Slots, int4Column, bounds{0, 3}, "slots_range"})
	fn(number{fieldAt("price"), w.Price, int4Column, bounds{0, 100_000_000}, "price_range"})
	fn(number{fieldAt("level"), w.Level, int4Column, bounds{1, 100}, "level_range"})
	if w.Rank != nil {
		fn(number{fieldAt("rank.level"), w.Rank.Level, int4Column, bounds{0, 9999}, "rank_level_range"})
	}
	for i := range w.Elements {
		fn(number{item("elements", i, "value"), &w.Elements[i].Value, elementsColumn, bounds{-5000, 5000}, "element_range"})
	}
	for i, bar := range w.Sharpness {
		for j := range bar {
			fn(number{item2("sharpness", i, j, "hits"), &bar[j].Hits, insideJSONB, bounds{0, 1000}, "sharpness_range"})
		}
	}
	for _, list := range []struct {
		name    string
		recipes [][]codecs.Material
	}{{"creation", w.Creation}, {"upgrade", w.Upgrade}, {"g_creation_100", w.GCreation100},
		{"g_creation_60", w.GCreation60}} {
		for i, r := range list.recipes {
			for j := range r {
				fn(number{item2(list.name, i, j, "quantity"), &r[j].Quantity, insideJSONB, bounds{1, 99999}, "quantity_range"})
			}
		}
	}
	if w.Bowgun != nil {
		for i := range w.Bowgun.Ammo {
			fn(number{item("bowgun.ammo", i, "capacity"), w.Bowgun.Ammo[i].Capacity, insideJSONB, bounds{0, 999}, "capacity_range"})
		}
	}
}

// Validate checks a parsed weapon. What looks wrong but can be stored (a number outside the range
// of the site's weapons, no attack) is returned as findings, in a stable order: the weapon is
// stored as the site shows it, flagged. What cannot be a weapon row (no name, an unknown type) is
// an *Error of KindInvalid, and a value that the weapon tables cannot hold (a number outside
// PostgreSQL's integer) one of KindUnstorable; both name
// the record and every problem found.
func Validate(w *codecs.Weapon) ([]codecs.Finding, error) {
	var invalid, unstorable []string
	if !w.WeaponType.Valid() {
		invalid = append(invalid, fmt.Sprintf("unknown weapon type %q", w.WeaponType))
	}
	if strings.TrimSpace(w.Name) == "" {
		invalid = append(invalid, "no name")
	}
	var findings []codecs.Finding
	if w.Attack == nil {
		findings = append(findings, codecs.Finding{Field: "attack", Rule: RuleNoAttack})
	}
	eachNumber(w, func(n number) {
		switch {
		case n.v == nil:
		case !n.store.has(*n.v):
			unstorable = append(unstorable, fmt.Sprintf("%s %d does not fit its column (%d..%d)",
				n.at, *n.v, n.store.min, n.store.max))
		case !n.sane.has(*n.v):
			findings = append(findings, codecs.Finding{Field: n.at.String(), Value: strconv.Itoa(*n.v), Rule: n.rule})
		}
	})
	switch {
	case len(invalid) > 0:
		return nil, rowErr(KindInvalid, "record %s (%s row %s): %s", w.Key, w.Page, w.RowID,
			strings.Join(append(invalid, unstorable...), "; "))
	case len(unstorable) > 0:
		return nil, rowErr(KindUnstorable, "record %s (%s row %s): %s", w.Key, w.Page, w.RowID,
			strings.Join(unstorable, "; "))
	}
	return findings, nil
}
