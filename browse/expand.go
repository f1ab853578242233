package browse

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// weaponParts are the parts of the weapon route's answer that cost queries or work: the resolved
// upgrade tree (expand=tree), the recipes' items resolved (expand=materials), the levels and the
// history (left out when fields= does not name them).
type weaponParts struct {
	tree, materials, levels, history bool
}

// fullWeapon is the answer without expand and fields: what the route has always answered.
var fullWeapon = weaponParts{tree: true, levels: true, history: true}

var (
	weaponParams  = []string{"fields", "expand"}
	expandChoices = []string{"materials", "tree", "none"}
)

// parseWeaponParams reads expand= and fields= of the weapon route. Without expand the tree is
// expanded (what the route always answered); expand=none expands nothing. fields may not name
// a part that is not expanded.
func parseWeaponParams(f *form) (weaponParts, []string) {
	parts := fullWeapon
	if _, ok := f.v["expand"]; ok {
		parts.tree = false
		expand := f.list("expand")
		for _, e := range expand {
			switch {
			case !slices.Contains(expandChoices, e):
				f.fail("expand: unknown part %q (known: %s)", clip(e), strings.Join(expandChoices, ", "))
			case e == "none" && len(expand) > 1:
				f.fail("expand: none with other parts: give none alone, or the parts")
			}
			parts.tree = parts.tree || e == "tree"
			parts.materials = parts.materials || e == "materials"
		}
	}
	fields := parseFields(f, weaponFields)
	if fields == nil {
		return parts, nil
	}
	if slices.Contains(fields, "upgrades") && !parts.tree {
		f.fail("fields: upgrades is the upgrade tree: add expand=tree (or leave expand out)")
	}
	if slices.Contains(fields, "materials") && !parts.materials {
		f.fail("fields: materials are the recipes' items: add expand=materials")
	}
	parts.tree = parts.tree && slices.Contains(fields, "upgrades")
	parts.levels = slices.Contains(fields, "levels")
	parts.history = slices.Contains(fields, "history")
	return parts, fields
}

// members are the members of an answer without fields: all but the parts not expanded.
func (p weaponParts) members() []string {
	return slices.DeleteFunc(slices.Clone(weaponFields), func(m string) bool {
		return (m == "upgrades" && !p.tree) || (m == "materials" && !p.materials)
	})
}

// MaterialItem is one item of one of a weapon's recipes, with where to read more about it.
type MaterialItem struct {
	// Recipe is creation, upgrade, g_creation_100 or g_creation_60, with " (option N)" when the
	// site gives several; or "tower STAT" for a tower weapon's upgrade of a stat.
	Recipe   string `json:"recipe"`
	ItemID   string `json:"item_id"`
	Name     string `json:"name"`
	Quantity int    `json:"quantity"`
	KeyItem  bool   `json:"key_item"`
	ItemURL  string `json:"item_url"` // the item's page on the Ferias site
	UsedBy   string `json:"used_by"`  // this API's list of the weapons that use it
}

// materialItems lists the items of the recipes of a weapon's record (its materials and, for a
// tower weapon, its tower upgrades), in the order of the recipes' names.
func (s *Server) materialItems(record []byte) (*[]MaterialItem, error) {
	var rec struct {
		Materials map[string][][]codecs.Material `json:"materials"`
		Tower     *codecs.Tower                  `json:"tower"`
	}
	if err := json.Unmarshal(record, &rec); err != nil {
		return nil, fmt.Errorf("decode the weapon's recipes: %w", err)
	}
	out := []MaterialItem{}
	add := func(recipe string, m codecs.Material) {
		out = append(out, MaterialItem{Recipe: recipe, ItemID: m.ItemID, Name: m.Name, Quantity: m.Quantity, KeyItem: m.Key,
			ItemURL: s.feriasItem(m.ItemID), UsedBy: "/api/materials?item_id=" + m.ItemID})
	}
	for _, name := range slices.Sorted(maps.Keys(rec.Materials)) {
		for i, alt := range rec.Materials[name] {
			recipe := name
			if len(rec.Materials[name]) > 1 {
				recipe += " (option " + strconv.Itoa(i+1) + ")"
			}
			for _, m := range alt {
				add(recipe, m)
			}
		}
	}
	if rec.Tower != nil {
		for _, u := range rec.Tower.Upgrades {
			for _, m := range u.Materials {
				add("tower "+u.Stat, m)
			}
		}
	}
	return &out, nil
}
