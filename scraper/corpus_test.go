package scraper

import (
	"context"
	"reflect"
	"testing"

	"github.com/IBM/sarama"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

const (
	corpusRows = 145955 // weapon rows of each snapshot (the corpus README and the manifests)
	corpusDups = 2      // ids repeated inside a page: slaxe_g l3C4D50, tachi_g l3FEC50
)

// rowCheck is what a real row of the newest snapshot says, read by eye in its HTML.
type rowCheck struct {
	key      string
	layout   codecs.Layout
	hidden   bool
	cells    int
	text     map[int]string        // cell index -> text
	header   map[int]string        // cell index -> its column header
	links    map[int][]codecs.Link // cell index -> links
	marks    map[int][]codecs.Mark
	sharp    map[int][]string // cell index -> bars, in segs() notation
	title    string           // the first bar's title
	colspans map[int]int
}

// realRows are three or more rows of each layout (ken, gun, yumi, tenrou) and of each page kind
// (base, g, ravi, rngcat, sp, tower, partner), hidden level rows included.
var realRows = []rowCheck{
	// ken, base: the upgrade-tree links, both sharpness bars, the header mapping.
	{key: "long_sword/base/l0005", layout: "ken", cells: 10,
		text: map[int]string{0: "Hellish Slasher\n　Bone Katana \"Dragon\"←→Divine Slasher", 1: "3", 2: "768 10%", 4: "1",
			5: "HR\n22", 6: "11375", 7: "", 8: "Daora Hornx1\nDaora Clawx3\nStriped Skinx2",
			9: "地上において並ぶもの無しと\nされる一振り。\nまごうことなき名刀。"},
		header: map[int]string{0: "Name", 2: "Attributes", 3: "Sharpness", 4: "Slots", 7: "Creation Mats", 8: "Upgrade Mats", 9: "Description"},
		links: map[int][]codecs.Link{0: {{Text: "Bone Katana \"Dragon\"←", Href: "#l000F"}, {Text: "→Divine Slasher", Href: "#l00D1"}},
			8: {{Text: "Daora Horn", Href: "../sozai/sozai.htm?0228"}, {Text: "Daora Claw", Href: "../sozai/sozai.htm?022A"},
				{Text: "Striped Skin", Href: "../sozai/sozai.htm?0254"}}},
		sharp: map[int][]string{3: {"r20 o7 y28 g20", "r20 o7 y28 g25 b7"}}, title: "000300"},
	{key: "long_sword/base/l000A", layout: "ken", cells: 10,
		text:  map[int]string{0: "Iron Katana\n　Iron Sword+←→Iron Katana \"Grace\"", 6: "1575"},
		links: map[int][]codecs.Link{7: {{Text: "Machalite Ore", Href: "../sozai/sozai.htm?00DA", Class: "k"}, {Text: "Iron Ore", Href: "../sozai/sozai.htm?00D8"}, {Text: "Earth Crystal", Href: "../sozai/sozai.htm?00D9"}, {Text: "Whetstone", Href: "../sozai/sozai.htm?00AC"}}},
		sharp: map[int][]string{3: {"r12 o8 y17", "r12 o8 y22 g8"}}, title: "005150"},
	// ken, G rank: a visible Lv1 and a hidden level row, "100%/60%" headers, GR marks.
	{key: "long_sword/g/l219C", layout: "ken", cells: 10,
		text:   map[int]string{0: "Ephemerality Nodachi\nLv1", 1: "12\nGR\n1", 2: "1248 0%\nFire 120", 5: "HR", 6: "1450"},
		header: map[int]string{2: "Attribute", 4: "Slot", 7: "100%Creation Mats", 8: "60%Creation Mats"},
		marks:  map[int][]codecs.Mark{0: {{Tag: "b", Text: "Lv1"}}, 1: {{Tag: "b", Text: "GR"}}},
		sharp:  map[int][]string{3: {"r2 o20 y15 g33 b5", "r2 o20 y15 g33 b15 w2"}}, title: "009300"},
	{key: "long_sword/g/l219C2", layout: "ken", hidden: true, cells: 10,
		text: map[int]string{0: "Ephemerality Nodachi\nLv2", 2: "1272 0%\nFire 120", 6: "1740\nなし", 7: "Pokaradon Clawx3\nSmiela Aphidx2\nStoneshell Crabx3",
			8: "なし", 9: ""},
		links: map[int][]codecs.Link{7: {{Text: "Pokaradon Claw", Href: "../sozai/sozai.htm?19FA"}, {Text: "Smiela Aphid", Href: "../sozai/sozai.htm?19D9"}, {Text: "Stoneshell Crab", Href: "../sozai/sozai.htm?1AA1"}}}},
	// ken, Ravi: evolution weapon, its hidden Lv2.
	{key: "long_sword/ravi/l135D", layout: "ken", cells: 10,
		text:  map[int]string{0: "Ophion Katana\nLv1", 2: "720 0%\nDragon 200", 9: "一太刀で飛竜がひれ伏したと\n言い伝えられる大巌竜の太刀。\n≪進化武器≫"},
		marks: map[int][]codecs.Mark{9: {{Tag: "s", Text: "≪進化武器≫"}}},
		sharp: map[int][]string{3: {"r10 o12 y16", "r10 o12 y18 g10"}}, title: "013152"},
	{key: "long_sword/ravi/l135D2", layout: "ken", hidden: true, cells: 10,
		text: map[int]string{2: "724 0%\nDragon 200", 6: "70", 7: "", 8: "", 9: ""}},
	// ken, RNGCat: a <p> mark, and a visible second level.
	{key: "long_sword/rngcat/l16BB", layout: "ken", cells: 10,
		text:  map[int]string{0: "Floating Peak LS \"Water\"\nRNG Cat Weapon", 2: "1291 30%\nPara 210"},
		marks: map[int][]codecs.Mark{0: {{Tag: "p", Text: "RNG Cat Weapon"}}, 9: {{Tag: "s", Text: "≪RNG Cat Weapon≫"}}}},
	{key: "long_sword/rngcat/l16BB2", layout: "ken", cells: 10,
		text: map[int]string{2: "1281 40%\nPara 220", 9: ""}},
	{key: "long_sword/rngcat/l16BB", layout: "ken", cells: 10, header: map[int]string{3: "Sharpness"},
		sharp: map[int][]string{3: {"r22 o13 y2 g28 w10", "r22 o13 y2 g28 w15 p7"}}, title: "00F300"},
	// ken, SP: the site's malformed href (a missing opening quote) is kept as served.
	{key: "long_sword/sp/l066F", layout: "ken", cells: 10,
		text: map[int]string{0: "Gate Guard Sword SP I\n→Gate Guard Sword SP II", 7: "F.Wyvern Hardtailx1\nPurple Dyegrassx1\nCarbalite Orex3"},
		links: map[int][]codecs.Link{0: {{Text: "→Gate Guard Sword SP II", Href: "#l0670"}},
			7: {{Text: "F.Wyvern Hardtail", Href: `../sozai/sozai.htm?0526"`, Class: "k"}, {Text: "Purple Dyegrass", Href: `../sozai/sozai.htm?05B0"`}, {Text: "Carbalite Ore", Href: `../sozai/sozai.htm?00DC"`}}},
		marks: map[int][]codecs.Mark{9: {{Tag: "s", Text: "ＳＰ武器：LV1"}}},
		sharp: map[int][]string{3: {"r12 o8 y22 g35 b10", "r12 o8 y22 g35 b15 w8"}}, title: "005350"},
	{key: "long_sword/sp/l0670", layout: "ken", cells: 10,
		text: map[int]string{7: "", 8: "F.Wyvern Brothx1"}, marks: map[int][]codecs.Mark{9: {{Tag: "s", Text: "ＳＰ武器：LV2"}}}},
	// ken, partner.
	{key: "great_sword/partner/l0001", layout: "ken", cells: 10,
		text: map[int]string{0: "ボーンネコピック", 2: "25 0%", 6: "620", 7: "Sm Monster Bonex2\nBonex1\nSharp Clawx1"}},
	{key: "great_sword/partner/l0003", layout: "ken", cells: 10,
		text:  map[int]string{0: "レイアネコレイピア", 2: "70 5%\nDragon 80"},
		links: map[int][]codecs.Link{7: {{Text: "0426・ツンツル", Href: "../sozai/sozai.htm?2604", Class: "k"}, {Text: "Rathian Scale", Href: "../sozai/sozai.htm?0188"}, {Text: "Rathian Shl", Href: "../sozai/sozai.htm?018C"}, {Text: "Fire Wyvern Fluid", Href: "../sozai/sozai.htm?03CD"}}}},
	// gun: ammo lists are not sharpness bars; <u> and <i> marks; nested <s>.
	{key: "heavy_bowgun/g/l06B7", layout: "gun", cells: 11,
		text: map[int]string{0: "BB Kut-Ku Heavy Bowgun\nLv1", 3: "Slow\nSmall\nVery Slow",
			4: "Norm ：6/6/9\nPierc：3/3/3\nPelet：4/4/4\nCrag ：1/1/1\nClust：1/1/1\nRecov：3/3\nPsn  ：3/-\nPara ：3/-\nSlp  ：3/-\nFlame：3\nWater：-\nThund：-\nFreez：-\nDragn：-\nTranq：2\nPaint：2\nDemon：-\nArmor：-"},
		header: map[int]string{2: "Attack", 3: "Reload\nRecoil\nBullet Speed", 4: "Ammo", 8: "100%Creation Mats"},
		sharp:  map[int][]string{4: nil}},
	{key: "heavy_bowgun/ravi/l058D", layout: "gun", cells: 11,
		text:  map[int]string{3: "Very Fast\nSmaller\nVery Slow", 9: ""},
		marks: map[int][]codecs.Mark{10: {{Tag: "s", Text: "Blastshot"}, {Tag: "s", Text: "≪進化武器≫"}}}},
	{key: "heavy_bowgun/ravi/l058D2", layout: "gun", hidden: true, cells: 11, text: map[int]string{2: "255 0%", 6: "HR\n17", 7: "70"}},
	{key: "light_bowgun/sp/l00D0", layout: "gun", cells: 11,
		text: map[int]string{10: "口伝の秘技による逸品。\nRapid Fire：LV1 Pierce S\nＳＰ武器"},
		marks: map[int][]codecs.Mark{4: {{Tag: "u", Text: "4"}, {Tag: "u", Text: "4"}, {Tag: "u", Text: "4"}, {Tag: "u", Text: "1"},
			{Tag: "u", Text: "1"}, {Tag: "u", Text: "1"}, {Tag: "u", Text: "1"}, {Tag: "i", Text: "Rapid Fire：LV1Pierce S"}},
			10: {{Tag: "s", Text: "Rapid Fire：LV1 Pierce S\nＳＰ武器"}, {Tag: "s", Text: "ＳＰ武器"}}}},
	// yumi.
	{key: "bow/base/l0050", layout: "yumi", cells: 11,
		text:   map[int]string{0: "Power Wild Bow III\n　Power Wild Bow I←→Power Wild Bow III", 2: "240 -10%\nNarrow", 3: "1:RpdLV1\n2:RpdLV2\n3:PrcLV3\n4:PrcLV4", 4: "Poison Up＋１\nPara Coating\nSleep Coating"},
		header: map[int]string{2: "Attack Attribute", 3: "Charge Stage", 4: "Coatings"},
		marks:  map[int][]codecs.Mark{2: {{Tag: "s", Text: "-10%"}}, 3: {{Tag: "i", Text: "4:PrcLV4"}}}},
	{key: "bow/g/l06B5", layout: "yumi", cells: 11, text: map[int]string{2: "301 0%\nFire 150\nBomb", 6: "HR"}},
	{key: "bow/g/l06B52", layout: "yumi", hidden: true, cells: 11, text: map[int]string{7: "1740\nNone", 9: "None"}},
	// tenrou (tower): Japanese headers, <td id="ken"> gauges, colspans, inline <b>.
	{key: "long_sword/tower/l3190", layout: "tenrou", cells: 14,
		text:   map[int]string{0: "ブラッドドランク", 1: "-", 2: "864", 3: "焦げた秘文書x1", 5: "", 10: "0"},
		header: map[int]string{0: "名称", 3: "コスト\n強化素材", 6: "ゲージ", 10: "毒\nコスト", 13: "状態異常\n強化素材"},
		sharp:  map[int][]string{6: {"g17 b20", "g17 b23 w10"}}, title: "02F150"},
	{key: "long_sword/tower/l31901", layout: "tenrou", cells: 14,
		text:  map[int]string{3: "1 (計1)\n勇ましき宝玉x3", 7: "20 (計20)\n加護の宝玉x10", 10: "2\n1(計1)"},
		marks: map[int][]codecs.Mark{3: {{Tag: "b", Text: "(計1)"}}}},
	{key: "hammer/tower/l31916", layout: "tenrou", cells: 13,
		text:     map[int]string{1: "6", 2: "1034", 6: "", 7: "18", 9: "12\n1(計6)"},
		header:   map[int]string{6: "ゲージ", 7: "属性", 8: "コスト\n強化素材", 12: "状態異常\n強化素材"},
		colspans: map[int]int{6: 2, 7: 0}},
	{key: "bow/tower/l0B67", layout: "tenrou", cells: 10,
		text:     map[int]string{0: "シェオル", 8: "LV1", 9: "-"},
		header:   map[int]string{8: "溜LV", 9: "溜１コスト\n強化素材"},
		colspans: map[int]int{9: 4}},
}

// TestRealSnapshot scrapes the newest snapshot of the site from a local HTTP mirror: every
// weapon row of every page, and the fields of the rows above. In the same pass (the corpus is
// read once, to keep the -race run short) the records go to the real broker: the topic then
// holds exactly one message per weapon row, and a consumer reads back the keys emitted.
func TestRealSnapshot(t *testing.T) {
	var brokers []string
	t.Run("broker", func(t *testing.T) { brokers = testenv.KafkaBrokers(t) }) // skips (outside CI) only the Kafka part
	dir := testenv.Snapshot(t, testenv.Newest)
	manifest := testenv.Manifest(t, testenv.Newest)
	_, srv := newMirror(t, dir, nil)
	f, err := NewHTTPFetcher(srv.URL+"/buki/", unlimitedHTTP())
	if err != nil {
		t.Fatal(err)
	}
	s, err := newTestScraper(f, 4)
	if err != nil {
		t.Fatal(err)
	}
	wanted := map[string]bool{}
	for _, c := range realRows {
		wanted[c.key] = true
	}
	var em *Emitter
	var topic codecs.Topic
	var cfg *sarama.Config
	if brokers != nil {
		topic, cfg = kafkaTopic(t, brokers, 4)
		if em, err = NewEmitter(brokers, topic, cfg, quietEmitter()); err != nil {
			t.Fatal(err)
		}
	}
	perPage := map[string]int{}
	keys := make(map[string]struct{}, corpusRows)
	kept := map[string]*codecs.RawRecord{}
	res, err := s.Scrape(context.Background(), func(r *codecs.RawRecord) error {
		perPage[r.Page]++
		keys[r.Key] = struct{}{}
		if wanted[r.Key] {
			kept[r.Key] = r
		}
		if em != nil {
			return em.Emit(r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if em != nil {
		if err := em.Close(); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("counts", func(t *testing.T) {
		for _, m := range manifest {
			if _, _, err := codecs.ParsePageName(m.Page); err != nil {
				continue // the index pages
			}
			if perPage[m.Page] != m.WeaponRows {
				t.Errorf("%s: %d records, manifest says %d weapon rows", m.Page, perPage[m.Page], m.WeaponRows)
			}
		}
		if res.Rows != corpusRows || len(keys) != corpusRows {
			t.Errorf("%d records, %d distinct keys; want %d of each", res.Rows, len(keys), corpusRows)
		}
		if res.Pages != 86 || res.Failures() != 0 || res.Duplicates != corpusDups {
			t.Errorf("pages %d failures %v duplicates %d; want 86, none, %d", res.Pages, res.FailedPages, res.Duplicates, corpusDups)
		}
		for _, k := range []string{"switch_axe_f/g/l3C4D50~2", "long_sword/g/l3FEC50~2"} {
			if _, ok := keys[k]; !ok {
				t.Errorf("the second row of a repeated id, %s, is missing", k)
			}
		}
	})

	t.Run("kafka", func(t *testing.T) {
		if em == nil {
			t.Skip("no broker (see the broker subtest)")
		}
		if em.Acked() != corpusRows {
			t.Fatalf("%d records acknowledged, want %d", em.Acked(), corpusRows)
		}
		total, read := readKeys(t, brokers, cfg, topic)
		if total != corpusRows || len(read) != corpusRows {
			t.Errorf("topic holds %d messages with %d distinct keys, want %d", total, len(read), corpusRows)
		}
		for k := range keys {
			if _, ok := read[k]; !ok {
				t.Errorf("key %s emitted but not read back", k)
				break
			}
		}
	})

	t.Run("fields", func(t *testing.T) {
		for _, c := range realRows {
			r := kept[c.key]
			if r == nil {
				t.Errorf("%s: no such record", c.key)
				continue
			}
			checkRow(t, c, r)
		}
	})
}

func checkRow(t *testing.T, c rowCheck, r *codecs.RawRecord) {
	t.Helper()
	if r.Layout != c.layout || r.Hidden != c.hidden || len(r.Cells) != c.cells {
		t.Errorf("%s: layout %s hidden %v cells %d; want %s %v %d", c.key, r.Layout, r.Hidden, len(r.Cells), c.layout, c.hidden, c.cells)
		return
	}
	if r.Cells[0].ID != r.RowID {
		t.Errorf("%s: first cell id %q, row id %q", c.key, r.Cells[0].ID, r.RowID)
	}
	for i, want := range c.text {
		if got := r.Cells[i].Text; got != want {
			t.Errorf("%s cell %d text %q, want %q", c.key, i, got, want)
		}
	}
	for i, want := range c.header {
		if got := r.Cells[i].Header; got != want {
			t.Errorf("%s cell %d header %q, want %q", c.key, i, got, want)
		}
	}
	for i, want := range c.links {
		if got := r.Cells[i].Links; !reflect.DeepEqual(got, want) {
			t.Errorf("%s cell %d links\n got %+v\nwant %+v", c.key, i, got, want)
		}
	}
	for i, want := range c.marks {
		if got := r.Cells[i].Marks; !reflect.DeepEqual(got, want) {
			t.Errorf("%s cell %d marks\n got %+v\nwant %+v", c.key, i, got, want)
		}
	}
	for i, want := range c.sharp {
		got := r.Cells[i].Sharpness
		if len(got) != len(want) {
			t.Errorf("%s cell %d: %d sharpness bars, want %d", c.key, i, len(got), len(want))
			continue
		}
		for b := range want {
			if !reflect.DeepEqual(got[b].Segments, segs(want[b])) {
				t.Errorf("%s cell %d bar %d: %+v, want %s", c.key, i, b, got[b].Segments, want[b])
			}
		}
		if len(got) > 0 && got[0].Title != c.title {
			t.Errorf("%s cell %d bar title %q, want %q", c.key, i, got[0].Title, c.title)
		}
	}
	for i, want := range c.colspans {
		if got := r.Cells[i].Colspan; got != want {
			t.Errorf("%s cell %d colspan %d, want %d", c.key, i, got, want)
		}
	}
}
