package weaponrow

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// TestValidate: implausible values are findings (the weapon is kept), values the tables cannot
// hold and rows that are no weapon are errors naming the record and the field.
func TestValidate(t *testing.T) {
	base := func() *codecs.Weapon {
		return &codecs.Weapon{Key: "switch_axe_f/ravi/l3970", Page: "slaxe_s.htm", RowID: "l3970",
			WeaponType: codecs.SwitchAxeF, Name: `Apophis Axe "Glory"`, Attack: ip(3294), Rarity: ip(12),
			Slots: ip(3), Price: ip(0), Elements: []codecs.Element{el("dragon", 700)}}
	}
	tests := []struct {
		name     string
		change   func(w *codecs.Weapon)
		findings []codecs.Finding
		kind     string // of the error; "" for none
		reason   string
	}{
		{"plausible", func(w *codecs.Weapon) {}, nil, "", ""},
		{"status of the Apophis Axe rows", func(w *codecs.Weapon) { w.Elements = append(w.Elements, el("para", 102400)) },
			[]codecs.Finding{{Field: "elements[1].value", Value: "102400", Rule: "element_range"}}, "", ""},
		{"no attack", func(w *codecs.Weapon) { w.Attack = nil },
			[]codecs.Finding{{Field: "attack", Rule: RuleNoAttack}}, "", ""},
		{"several findings, in field order", func(w *codecs.Weapon) {
			w.Rarity, w.Affinity = ip(99), ip(250)
			w.Sharpness = [][]codecs.Sharpness{{sh("red", 5), sh("white", 4000)}}
		}, []codecs.Finding{{Field: "rarity", Value: "99", Rule: "rarity_range"},
			{Field: "affinity", Value: "250", Rule: "affinity_range"},
			{Field: "sharpness[0][1].hits", Value: "4000", Rule: "sharpness_range"}}, "", ""},
		{"attack beyond int4", func(w *codecs.Weapon) { w.Attack = ip(3_000_000_000) }, nil, KindUnstorable,
			"attack 3000000000 does not fit its column"},
		{"element beyond int4", func(w *codecs.Weapon) { w.Elements[0].Value = -3_000_000_000 }, nil, KindUnstorable,
			"elements[0].value -3000000000"},
		{"four slots: stored, flagged", func(w *codecs.Weapon) { w.Slots = ip(4) },
			[]codecs.Finding{{Field: "slots", Value: "4", Rule: "slots_range"}}, "", ""},
		{"negative price: stored, flagged", func(w *codecs.Weapon) { w.Price = ip(-1) },
			[]codecs.Finding{{Field: "price", Value: "-1", Rule: "price_range"}}, "", ""},
		{"no name", func(w *codecs.Weapon) { w.Name = " " }, nil, KindInvalid, "no name"},
		{"unknown type", func(w *codecs.Weapon) { w.WeaponType = "spear" }, nil, KindInvalid, `unknown weapon type "spear"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := base()
			tc.change(w)
			findings, err := Validate(w)
			if tc.kind == "" {
				if err != nil || !reflect.DeepEqual(findings, tc.findings) {
					t.Fatalf("findings %+v, error %v; want %+v", findings, err, tc.findings)
				}
				return
			}
			var re *Error
			if !errors.As(err, &re) || re.Kind != tc.kind || !strings.Contains(err.Error(), tc.reason) ||
				!strings.Contains(err.Error(), w.Key) {
				t.Fatalf("error %v; want kind %q naming %s and %q", err, tc.kind, w.Key, tc.reason)
			}
		})
	}
}
