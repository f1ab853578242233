package scraper

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// TestTowerRowsWithoutOtherUpgrade: on the tower pages only the levels with an "other" upgrade
// fill the last two columns; the rows that end before them are the layout and no issue. A row
// that ends earlier still is a short row.
func TestTowerRowsWithoutOtherUpgrade(t *testing.T) {
	res, recs := parseFixture(t, "tenrou_other.htm", "heavy_t.htm")
	if res.Rows != 4 || len(recs) != 4 {
		t.Fatalf("%d rows, want 4", res.Rows)
	}
	if len(res.Issues) != 1 || res.Issues[0].Kind != IssueShortRow || res.Issues[0].RowID != "l0B003" {
		t.Fatalf("issues %v, want one short row: l0B003, which ends before its reload column", res.Issues)
	}
}

// TestRealTowerPagesHaveNoShortRows: the real tower pages (838 rows without an "other"
// upgrade per snapshot, which used to be warned about on every scrape) report no short row.
func TestRealTowerPagesHaveNoShortRows(t *testing.T) {
	for _, snapshot := range []string{testenv.Newest, testenv.Older} {
		dir := testenv.Snapshot(t, snapshot)
		pages, err := filepath.Glob(filepath.Join(dir, "*_t.htm"))
		if err != nil || len(pages) != 14 {
			t.Fatalf("%s: tower pages %v (%v), want 14", snapshot, pages, err)
		}
		rows := 0
		for _, path := range pages {
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			res, err := ParsePage(PageInfo{Name: filepath.Base(path), URL: "file://" + path, ScrapedAt: time.Unix(1, 0)}, body,
				func(*codecs.RawRecord) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			rows += res.Rows
			for _, is := range res.Issues {
				t.Errorf("%s: %s", snapshot, is)
			}
		}
		if rows != 4733 { // the manifests' rows of the 14 tower pages
			t.Errorf("%s: %d rows on the tower pages", snapshot, rows)
		}
	}
}
