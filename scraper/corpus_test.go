package scraper

import (
	"context"
	"testing"

	"github.com/IBM/sarama"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

const (
	corpusRows = 145955 // weapon rows of each snapshot (the corpus README and the manifests)
	corpusDups = 2      // ids repeated inside a page: slaxe_g l3C4D50, tachi_g l3FEC50
)

// rowCheck is what a real row of the newest snapshot says, read by eye in its HTML. The cells'
// contents are the processor's to read (processors/weaponrow); the scraper is checked for the
// rows, their cells and where each cell stands.
type rowCheck struct {
	key      string
	layout   codecs.Layout
	hidden   bool
	cells    int
	header   map[int]string // cell index -> its column header
	colspans map[int]int
}

// realRows are three or more rows of each layout (ken, gun, yumi, tenrou) and of each page kind
// (base, g, ravi, rngcat, sp, tower, partner), hidden level rows included.
var realRows = []rowCheck{
	// ken, base: the header mapping.
	{key: "long_sword/base/l0005", layout: "ken", cells: 10,
		header: map[int]string{0: "Name", 2: "Attributes", 3: "Sharpness", 4: "Slots", 7: "Creation Mats", 8: "Upgrade Mats", 9: "Description"}},
	{key: "long_sword/base/l000A", layout: "ken", cells: 10},
	// ken, G rank: a visible Lv1 and a hidden level row, "100%/60%" headers.
	{key: "long_sword/g/l219C", layout: "ken", cells: 10,
		header: map[int]string{2: "Attribute", 4: "Slot", 7: "100%Creation Mats", 8: "60%Creation Mats"}},
	{key: "long_sword/g/l219C2", layout: "ken", hidden: true, cells: 10},
	// ken, Ravi: evolution weapon, its hidden Lv2.
	{key: "long_sword/ravi/l135D", layout: "ken", cells: 10},
	{key: "long_sword/ravi/l135D2", layout: "ken", hidden: true, cells: 10},
	// ken, RNGCat: a visible second level.
	{key: "long_sword/rngcat/l16BB", layout: "ken", cells: 10, header: map[int]string{3: "Sharpness"}},
	{key: "long_sword/rngcat/l16BB2", layout: "ken", cells: 10},
	// ken, SP.
	{key: "long_sword/sp/l066F", layout: "ken", cells: 10},
	{key: "long_sword/sp/l0670", layout: "ken", cells: 10},
	// ken, partner.
	{key: "great_sword/partner/l0001", layout: "ken", cells: 10},
	{key: "great_sword/partner/l0003", layout: "ken", cells: 10},
	// gun.
	{key: "heavy_bowgun/g/l06B7", layout: "gun", cells: 11,
		header: map[int]string{2: "Attack", 3: "Reload\nRecoil\nBullet Speed", 4: "Ammo", 8: "100%Creation Mats"}},
	{key: "heavy_bowgun/ravi/l058D", layout: "gun", cells: 11},
	{key: "heavy_bowgun/ravi/l058D2", layout: "gun", hidden: true, cells: 11},
	{key: "light_bowgun/sp/l00D0", layout: "gun", cells: 11},
	// yumi.
	{key: "bow/base/l0050", layout: "yumi", cells: 11,
		header: map[int]string{2: "Attack Attribute", 3: "Charge Stage", 4: "Coatings"}},
	{key: "bow/g/l06B5", layout: "yumi", cells: 11},
	{key: "bow/g/l06B52", layout: "yumi", hidden: true, cells: 11},
	// tenrou (tower): Japanese headers, colspans.
	{key: "long_sword/tower/l3190", layout: "tenrou", cells: 14,
		header: map[int]string{0: "名称", 3: "コスト\n強化素材", 6: "ゲージ", 10: "毒\nコスト", 13: "状態異常\n強化素材"}},
	{key: "long_sword/tower/l31901", layout: "tenrou", cells: 14},
	{key: "hammer/tower/l31916", layout: "tenrou", cells: 13,
		header:   map[int]string{6: "ゲージ", 7: "属性", 8: "コスト\n強化素材", 12: "状態異常\n強化素材"},
		colspans: map[int]int{6: 2, 7: 0}},
	{key: "bow/tower/l0B67", layout: "tenrou", cells: 10,
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
	for i, want := range c.header {
		if got := r.Cells[i].Header; got != want {
			t.Errorf("%s cell %d header %q, want %q", c.key, i, got, want)
		}
	}
	for i, want := range c.colspans {
		if got := r.Cells[i].Colspan; got != want {
			t.Errorf("%s cell %d colspan %d, want %d", c.key, i, got, want)
		}
	}
}
