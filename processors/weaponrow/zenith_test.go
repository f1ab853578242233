package weaponrow

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// TestZenithSkill: the "Zenith Skill：…" line the site writes under the sharpness bars, the ammo
// or the charge stages lands in Weapon.ZenithSkill and nowhere else (not in Extra, not in the
// cell it sits in). The fixtures of testdata/zenith are made-up rows in the site's shapes.
func TestZenithSkill(t *testing.T) {
	tests := []struct {
		fixture string
		want    string
		check   func(w *codecs.Weapon) (got, want any) // the cell's own values, read around the skill
	}{
		{"ken_sharpness", "Skill Slots Up+1", func(w *codecs.Weapon) (any, any) { return len(w.Sharpness), 2 }},
		{"ken_phial", "Test Skill Up+2", func(w *codecs.Weapon) (any, any) { return w.Phial, "Test Phial" }},
		{"gun_ammo", "Test Ammo Up+1", func(w *codecs.Weapon) (any, any) {
			return []any{len(w.Bowgun.Ammo), w.Extra["rapid_fire"]}, []any{6, "LV1Normal S"}
		}},
		{"bow_charge", "Test Charge Up+1", func(w *codecs.Weapon) (any, any) {
			return w.Bow.ChargeLevels, []codecs.ChargeLevel{cl(1, "Rpd", 3, false), cl(2, "Prc", 3, false), cl(3, "Spr", 4, true)}
		}},
		{"ken_without", "", func(w *codecs.Weapon) (any, any) { return len(w.Sharpness), 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			w, err := Parse(zenithFixture(t, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if w.ZenithSkill != tt.want {
				t.Errorf("ZenithSkill = %q, want %q", w.ZenithSkill, tt.want)
			}
			if v, ok := w.Extra["zenith_skill"]; ok {
				t.Errorf("Extra[zenith_skill] = %q, want no such key", v)
			}
			for k, v := range w.Extra {
				if k != "rapid_fire" && k != "sharpness_title" {
					t.Errorf("Extra[%s] = %q: the skill's line left something behind", k, v)
				}
			}
			if got, want := tt.check(w); !reflect.DeepEqual(got, want) {
				t.Errorf("the cell's values: got %+v, want %+v", got, want)
			}
		})
	}
}

func zenithFixture(t *testing.T, name string) *codecs.RawRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "zenith", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := codecs.DecodeRaw(b)
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return r
}
