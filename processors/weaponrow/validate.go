package weaponrow

import (
	"fmt"
	"strings"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// bounds is a sane range for one number of a weapon, wide enough for every weapon of the site
// (both snapshots) and narrow enough to catch a cell read as the wrong column.
type bounds struct{ min, max int }

var (
	attackBounds   = bounds{1, 10000}
	rarityBounds   = bounds{1, 12}
	gRankBounds    = bounds{1, 20}
	affinityBounds = bounds{-100, 100}
	elementBounds  = bounds{-5000, 5000}
	defenseBounds  = bounds{-1000, 1000}
	slotsBounds    = bounds{0, 3}
	rankBounds     = bounds{0, 9999}
	priceBounds    = bounds{0, 100_000_000}
	levelBounds    = bounds{1, 100}
	hitsBounds     = bounds{0, 1000}
	quantityBounds = bounds{1, 99999}
	capacityBounds = bounds{0, 999}
)

// Validate checks a parsed weapon: a known type, a name, an attack, and every number in its sane
// range. The error (a *Error of KindInvalid) names the record and every problem found.
func Validate(w *codecs.Weapon) error {
	var problems []string
	check := func(what string, v *int, b bounds) {
		if v != nil && (*v < b.min || *v > b.max) {
			problems = append(problems, fmt.Sprintf("%s %d outside [%d, %d]", what, *v, b.min, b.max))
		}
	}
	if !w.WeaponType.Valid() {
		problems = append(problems, fmt.Sprintf("unknown weapon type %q", w.WeaponType))
	}
	if strings.TrimSpace(w.Name) == "" {
		problems = append(problems, "no name")
	}
	if w.Attack == nil {
		problems = append(problems, "no attack")
	}
	check("attack", w.Attack, attackBounds)
	check("rarity", w.Rarity, rarityBounds)
	check("G rank", w.GRank, gRankBounds)
	check("affinity", w.Affinity, affinityBounds)
	check("defense", w.Defense, defenseBounds)
	check("slots", w.Slots, slotsBounds)
	check("price", w.Price, priceBounds)
	check("level", w.Level, levelBounds)
	if w.Rank != nil {
		check("rank level", w.Rank.Level, rankBounds)
	}
	for _, e := range w.Elements {
		check("element "+e.Kind, &e.Value, elementBounds)
	}
	for _, bar := range w.Sharpness {
		for _, s := range bar {
			check("sharpness "+s.Colour, &s.Hits, hitsBounds)
		}
	}
	for _, recipes := range [][][]codecs.Material{w.Creation, w.Upgrade, w.GCreation100, w.GCreation60} {
		for _, r := range recipes {
			for _, m := range r {
				check("quantity of "+m.Name, &m.Quantity, quantityBounds)
			}
		}
	}
	if w.Bowgun != nil {
		for _, a := range w.Bowgun.Ammo {
			check("capacity of "+a.Ammo, a.Capacity, capacityBounds)
		}
	}
	if len(problems) > 0 {
		return rowErr(KindInvalid, "record %s (%s row %s): %s", w.Key, w.Page, w.RowID,
			strings.Join(problems, "; "))
	}
	return nil
}
