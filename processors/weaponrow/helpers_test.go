package weaponrow

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// fixture reads a raw record of testdata/raw: real rows of the site, as the scraper wrote them in
// schema 1 (the cells' text, links, marks and sharpness bars beside the HTML, which the parser
// ignores: every test on them also checks that old records still parse).
func fixture(t testing.TB, name string) *codecs.RawRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "raw", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := codecs.DecodeRaw(b)
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return r
}
