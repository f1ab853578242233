package scraper

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// checkParse runs the parser on body and checks what must hold whatever the input: no panic,
// one record per reported row with consecutive row indexes and distinct keys, every record
// valid for the codec and valid UTF-8, every issue naming the page.
func checkParse(t *testing.T, page string, body []byte) {
	parseBoth(t, page, body)
	var recs []*codecs.RawRecord
	res, err := ParsePage(PageInfo{Name: page}, body, func(r *codecs.RawRecord) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if res.Rows != len(recs) || res.Bytes != len(body) {
		t.Fatalf("result says %d rows / %d bytes, got %d records / %d bytes", res.Rows, res.Bytes, len(recs), len(body))
	}
	keys := map[string]bool{}
	for i, r := range recs {
		if r.RowIndex != i || keys[r.Key] || r.Occurrence < 1 {
			t.Fatalf("record %d: row index %d, occurrence %d, key %q (seen: %v)", i, r.RowIndex, r.Occurrence, r.Key, keys[r.Key])
		}
		keys[r.Key] = true
		data, err := codecs.RawCodec{}.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := codecs.DecodeRaw(data); err != nil {
			t.Fatalf("record %d does not decode: %v", i, err)
		}
		for _, c := range r.Cells {
			if !utf8.ValidString(c.HTML) || !utf8.ValidString(c.Header) || !utf8.ValidString(c.Class) {
				t.Fatalf("record %d: a cell that is not UTF-8: %q", i, c.HTML)
			}
		}
	}
	for _, is := range res.Issues {
		if is.Page != page {
			t.Fatalf("issue %v does not name the page", is)
		}
	}
}

func addFixtures(f *testing.F) [][]byte {
	files, err := filepath.Glob(filepath.Join("testdata", "*.htm"))
	if err != nil {
		f.Fatal(err)
	}
	var bodies [][]byte
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	return bodies
}

// FuzzParsePage feeds whole pages to the parser (seeds: the fixtures, and testdata/fuzz).
func FuzzParsePage(f *testing.F) {
	for _, b := range addFixtures(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkParse(t, "tachi_g.htm", body)
	})
}

// FuzzParseRow feeds rows to the parser inside a well-formed weapon table, so that the fuzzer
// spends its time on the row and cell code.
func FuzzParseRow(f *testing.F) {
	for _, row := range []string{
		`<tr><td id="l0001">Name<div><a href="#l0002">→Next</a></div></td><td>1</td><td><ul title="0"><li class="r s10"><li class="g s5"></li></ul></td></tr>`,
		`<tr style="display:none"><td id="l00012">Name<b>Lv2</b></td><td colspan="2">x<s>y</s></td></tr>`,
		`<tr><td id="l1">a</td><td><ul><li>Norm：<u>1</u><li class="q">x</li></ul><i>z</i></td><td><span class="fp">♪</span></td></tr>`,
		`<tr><td id="l1">a<table><tr><td id="l2">nested</td></tr></table></td></tr><tr><td id="l1">again</td>`,
		"<tr><td id=\"l\xff\">\xfe</td></tr>",
	} {
		f.Add([]byte(row))
	}
	head := []byte(`<html><body><table id="ken"><thead><tr><th>Name</th><th>Rarity</th><th colspan="2">Other</th></tr></thead><tbody>`)
	tail := []byte(`</tbody></table></body></html>`)
	f.Fuzz(func(t *testing.T, row []byte) {
		body := append(append(append([]byte{}, head...), row...), tail...)
		checkParse(t, "yumi_t.htm", body)
	})
}
