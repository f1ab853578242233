package weaponrow

import (
	"fmt"
	"strings"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// checkItemIDs validates the item id of every material: the part of its link after "?", a hex
// number on this site ("../sozai/sozai.htm?055C"). Some links are malformed: tachi_sp.htm has 207
// `<a href=../sozai/sozai.htm?055C">`, an unquoted href that keeps the closing quote. An id that
// is hex once the quotes and spaces around it are trimmed is repaired, with a finding; any other
// is left empty, with a finding, rather than stored as an id that links nowhere. It runs on the
// finished weapon so that each finding names the material's place in the weapon's JSON.
func checkItemIDs(w *codecs.Weapon) {
	lists := []struct {
		field   string
		recipes [][]codecs.Material
	}{{"creation", w.Creation}, {"upgrade", w.Upgrade}, {"g_creation_100", w.GCreation100},
		{"g_creation_60", w.GCreation60}}
	for _, l := range lists {
		for i, r := range l.recipes {
			for j := range r {
				checkItemID(w, &r[j], func() string { return fmt.Sprintf("%s[%d][%d].item_id", l.field, i, j) })
			}
		}
	}
	if w.Tower != nil {
		for i, u := range w.Tower.Upgrades {
			for j := range u.Materials {
				checkItemID(w, &u.Materials[j], func() string {
					return fmt.Sprintf("tower.upgrades[%d].materials[%d].item_id", i, j)
				})
			}
		}
	}
}

func checkItemID(w *codecs.Weapon, m *codecs.Material, field func() string) {
	if isHex(m.ItemID) {
		return
	}
	rule := RuleItemLinkMalformed
	repaired := strings.Trim(m.ItemID, "\"' \t")
	if !isHex(repaired) {
		rule, repaired = RuleItemIDNotHex, ""
	}
	w.Quality = append(w.Quality, codecs.Finding{Field: field(), Value: m.ItemID, Rule: rule})
	m.ItemID = repaired
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
