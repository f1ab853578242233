package weaponrow

import (
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// oddRow is a ken row written by hand, cell by cell.
func oddRow(cells map[string]string) *codecs.RawRecord {
	r := &codecs.RawRecord{Schema: 1, Key: "long_sword/base/l9999", WeaponType: codecs.LongSword,
		PageKind: codecs.KindBase, Layout: codecs.LayoutBlademaster, Page: "tachi.htm", RowID: "l9999",
		Occurrence: 1, ScrapedAt: time.Date(2025, 10, 22, 0, 0, 0, 0, time.UTC)}
	for _, h := range []string{"Name", "Rarity", "Attributes", "Sharpness", "Slots", "Rank", "Price",
		"Creation Mats", "Upgrade Mats", "Description"} {
		r.Cells = append(r.Cells, codecs.RawCell{Header: h, HTML: cells[h]})
	}
	return r
}

func TestParseOddCells(t *testing.T) {
	tests := []struct {
		name   string
		cells  map[string]string
		fields []field
	}{
		{"empty cells", map[string]string{"Name": "Odd", "Attributes": "100 0%", "Rarity": "<br>", "Slots": "",
			"Rank": "", "Price": "<br>", "Creation Mats": "<br>", "Description": "<br>"}, []field{
			f("rarity", fRarity, (*int)(nil)), f("slots", fSlots, (*int)(nil)), f("rank", fRank, (*codecs.Rank)(nil)),
			f("price", fPrice, (*int)(nil)), f("creation", func(w *codecs.Weapon) any { return w.Creation }, [][]codecs.Material(nil)),
			f("extra", func(w *codecs.Weapon) any { return w.Extra }, map[string]string(nil)),
		}},
		{"two statuses and a negative defense", map[string]string{"Name": "Odd",
			"Attributes": "1026 <s>-15%</s><br>Dragon 240<br>毒 200<br>Def -200"}, []field{
			f("affinity", fAff, ip(-15)), f("elements", fElems, []codecs.Element{el("dragon", 240), el("poison", 200)}),
			f("defense", fDef, ip(-200)),
		}},
		{"entities, Japanese and full-width", map[string]string{"Name": "Iron Katana &quot;Grace&quot;<p>祈歌武器</p>",
			"Attributes": "５００ 0%", "Rank": "GSR<br>１",
			"Upgrade Mats": `<a href="../sozai/sozai.htm?2604" class="k">0426・ツンツル</a>x１０<br>or<br>` +
				`<a href="../sozai/sozai.htm?0001">A</a>x1<br><a href="../sozai/sozai.htm?0002">B</a>x2<br>or<br>` +
				`<a href="../sozai/sozai.htm?0003">C</a>x3<br>不明`}, []field{
			f("name", fName, `Iron Katana "Grace"`), f("note", fExtra("name_note"), "祈歌武器"), f("attack", fAttack, ip(500)),
			f("rank", fRank, &codecs.Rank{System: "GSR", Level: ip(1)}),
			f("upgrade", func(w *codecs.Weapon) any { return w.Upgrade }, [][]codecs.Material{
				{{ItemID: "2604", Name: "0426・ツンツル", Quantity: 10, Key: true}},
				{{ItemID: "0001", Name: "A", Quantity: 1}, {ItemID: "0002", Name: "B", Quantity: 2}},
				{{ItemID: "0003", Name: "C", Quantity: 3}}}),
			f("upgrade note", fExtra("upgrade_note"), "不明"),
		}},
		{"unknown column kept", map[string]string{"Name": "Odd", "Attributes": "100 0%"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := oddRow(tc.cells)
			if tc.fields == nil {
				raw.Cells = append(raw.Cells, codecs.RawCell{Header: "Mystery", HTML: "42<br>x"})
				tc.fields = []field{f("extra", fExtra("Mystery"), "42\nx")}
			}
			w, err := Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if findings, err := Validate(w); err != nil || len(findings) > 0 {
				t.Fatalf("Validate: findings %+v, error %v; want neither", findings, err)
			}
			for _, fl := range tc.fields {
				if got := fl.got(w); !equalJSON(got, fl.want) {
					t.Errorf("%s: got %s, want %s", fl.name, show(got), show(fl.want))
				}
			}
		})
	}
}

func equalJSON(a, b any) bool { return show(a) == show(b) }
