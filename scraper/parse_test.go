package scraper

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// parseFixture parses a page of testdata/ under the given page name.
func parseFixture(t *testing.T, file, page string) (PageResult, []*codecs.RawRecord) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var recs []*codecs.RawRecord
	res, err := ParsePage(PageInfo{Name: page, URL: "file:///testdata/" + file, ScrapedAt: time.Unix(1, 0)}, body,
		func(r *codecs.RawRecord) error { recs = append(recs, r); return nil })
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	return res, recs
}

// TestParsePageCounts covers every fixture: the rows read, the issues reported, and whether
// the page counts as failed. Bad input never stops the good rows.
func TestParsePageCounts(t *testing.T) {
	tests := []struct {
		file, page string
		layout     string
		rows       int
		hidden     int
		issues     map[IssueKind]int
		failed     bool
		rowIDs     []string
	}{
		{file: "ken.htm", page: "tachi.htm", layout: "ken", rows: 4, hidden: 1,
			issues: map[IssueKind]int{IssueDuplicateID: 1}, rowIDs: []string{"l0001", "l00012", "l0002", "l0001"}},
		{file: "tenrou.htm", page: "tachi_t.htm", layout: "tenrou", rows: 3,
			issues: map[IssueKind]int{IssueShortRow: 1}, rowIDs: []string{"l3000", "l30001", "l30002"}},
		{file: "gun.htm", page: "heavy_g.htm", layout: "gun", rows: 2, hidden: 1, rowIDs: []string{"l0100", "l01002"}},
		{file: "bow_layout.htm", page: "yumi_sp.htm", layout: "yumi", rows: 1, rowIDs: []string{"l0200"}},
		{file: "empty_tbody.htm", page: "magspike_g.htm", layout: "ken"},
		{file: "no_table.htm", page: "tonfa_n.htm", issues: map[IssueKind]int{IssueNoTable: 1}},
		{file: "unknown_layout.htm", page: "lance.htm", layout: "bougu",
			issues: map[IssueKind]int{IssueUnknownLayout: 1}, failed: true},
		{file: "short_row.htm", page: "hammer.htm", layout: "ken", rows: 4,
			issues: map[IssueKind]int{IssueShortRow: 1, IssueLongRow: 1, IssueBadSharpness: 1},
			rowIDs: []string{"l0400", "l0401", "l0402", "l0403"}},
		{file: "truncated.htm", page: "souken.htm", layout: "ken", rows: 1,
			issues: map[IssueKind]int{IssueTruncated: 1}, failed: true, rowIDs: []string{"l0500"}},
		{file: "truncated_end.htm", page: "souken_g.htm", layout: "ken", rows: 1,
			issues: map[IssueKind]int{IssueTruncated: 1}, failed: true, rowIDs: []string{"l0600"}},
		{file: "not_html.htm", page: "horn.htm", issues: map[IssueKind]int{IssueNotHTML: 1}, failed: true},
		{file: "binary.htm", page: "horn_g.htm", issues: map[IssueKind]int{IssueNotHTML: 1}, failed: true},
		{file: "invalid_utf8.htm", page: "katate.htm", layout: "ken", rows: 2,
			issues: map[IssueKind]int{IssueInvalidUTF8: 1}, rowIDs: []string{"l0700", "l0701"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			res, recs := parseFixture(t, tc.file, tc.page)
			if res.Rows != tc.rows || len(recs) != tc.rows {
				t.Errorf("rows: result %d, records %d, want %d", res.Rows, len(recs), tc.rows)
			}
			if res.HiddenRows != tc.hidden {
				t.Errorf("hidden rows %d, want %d", res.HiddenRows, tc.hidden)
			}
			if res.Layout != tc.layout {
				t.Errorf("layout %q, want %q", res.Layout, tc.layout)
			}
			got := map[IssueKind]int{}
			for _, i := range res.Issues {
				got[i.Kind]++
				if i.Page != tc.page {
					t.Errorf("issue %v does not name the page %s", i, tc.page)
				}
			}
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tc.issues) {
				t.Errorf("issues %v, want %v (%v)", got, tc.issues, res.Issues)
			}
			if res.Failed() != tc.failed {
				t.Errorf("failed %v, want %v", res.Failed(), tc.failed)
			}
			var ids []string
			for i, r := range recs {
				ids = append(ids, r.RowID)
				if r.RowIndex != i {
					t.Errorf("record %d has row_index %d", i, r.RowIndex)
				}
				data, err := codecs.RawCodec{}.Encode(r)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := codecs.DecodeRaw(data); err != nil {
					t.Errorf("record %s does not decode: %v", r.Key, err)
				}
				if !utf8.Valid(data) {
					t.Errorf("record %s is not valid UTF-8", r.Key)
				}
			}
			if !reflect.DeepEqual(ids, tc.rowIDs) {
				t.Errorf("row ids %v, want %v", ids, tc.rowIDs)
			}
		})
	}
}

// TestParsePageIssuesNameRows checks that row issues say which row they concern.
func TestParsePageIssuesNameRows(t *testing.T) {
	res, _ := parseFixture(t, "short_row.htm", "hammer.htm")
	want := map[IssueKind]string{IssueShortRow: "l0401", IssueLongRow: "l0402", IssueBadSharpness: "l0403"}
	for _, i := range res.Issues {
		if want[i.Kind] != i.RowID {
			t.Errorf("%s names row %q, want %q", i.Kind, i.RowID, want[i.Kind])
		}
		if !strings.Contains(i.String(), "hammer.htm row ") {
			t.Errorf("issue text %q names neither page nor row", i)
		}
	}
	res, _ = parseFixture(t, "truncated.htm", "souken.htm")
	if len(res.Issues) != 1 || res.Issues[0].RowID != "l0501" {
		t.Errorf("truncated: %v, want one issue naming the cut row l0501", res.Issues)
	}
	_, recs := parseFixture(t, "invalid_utf8.htm", "katate.htm")
	if got := recs[1].Cells[0].HTML; got != "Bad \uFFFD Bytes" { // a run of bad bytes: one U+FFFD
		t.Errorf("bad bytes: html %q, want them replaced by U+FFFD", got)
	}
}

func TestParsePageKeysAndDuplicates(t *testing.T) {
	_, recs := parseFixture(t, "ken.htm", "tachi.htm")
	wantKeys := []string{"long_sword/base/l0001", "long_sword/base/l00012", "long_sword/base/l0002",
		"long_sword/base/l0001~2"}
	for i, r := range recs {
		if r.Key != wantKeys[i] {
			t.Errorf("record %d key %q, want %q", i, r.Key, wantKeys[i])
		}
	}
	if recs[3].Occurrence != 2 || recs[0].Occurrence != 1 {
		t.Errorf("occurrences %d and %d, want 1 and 2", recs[0].Occurrence, recs[3].Occurrence)
	}
	if recs[3].Cells[0].HTML != "Test Blade (again)" {
		t.Errorf("the repeated id's row is %q: the second row must be kept, not the first again", recs[3].Cells[0].HTML)
	}
}

// TestParsePageFields checks every field of the raw record on the fixture rows.
func TestParsePageFields(t *testing.T) {
	_, ken := parseFixture(t, "ken.htm", "tachi.htm")
	first := ken[0]
	if first.WeaponType != codecs.LongSword || first.PageKind != codecs.KindBase || first.Layout != codecs.LayoutBlademaster ||
		first.Page != "tachi.htm" || first.URL != "file:///testdata/ken.htm" || first.Schema != codecs.RawSchemaVersion ||
		!first.ScrapedAt.Equal(time.Unix(1, 0)) || first.Hidden {
		t.Errorf("envelope: %+v", first)
	}
	cells := map[string]codecs.RawCell{}
	for _, c := range first.Cells {
		cells[c.Header] = c
	}
	if len(first.Cells) != 8 {
		t.Fatalf("%d cells, want 8", len(first.Cells))
	}
	checks := []struct {
		header string
		want   codecs.RawCell
	}{
		{"Name", codecs.RawCell{Header: "Name", ID: "l0001",
			HTML: `Test Blade<div><a href="taiken.htm#l0002">　Old Blade←</a><a href="#l0002">→Test Blade+</a></div>`}},
		{"Rarity", codecs.RawCell{Header: "Rarity", HTML: "12<b>GR</b>1"}},
		{"Attributes", codecs.RawCell{Header: "Attributes", HTML: "480 <s>-10%</s><br>Fire 120"}},
		{"Sharpness", codecs.RawCell{Header: "Sharpness",
			HTML: `<ul title="005150"><li class="r s12"><li class="o s8"><li class="y s17"></li></ul><ul><li class="r s12"><li class="o s8"><li class="y s22"><li class="g s8"></li></ul>`}},
		{"Slots", codecs.RawCell{Header: "Slots", HTML: "0"}},
		{"Rank", codecs.RawCell{Header: "Rank", HTML: "HR<br>1"}},
		{"Creation Mats", codecs.RawCell{Header: "Creation Mats",
			HTML: `<a href="../sozai/sozai.htm?00DA" class="k">Test Ore</a>x2<br><a href="../sozai/sozai.htm?00D8">Other Ore</a>x3`}},
		{"Description", codecs.RawCell{Header: "Description",
			HTML: "First line<br>second line &amp; more<q>Zenith Skill：Test</q>"}},
	}
	for _, c := range checks {
		if got := cells[c.header]; !reflect.DeepEqual(got, c.want) {
			t.Errorf("cell %q:\n got %#v\nwant %#v", c.header, got, c.want)
		}
	}

	hidden := ken[1]
	if !hidden.Hidden || hidden.Cells[0].HTML != "Test Blade<b>Lv2</b>" || hidden.Cells[6].HTML != "1740<hr>None" {
		t.Errorf("hidden level row: hidden=%v name=%q mats=%q", hidden.Hidden, hidden.Cells[0].HTML, hidden.Cells[6].HTML)
	}
	wide := ken[2]
	if len(wide.Cells) != 7 || wide.Cells[2].Colspan != 2 || wide.Cells[2].Header != "Attributes" ||
		wide.Cells[3].Header != "Slots" || wide.Cells[0].Class != "new" {
		t.Errorf("colspan row: %+v", wide.Cells)
	}

	_, tower := parseFixture(t, "tenrou.htm", "tachi_t.htm")
	if tower[0].WeaponType != codecs.LongSword || tower[0].PageKind != codecs.KindTower || tower[0].Layout != codecs.LayoutTower {
		t.Errorf("tower envelope: %+v", tower[0])
	}
	gauge := tower[0].Cells[4]
	if gauge.Header != "ゲージ" || gauge.ID != "ken" ||
		gauge.HTML != `<ul title="02F150"><li class="g s17"><li class="b s20"></li></ul><ul><li class="g s17"><li class="b s23"><li class="w s10"></li></ul>` {
		t.Errorf("tower gauge cell: %+v", gauge)
	}
	if c := tower[0].Cells[5]; c.Header != "その他" || c.Colspan != 2 || c.Class != "l" || c.HTML != "-" {
		t.Errorf("tower colspan cell: %+v", c)
	}
	if c := tower[1].Cells[3]; c.Header != "コスト\n強化素材" || c.Class != "l" {
		t.Errorf("tower cost cell: %#v", c)
	}
	if c := tower[1].Cells[6]; c.Header != "その他" || c.HTML != "b" {
		t.Errorf("second cell under a colspan header: %+v", c)
	}

	_, gun := parseFixture(t, "gun.htm", "heavy_g.htm")
	ammo := gun[0].Cells[4]
	if ammo.Header != "Ammo" {
		t.Errorf("ammo cell: %#v", ammo)
	}
	if gun[0].Cells[3].Header != "Reload\nRecoil\nBullet Speed" || !gun[1].Hidden {
		t.Errorf("gun header %q, hidden %v", gun[0].Cells[3].Header, gun[1].Hidden)
	}

	_, bow := parseFixture(t, "bow_layout.htm", "yumi_sp.htm")
	if bow[0].PageKind != codecs.KindSP || bow[0].WeaponType != codecs.Bow || bow[0].Cells[0].ID != "l0200" ||
		bow[0].Cells[2].HTML != "1:RpdLV1<br>2:SprLV1<i>4:SprLV3</i>" {
		t.Errorf("bow row (unquoted attributes): %+v", bow[0])
	}
}

// TestParsePageLinks checks the weapon pages a page links to: same folder only, each once.
func TestParsePageLinks(t *testing.T) {
	res, _ := parseFixture(t, "ken.htm", "tachi.htm")
	want := []string{"tachi_g.htm", "taiken.htm"}
	if !reflect.DeepEqual(res.Links, want) {
		t.Errorf("links %v, want %v", res.Links, want)
	}
}

func TestParsePageRejectsNonWeaponName(t *testing.T) {
	_, err := ParsePage(PageInfo{Name: "buki.htm"}, []byte("<html></html>"), func(*codecs.RawRecord) error { return nil })
	if err == nil {
		t.Fatal("parsing buki.htm as a weapon page: no error")
	}
}

// TestParsePageRecordsJSON checks the records survive the codec exactly.
func TestParsePageRecordsJSON(t *testing.T) {
	_, recs := parseFixture(t, "ken.htm", "tachi.htm")
	for _, r := range recs {
		data, _ := json.Marshal(r)
		back, err := codecs.DecodeRaw(data)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back.Cells, r.Cells) {
			t.Errorf("record %s changed through JSON", r.Key)
		}
	}
}

// TestParsePageHostileInput: inputs built to be slow (deep nesting, stray end tags, a huge
// colspan) still parse, with their row.
func TestParsePageHostileInput(t *testing.T) {
	head := `<html><body><table id="ken"><thead><tr><th colspan="999999999">A</th></tr></thead><tbody><tr><td id="l1">`
	for name, mid := range map[string]string{
		"nested marks, stray ends": strings.Repeat("<b>", 20000) + "text" + strings.Repeat("</s>", 20000),
		"unclosed links":           strings.Repeat("<a href=x>y", 20000),
		"unclosed lists":           strings.Repeat("<ul><li class='r s1'>", 20000),
	} {
		t.Run(name, func(t *testing.T) {
			body := []byte(head + mid + `</td></tr></tbody></table></body></html>`)
			var recs []*codecs.RawRecord
			_, err := ParsePage(PageInfo{Name: "tachi.htm"}, body, func(r *codecs.RawRecord) error {
				recs = append(recs, r)
				return nil
			})
			if err != nil || len(recs) != 1 {
				t.Fatalf("%v, %d records", err, len(recs))
			}
		})
	}
}
