package weaponrow

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// field is one expected value of a parsed weapon, checked by eye against the row's HTML.
type field struct {
	name string
	got  func(w *codecs.Weapon) any
	want any
}

func ip(n int) *int { return &n }

func el(kind string, v int) codecs.Element   { return codecs.Element{Kind: kind, Value: v} }
func sh(c string, hits int) codecs.Sharpness { return codecs.Sharpness{Colour: c, Hits: hits} }
func cl(stage int, shot string, level int, locked bool) codecs.ChargeLevel {
	return codecs.ChargeLevel{Stage: stage, Shot: shot, Level: level, Locked: locked}
}

func f(name string, got func(w *codecs.Weapon) any, want any) field {
	return field{name, got, want}
}

var (
	fName   = func(w *codecs.Weapon) any { return w.Name }
	fLevel  = func(w *codecs.Weapon) any { return w.Level }
	fRarity = func(w *codecs.Weapon) any { return w.Rarity }
	fGRank  = func(w *codecs.Weapon) any { return w.GRank }
	fAttack = func(w *codecs.Weapon) any { return w.Attack }
	fAff    = func(w *codecs.Weapon) any { return w.Affinity }
	fElems  = func(w *codecs.Weapon) any { return w.Elements }
	fDef    = func(w *codecs.Weapon) any { return w.Defense }
	fSlots  = func(w *codecs.Weapon) any { return w.Slots }
	fRank   = func(w *codecs.Weapon) any { return w.Rank }
	fPrice  = func(w *codecs.Weapon) any { return w.Price }
	fZenith = func(w *codecs.Weapon) any { return w.ZenithSkill }
	fExtra  = func(key string) func(w *codecs.Weapon) any {
		return func(w *codecs.Weapon) any { return w.Extra[key] }
	}
)

func TestParseRealRows(t *testing.T) {
	tests := []struct {
		fixture string
		fields  []field
	}{
		{"ken_base_tree", []field{ // tachi.htm l000A
			f("name", fName, "Iron Katana"), f("level", fLevel, (*int)(nil)), f("rarity", fRarity, ip(1)),
			f("g rank", fGRank, (*int)(nil)), f("attack", fAttack, ip(480)), f("affinity", fAff, ip(0)),
			f("elements", fElems, []codecs.Element(nil)), f("slots", fSlots, ip(0)),
			f("rank", fRank, &codecs.Rank{System: "HR", Level: ip(1)}), f("price", fPrice, ip(1575)),
			f("sharpness", func(w *codecs.Weapon) any { return w.Sharpness }, [][]codecs.Sharpness{
				{sh("red", 12), sh("orange", 8), sh("yellow", 17)},
				{sh("red", 12), sh("orange", 8), sh("yellow", 22), sh("green", 8)}}),
			f("creation", func(w *codecs.Weapon) any { return w.Creation }, [][]codecs.Material{{
				{ItemID: "00DA", Name: "Machalite Ore", Quantity: 2, Key: true},
				{ItemID: "00D8", Name: "Iron Ore", Quantity: 3}, {ItemID: "00D9", Name: "Earth Crystal", Quantity: 5},
				{ItemID: "00AC", Name: "Whetstone", Quantity: 5}}}),
			f("upgrade", func(w *codecs.Weapon) any { return w.Upgrade }, [][]codecs.Material{{
				{ItemID: "00D8", Name: "Iron Ore", Quantity: 2}, {ItemID: "00DA", Name: "Machalite Ore", Quantity: 1},
				{ItemID: "00D9", Name: "Earth Crystal", Quantity: 3}}}),
			f("upgrade from", func(w *codecs.Weapon) any { return w.UpgradeFrom },
				[]codecs.WeaponRef{{Page: "taiken.htm", RowID: "l0002", Name: "Iron Sword+"}}),
			f("upgrade to", func(w *codecs.Weapon) any { return w.UpgradeTo },
				[]codecs.WeaponRef{{RowID: "l000B", Name: `Iron Katana "Grace"`}}),
			f("description", func(w *codecs.Weapon) any { return w.Description },
				"東方伝来の加工技術の剣。\n丹念に加工された刃は強靭で、\n粘りがある。手入れは重要。"),
			f("sharpness title", fExtra("sharpness_title"), "005150"),
		}},
		{"ken_base_or", []field{ // tachi.htm l0381: "or" between two recipes
			f("name", fName, "Blue Lightblade"), f("elements", fElems, []codecs.Element{el("thunder", 140)}),
			f("affinity", fAff, ip(5)), f("price", fPrice, ip(0)), f("source", fExtra("source"), "Gifts/HL"),
			f("creation", func(w *codecs.Weapon) any { return w.Creation }, [][]codecs.Material{
				{{ItemID: "0BFF", Name: "East Light [Blue]", Quantity: 1, Key: true}},
				{{ItemID: "0C01", Name: "West Light [Blue]", Quantity: 1, Key: true}}}),
			f("upgrade", func(w *codecs.Weapon) any { return w.Upgrade }, [][]codecs.Material(nil)),
		}},
		{"ken_g_lv1", []field{ // tachi_g.htm l219C: "Ephemerality Nodachi<b>Lv1</b>", "12<b>GR</b>1"
			f("name", fName, "Ephemerality Nodachi"), f("level", fLevel, ip(1)), f("rarity", fRarity, ip(12)),
			f("g rank", fGRank, ip(1)), f("attack", fAttack, ip(1248)), f("elements", fElems, []codecs.Element{el("fire", 120)}),
			f("rank without level", fRank, &codecs.Rank{System: "HR"}), f("price", fPrice, ip(1450)),
			f("100% mats", func(w *codecs.Weapon) any { return w.GCreation100 }, [][]codecs.Material{{
				{ItemID: "19F3", Name: "Kut-Ku Bone", Quantity: 3, Key: true},
				{ItemID: "19DB", Name: "Spiderwort", Quantity: 1}, {ItemID: "19FF", Name: "GR1 Gem", Quantity: 2}}}),
			f("60% mats", func(w *codecs.Weapon) any { return w.GCreation60 }, [][]codecs.Material(nil)),
			f("hidden", func(w *codecs.Weapon) any { return w.Hidden }, false),
		}},
		{"ken_g_hidden", []field{ // tachi_g.htm l219C2: a hidden level row, "1740<hr>なし"
			f("hidden", func(w *codecs.Weapon) any { return w.Hidden }, true), f("level", fLevel, ip(2)),
			f("name", fName, "Ephemerality Nodachi"), f("attack", fAttack, ip(1272)), f("price", fPrice, ip(1740)),
			f("price 60%", fExtra("price_60"), "なし"), f("60% note", fExtra("g_creation_60_note"), "なし"),
			f("description (empty cell)", func(w *codecs.Weapon) any { return w.Description }, ""),
			f("100% mats", func(w *codecs.Weapon) any { return len(w.GCreation100[0]) }, 3),
		}},
		{"ken_ravi_two_status", []field{ // magspike_s.htm l42202: "Dragon 240<br>毒 200"
			f("name", fName, `Ophion Pillar "Glory"`), f("level", fLevel, ip(2)),
			f("elements", fElems, []codecs.Element{el("dragon", 240), el("poison", 200)}),
			f("rank", fRank, &codecs.Rank{System: "HR", Level: ip(300)}), f("hidden", func(w *codecs.Weapon) any { return w.Hidden }, true),
		}},
		{"ken_rngcat", []field{ // taiken_n.htm l158D
			f("name", fName, "Kirin Illusion【雷切】"), f("note", fExtra("name_note"), "RNG Cat Weapon"),
			f("length", fExtra("length"), "Short"), f("affinity", fAff, ip(30)),
		}},
		{"ken_sp", []field{ // katate_sp.htm l05DC
			f("name", fName, "Master Kalinga SP I"), f("rank", fRank, &codecs.Rank{System: "HR", Level: ip(100)}),
			f("price", fPrice, ip(10000)),
		}},
		{"ken_partner", []field{ // taiken_partnya.htm l0003: Japanese name, two "Creation Mats" headers
			f("name", fName, "レイアネコレイピア"), f("attack", fAttack, ip(70)), f("affinity", fAff, ip(5)),
			f("elements", fElems, []codecs.Element{el("dragon", 80)}),
			f("creation", func(w *codecs.Weapon) any { return w.Creation[0][0] },
				codecs.Material{ItemID: "2604", Name: "0426・ツンツル", Quantity: 5, Key: true}),
			f("upgrade (second Creation Mats, empty)", func(w *codecs.Weapon) any { return w.Upgrade }, [][]codecs.Material(nil)),
		}},
		{"ken_rank_dash", []field{ // gunlance.htm l01D3: rank "-", "Not Craftable"
			f("name", fName, "Gunlance Debug"), f("rank", fRank, (*codecs.Rank)(nil)),
			f("creation", func(w *codecs.Weapon) any { return w.Creation }, [][]codecs.Material(nil)),
			f("creation note", fExtra("creation_note"), "Not Craftable"), f("shelling", func(w *codecs.Weapon) any { return w.Shelling }, "Long Shot LV1"),
			f("source", fExtra("source"), "Inaccessible"),
		}},
		{"gunlance_shelling", []field{ // gunlance.htm l006E
			f("shelling", func(w *codecs.Weapon) any { return w.Shelling }, "Normal Shot LV1"),
			f("upgrade to", func(w *codecs.Weapon) any { return len(w.UpgradeTo) }, 3),
		}},
		{"horn_notes", []field{ // horn.htm l3B03
			f("notes", func(w *codecs.Weapon) any { return w.HornNotes }, []string{"purple", "green", "red"}),
			f("zenith", fZenith, "Drug Knowledge Up+"), f("note", fExtra("name_note"), "辿異武器"),
			f("elements", fElems, []codecs.Element{el("poison", 650)}), f("rank", fRank, &codecs.Rank{System: "GR", Level: ip(200)}),
		}},
		{"slaxe_phial", []field{ // slaxe.htm l3B23
			f("phial", func(w *codecs.Weapon) any { return w.Phial }, "Status Phial"),
			f("zenith", fZenith, "Drug Knowledge Up+"), f("elements", fElems, []codecs.Element{el("sleep", 300)}),
		}},
		{"hammer_length", []field{ // hammer.htm l0495: "832 <s>-5%</s>"
			f("affinity", fAff, ip(-5)), f("length", fExtra("length"), "Very Long"), f("source", fExtra("source"), "Festival"),
		}},
		{"gun_base_defense", []field{ // heavy.htm l0013
			f("name", fName, "Blue Kut-Ku Cannon"), f("attack", fAttack, ip(228)), f("defense", fDef, ip(6)),
			f("reload", func(w *codecs.Weapon) any { return *w.Bowgun }, codecs.Bowgun{Reload: "Very Slow", Recoil: "Medium",
				BulletSpeed: "Very Fast", Ammo: w0013Ammo}),
		}},
		{"gun_rapid_fire", []field{ // right.htm l0EA3
			f("rapid fire", fExtra("rapid_fire"), "LV2Normal S/LV1Pierce S/Flame"),
			f("zenith", fZenith, "C. Conversion Up+1"), f("affinity", fAff, ip(25)),
			f("ammo count", func(w *codecs.Weapon) any { return len(w.Bowgun.Ammo) }, 32),
		}},
		{"gun_g_lv1", []field{ // heavy_g.htm l06B7
			f("level", fLevel, ip(1)), f("g rank", fGRank, ip(1)), f("reload", func(w *codecs.Weapon) any {
				return []string{w.Bowgun.Reload, w.Bowgun.Recoil, w.Bowgun.BulletSpeed}
			}, []string{"Slow", "Small", "Very Slow"}),
			f("norm lv3 underlined", func(w *codecs.Weapon) any { return w.Bowgun.Ammo[2] },
				codecs.Ammo{Ammo: "Norm", Level: 3, Capacity: ip(9), Marked: true}),
			f("psn lv2 none", func(w *codecs.Weapon) any { return w.Bowgun.Ammo[18] }, codecs.Ammo{Ammo: "Psn", Level: 2}),
		}},
		{"bow_base", []field{ // yumi.htm l004E
			f("bow", func(w *codecs.Weapon) any { return *w.Bow }, codecs.BowStats{ArcShot: "Wide",
				ChargeLevels: []codecs.ChargeLevel{cl(1, "Rpd", 1, false), cl(2, "Spr", 1, false), cl(3, "Rpd", 3, false), cl(4, "Spr", 3, true)},
				Coatings:     []string{"Power Coating", "Poison Coating", "Para Coating", "Sleep Coating"}}),
			f("slots", fSlots, ip(3)),
		}},
		{"bow_guild", []field{ // yumi.htm l0443: "180 0%<br>Fire 100<br>Slicing", "5000<br>Guild"
			f("arc", func(w *codecs.Weapon) any { return w.Bow.ArcShot }, "Slicing"),
			f("elements", fElems, []codecs.Element{el("fire", 100)}), f("price", fPrice, ip(5000)),
			f("source", fExtra("source"), "Guild"), f("coatings", func(w *codecs.Weapon) any { return w.Bow.Coatings[1] }, "Poison Up＋３"),
		}},
		{"bow_g_hidden", []field{ // yumi_g.htm l06B52: "1740<hr>None"
			f("price 60%", fExtra("price_60"), "None"), f("level", fLevel, ip(2)), f("arc", func(w *codecs.Weapon) any { return w.Bow.ArcShot }, "Bomb"),
		}},
		{"tower_base_row", []field{ // tachi_t.htm l3190: 回数 "-"
			f("name", fName, "ブラッドドランク"), f("level", fLevel, (*int)(nil)), f("attack", fAttack, ip(864)),
			f("attack upgrade", func(w *codecs.Weapon) any { return w.Tower.Upgrades[0] }, codecs.TowerUpgrade{Stat: "攻撃力", Value: "864",
				Materials: []codecs.Material{{ItemID: "2B96", Name: "焦げた秘文書", Quantity: 1}}}),
			f("sharpness", func(w *codecs.Weapon) any { return w.Sharpness[1] }, []codecs.Sharpness{sh("green", 17), sh("blue", 23), sh("white", 10)}),
		}},
		{"tower_lv1", []field{ // tachi_t.htm l31901
			f("level", fLevel, ip(1)), f("attack", fAttack, ip(883)), f("affinity", fAff, ip(1)),
			f("attack upgrade", func(w *codecs.Weapon) any { return w.Tower.Upgrades[0] }, codecs.TowerUpgrade{Stat: "攻撃力", Value: "883",
				Cost: ip(1), Total: ip(1), Materials: []codecs.Material{{ItemID: "2B97", Name: "勇ましき宝玉", Quantity: 3}}}),
			f("gauge upgrade", func(w *codecs.Weapon) any { return w.Tower.Upgrades[2] }, codecs.TowerUpgrade{Stat: "ゲージ",
				Cost: ip(20), Total: ip(20), Materials: []codecs.Material{{ItemID: "2B99", Name: "加護の宝玉", Quantity: 10}}}),
			f("poison", func(w *codecs.Weapon) any { return w.Tower.Upgrades[4] }, codecs.TowerUpgrade{Stat: "毒", Value: "2", Cost: ip(1), Total: ip(1)}),
			f("status mats", func(w *codecs.Weapon) any { return w.Tower.Upgrades[7] }, codecs.TowerUpgrade{Stat: "状態異常",
				Materials: []codecs.Material{{ItemID: "2B98", Name: "閃きの宝玉", Quantity: 3}}}),
		}},
		{"tower_gunlance", []field{ // gunlance_t.htm l31941
			f("shelling level", func(w *codecs.Weapon) any { return w.Tower.Upgrades[8] }, codecs.TowerUpgrade{Stat: "砲撃LV", Value: "LV2",
				Cost: ip(1), Total: ip(1), Materials: []codecs.Material{{ItemID: "2B99", Name: "加護の宝玉", Quantity: 3}}}),
			f("other (colspan 2)", func(w *codecs.Weapon) any { return w.Tower.Upgrades[9] }, codecs.TowerUpgrade{Stat: "その他", Value: "砲撃変更",
				Materials: []codecs.Material{{ItemID: "2B9A", Name: "脈動する液体", Quantity: 1}}}),
		}},
		{"tower_bow", []field{ // yumi_t.htm l0B671
			f("charge 3", func(w *codecs.Weapon) any { return w.Tower.Upgrades[6] }, codecs.TowerUpgrade{Stat: "溜３",
				Cost: ip(30), Total: ip(30), Materials: []codecs.Material{{ItemID: "2B99", Name: "加護の宝玉", Quantity: 20}}}),
			f("charge level", func(w *codecs.Weapon) any { return w.Tower.Upgrades[3] }, codecs.TowerUpgrade{Stat: "溜LV", Value: "LV2"}),
		}},
		{"tower_heavy", []field{ // heavy_t.htm l0B651: "1<b> (計10)</b>"
			f("recoil", func(w *codecs.Weapon) any { return w.Tower.Upgrades[3] }, codecs.TowerUpgrade{Stat: "反動", Value: "大",
				Cost: ip(1), Total: ip(10), Materials: []codecs.Material{{ItemID: "2B99", Name: "加護の宝玉", Quantity: 10}}}),
			f("reload", func(w *codecs.Weapon) any { return w.Tower.Upgrades[2].Value }, "やや遅い"),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			raw := fixture(t, tc.fixture)
			w, err := Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if findings, err := Validate(w); err != nil || len(findings) > 0 {
				t.Fatalf("Validate: findings %+v, error %v; want neither", findings, err)
			}
			for _, fl := range tc.fields {
				if got := fl.got(w); !reflect.DeepEqual(got, fl.want) {
					t.Errorf("%s: got %s, want %s", fl.name, show(got), show(fl.want))
				}
			}
		})
	}
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// w0013Ammo is the ammo table of heavy.htm l0013 ("Norm ：6/6/9", "Pierc：<u>3</u>/3/<u>3</u>", …).
var w0013Ammo = func() []codecs.Ammo {
	a := func(name string, level int, capacity *int, marked bool) codecs.Ammo {
		return codecs.Ammo{Ammo: name, Level: level, Capacity: capacity, Marked: marked}
	}
	return []codecs.Ammo{
		a("Norm", 1, ip(6), false), a("Norm", 2, ip(6), false), a("Norm", 3, ip(9), false),
		a("Pierc", 1, ip(3), true), a("Pierc", 2, ip(3), false), a("Pierc", 3, ip(3), true),
		a("Pelet", 1, ip(4), true), a("Pelet", 2, ip(4), false), a("Pelet", 3, ip(4), true),
		a("Crag", 1, ip(1), true), a("Crag", 2, ip(1), false), a("Crag", 3, ip(1), true),
		a("Clust", 1, ip(1), true), a("Clust", 2, ip(1), false), a("Clust", 3, ip(1), true),
		a("Recov", 1, nil, false), a("Recov", 2, nil, false), a("Psn", 1, nil, false), a("Psn", 2, ip(1), false),
		a("Para", 1, nil, false), a("Para", 2, nil, false), a("Slp", 1, nil, false), a("Slp", 2, nil, false),
		a("Flame", 1, ip(3), false), a("Water", 1, nil, false), a("Thund", 1, nil, false), a("Freez", 1, nil, false),
		a("Dragn", 1, nil, false), a("Tranq", 1, ip(2), false), a("Paint", 1, ip(2), false),
		a("Demon", 1, nil, false), a("Armor", 1, nil, false),
	}
}()

// TestNormHeader: the ASCII path folds as unicode's rules do.
func TestNormHeader(t *testing.T) {
	for _, h := range []string{"name", "Name", "Attack/ Attributes", "Reload\nRecoil\tBullet Speed", "Sharpness\r\n",
		"攻撃力 Attack", "ＡＴＫ", "Charge\u00a0Stage", "", "a\x01b", "\x7f"} {
		if got, want := normHeader(h), strings.Map(foldHeaderRune, h); got != want {
			t.Errorf("normHeader(%q) = %q, want %q", h, got, want)
		}
	}
}
