package weaponrow

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// TestItemIDs: a malformed item link keeps its hex id, with a finding; an id that is no hex number
// is left empty, with a finding. The first case is the link of tachi_sp.htm's 207 malformed rows.
func TestItemIDs(t *testing.T) {
	tests := []struct {
		name     string
		cell     string
		want     [][]codecs.Material
		findings []codecs.Finding
	}{
		{"well formed", `<a href="../sozai/sozai.htm?055C">B.Wyvern Finehide</a>x1`,
			[][]codecs.Material{{{ItemID: "055C", Name: "B.Wyvern Finehide", Quantity: 1}}}, nil},
		{"unquoted href keeping the closing quote (tachi_sp.htm)",
			`<a href=../sozai/sozai.htm?055C">B.Wyvern Finehide</a>x1<br>or<br><a href=../sozai/sozai.htm?0568">Cake</a>x2`,
			[][]codecs.Material{{{ItemID: "055C", Name: "B.Wyvern Finehide", Quantity: 1}},
				{{ItemID: "0568", Name: "Cake", Quantity: 2}}},
			[]codecs.Finding{{Field: "upgrade[0][0].item_id", Value: `055C"`, Rule: RuleItemLinkMalformed},
				{Field: "upgrade[1][0].item_id", Value: `0568"`, Rule: RuleItemLinkMalformed}}},
		{"not a hex id", `<a href="../sozai/sozai.htm?00DA">Ore</a>x2<br><a href="../sozai/sozai.htm?item-7">Odd</a>x3`,
			[][]codecs.Material{{{ItemID: "00DA", Name: "Ore", Quantity: 2}, {ItemID: "", Name: "Odd", Quantity: 3}}},
			[]codecs.Finding{{Field: "upgrade[0][1].item_id", Value: "item-7", Rule: RuleItemIDNotHex}}},
		{"no id at all", `<a href="../sozai/sozai.htm?">Nothing</a>x1`,
			[][]codecs.Material{{{ItemID: "", Name: "Nothing", Quantity: 1}}},
			[]codecs.Finding{{Field: "upgrade[0][0].item_id", Value: "", Rule: RuleItemIDNotHex}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Parse(oddRow(map[string]string{"Name": "Odd", "Attributes": "100 0%", "Upgrade Mats": tc.cell}))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(w.Upgrade, tc.want) || !reflect.DeepEqual(w.Quality, tc.findings) {
				t.Fatalf("upgrade %s quality %s; want %s and %s", show(w.Upgrade), show(w.Quality), show(tc.want), show(tc.findings))
			}
		})
	}
}

// TestItemIDsOfTowerUpgrades: the findings of a tower weapon name the upgrade's place in the
// weapon, after the empty upgrades are left out.
func TestItemIDsOfTowerUpgrades(t *testing.T) {
	raw := fixture(t, "tower_lv1")
	for i, c := range raw.Cells {
		if strings.HasPrefix(c.Header, "状態異常") {
			raw.Cells[i].HTML = strings.Replace(c.HTML, `href="../sozai/sozai.htm?2B98"`, `href=../sozai/sozai.htm?2B98"`, 1)
		}
	}
	w, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := []codecs.Finding{{Field: "tower.upgrades[7].materials[0].item_id", Value: `2B98"`, Rule: RuleItemLinkMalformed}}
	if !reflect.DeepEqual(w.Quality, want) || w.Tower.Upgrades[7].Materials[0].ItemID != "2B98" {
		t.Fatalf("quality %s, upgrade 7 %s; want %s and the id 2B98", show(w.Quality), show(w.Tower.Upgrades[7]), show(want))
	}
}
