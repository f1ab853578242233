package scraper

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// parseBoth parses a page with the in-place scan (ParsePage) and with html.Tokenizer alone, the
// way the parser read every page before, and fails unless the records (as encoded for
// weapon_data, byte for byte) and the page's result are the same.
func parseBoth(t testing.TB, name string, body []byte) int {
	t.Helper()
	info := PageInfo{Name: name, URL: "file:///" + name, ScrapedAt: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)}
	parse := func(tokenizerOnly bool) ([][]byte, PageResult) {
		var recs [][]byte
		res, err := parsePage(info, body, func(r *codecs.RawRecord) error {
			data, err := codecs.RawCodec{}.Encode(r)
			recs = append(recs, data)
			return err
		}, tokenizerOnly)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return recs, res
	}
	fast, fastRes := parse(false)
	ref, refRes := parse(true)
	if len(fast) != len(ref) {
		t.Fatalf("%s: %d records, the tokenizer alone %d", name, len(fast), len(ref))
	}
	for i := range ref {
		if !bytes.Equal(fast[i], ref[i]) {
			t.Fatalf("%s: record %d differs:\n%s\nthe tokenizer alone:\n%s", name, i, fast[i], ref[i])
		}
	}
	if !reflect.DeepEqual(fastRes, refRes) {
		t.Fatalf("%s: result differs:\n%+v\nthe tokenizer alone:\n%+v", name, fastRes, refRes)
	}
	return len(ref)
}

// TestFastTokensAsTheTokenizer checks that reading the pages in place (tokens) gives the records
// and page results html.Tokenizer alone gives, on every page of both snapshots (the newest only
// under the race detector) and the fixtures; the fuzz targets compare both ways too.
func TestFastTokensAsTheTokenizer(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.htm"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, page := range []string{"tachi_g.htm", "tachi_t.htm", "yumi.htm"} {
			parseBoth(t, page, body)
		}
	}
	if testing.Short() {
		t.Skip("the corpus: not with -short")
	}
	snapshots := []string{testenv.Newest, testenv.Older}
	if raceEnabled {
		snapshots = snapshots[:1] // a few minutes each under the race detector
	}
	for _, snap := range snapshots {
		dir := testenv.Snapshot(t, snap)
		names, err := WeaponPagesIn(dir)
		if err != nil {
			t.Fatal(err)
		}
		rows := 0
		for _, n := range names {
			body, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil {
				t.Fatal(err)
			}
			rows += parseBoth(t, n, body)
		}
		if rows != corpusRows {
			t.Fatalf("snapshot %s: %d rows, want %d", snap, rows, corpusRows)
		}
	}
}
