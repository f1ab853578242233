package processors

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// fixture reads a raw record of weaponrow/testdata/raw: real rows of the site, as the scraper
// wrote them in schema 1 (the cells' text, links, marks and sharpness bars beside the HTML, which
// the parser ignores: every test on them also checks that old records still parse).
func fixture(t testing.TB, name string) *codecs.RawRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("weaponrow", "testdata", "raw", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := codecs.DecodeRaw(b)
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return r
}

func encode(t testing.TB, r *codecs.RawRecord) []byte {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withCell returns a copy of r whose first cell under header has the given HTML.
func withCell(t testing.TB, r *codecs.RawRecord, header, html string) *codecs.RawRecord {
	t.Helper()
	c := *r
	c.Cells = append([]codecs.RawCell(nil), r.Cells...)
	for i := range c.Cells {
		if c.Cells[i].Header == header {
			c.Cells[i].HTML = html
			return &c
		}
	}
	t.Fatalf("record %s has no cell under %q", r.Key, header)
	return nil
}
