package weaponrow

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// kinds are the kinds of Error: a dead letter of the processor has one of them.
var kinds = []string{KindLayout, KindParse, KindInvalid, KindUnstorable}

// fuzzLayouts are the layouts FuzzParse picks from with its first argument, each with the weapon
// types of its pages (its second argument): the type changes how some cells read (a gunlance's
// shelling, a switch axe's phial).
var fuzzLayouts = []struct {
	layout codecs.Layout
	kind   codecs.PageKind
	types  []codecs.WeaponType
}{
	{codecs.LayoutBlademaster, codecs.KindG, codecs.WeaponTypes[:11]},
	{codecs.LayoutGun, codecs.KindG, []codecs.WeaponType{codecs.LightBowgun, codecs.HeavyBowgun}},
	{codecs.LayoutBow, codecs.KindG, []codecs.WeaponType{codecs.Bow}},
	{codecs.LayoutTower, codecs.KindTower, codecs.WeaponTypes},
}

// The separators of a row's cells in FuzzParse's cells argument: cells are separated by
// cellSep, a cell's header from its HTML by headerSep. Neither is in the site's pages.
const (
	cellSep   = "\x1e"
	headerSep = "\x1f"
)

// fuzzRecord builds the raw record FuzzParse parses from its arguments.
func fuzzRecord(layout, typ uint8, cells string) *codecs.RawRecord {
	l := fuzzLayouts[int(layout)%len(fuzzLayouts)]
	t := l.types[int(typ)%len(l.types)]
	r := &codecs.RawRecord{
		Schema: codecs.RawSchemaVersion, Key: codecs.RecordKey(t, l.kind, "f1", 1), WeaponType: t,
		PageKind: l.kind, Layout: l.layout, Page: codecs.PageName(t, l.kind), URL: "file:///fuzz",
		RowID: "f1", Occurrence: 1, ScrapedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	// Cells come from the scraper as valid UTF-8 (the processor refuses other bytes before it
	// parses), so the fuzzer's other bytes are made valid rather than skipped.
	for _, c := range strings.Split(strings.ToValidUTF8(cells, "\uFFFD"), cellSep) {
		header, html, ok := strings.Cut(c, headerSep)
		if !ok {
			header, html = "", c
		}
		r.Cells = append(r.Cells, codecs.RawCell{Header: header, HTML: html})
	}
	return r
}

// fuzzCells encodes the cells of a record as FuzzParse's cells argument, and the indexes of its
// layout and weapon type (ok is false for a layout or type FuzzParse does not make).
func fuzzCells(r *codecs.RawRecord) (layout, typ uint8, cells string, ok bool) {
	for li, l := range fuzzLayouts {
		if ti := slices.Index(l.types, r.WeaponType); l.layout == r.Layout && ti >= 0 {
			parts := make([]string, len(r.Cells))
			for i, c := range r.Cells {
				parts[i] = c.Header + headerSep + c.HTML
			}
			return uint8(li), uint8(ti), strings.Join(parts, cellSep), true
		}
	}
	return 0, 0, "", false
}

// checkParse parses and validates r and checks what must hold whatever the row: no panic, and
// either a weapon that Validate accepts and the sink can decode, or an *Error of a known kind
// that names the record; the same weapon or error every time (the router numbers a new version
// when a weapon's content hash changes).
func checkParse(t *testing.T, r *codecs.RawRecord) {
	w, err := Parse(r)
	w2, err2 := Parse(r)
	if !reflect.DeepEqual(w, w2) || fmt.Sprint(err) != fmt.Sprint(err2) {
		t.Fatalf("two parses of the same row differ:\n%+v %v\n%+v %v", w, err, w2, err2)
	}
	if err == nil {
		if w == nil {
			t.Fatal("Parse returned neither a weapon nor an error")
		}
		var findings []codecs.Finding
		if findings, err = Validate(w); err == nil {
			checkWeapon(t, r, w, findings)
			return
		}
	}
	var e *Error
	switch {
	case !errors.As(err, &e):
		t.Fatalf("error %v (%T) is not a *weaponrow.Error", err, err)
	case !slices.Contains(kinds, e.Kind):
		t.Fatalf("error %v has kind %q, not one of %v", err, e.Kind, kinds)
	case !strings.Contains(err.Error(), r.Key):
		t.Fatalf("error %q does not name the record %s", err, r.Key)
	}
}

// checkWeapon checks a weapon Parse made and Validate accepted: it says which record it is and
// goes through the weapon codec (what the sink decodes).
func checkWeapon(t *testing.T, r *codecs.RawRecord, w *codecs.Weapon, findings []codecs.Finding) {
	if w.Key != r.Key || w.WeaponType != r.WeaponType || w.Layout != r.Layout || w.RowID != r.RowID {
		t.Fatalf("weapon %s (%s, %s, row %s) is not record %s", w.Key, w.WeaponType, w.Layout, w.RowID, r.Key)
	}
	if strings.TrimSpace(w.Name) == "" {
		t.Fatalf("weapon %s has no name but passed Validate", w.Key)
	}
	w.Version = 1
	w.Quality = append(w.Quality, findings...)
	data, err := codecs.WeaponCodec{}.Encode(w)
	if err != nil {
		t.Fatalf("encode weapon %s: %v", w.Key, err)
	}
	if _, err := codecs.DecodeWeapon(data); err != nil {
		t.Fatalf("weapon %s does not decode: %v\n%s", w.Key, err, data)
	}
}

// FuzzParse parses rows of every layout: its arguments pick the layout and the weapon type, and
// give the cells (headers and HTML). Seeds: the rows of testdata/raw and testdata/seeds, and, when
// ../shared/corpus is there and the tests are not -short, a sample of the real rows of the newest
// snapshot (read at test time, never copied here).
func FuzzParse(f *testing.F) {
	for _, r := range seedRecords(f) {
		if layout, typ, cells, ok := fuzzCells(r); ok {
			f.Add(layout, typ, cells)
		}
	}
	f.Fuzz(func(t *testing.T, layout, typ uint8, cells string) {
		checkParse(t, fuzzRecord(layout, typ, cells))
	})
}

// seedRecords returns the rows FuzzParse starts from.
func seedRecords(f *testing.F) []*codecs.RawRecord {
	files, err := filepath.Glob(filepath.Join("testdata", "raw", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	var out []*codecs.RawRecord
	for _, file := range files {
		out = append(out, fixture(f, strings.TrimSuffix(filepath.Base(file), ".json")))
	}
	out = append(out, textSeeds(f)...)
	if !testing.Short() && testenv.HasCorpus() {
		out = append(out, testenv.CorpusRows(f, testenv.Newest, 6)...)
	}
	return out
}

// textSeeds reads the rows of testdata/seeds: small rows written by hand to reach the corners of
// the cell readers. A file is one row: a line "LAYOUT TYPE", then a line "HEADER<TAB>HTML" per
// cell ("\n" in a header is a line break); lines starting with "#" are comments.
func textSeeds(f *testing.F) []*codecs.RawRecord {
	files, err := filepath.Glob(filepath.Join("testdata", "seeds", "*.txt"))
	if err != nil {
		f.Fatal(err)
	}
	var out []*codecs.RawRecord
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var r *codecs.RawRecord
		for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			switch {
			case strings.HasPrefix(line, "#"):
			case r == nil:
				layout, typ, _ := strings.Cut(line, " ")
				r = &codecs.RawRecord{Schema: codecs.RawSchemaVersion, Key: "seed/" + filepath.Base(file),
					Layout: codecs.Layout(layout), WeaponType: codecs.WeaponType(typ), RowID: "s1"}
			default:
				header, html, _ := strings.Cut(line, "\t")
				r.Cells = append(r.Cells, codecs.RawCell{Header: strings.ReplaceAll(header, `\n`, "\n"), HTML: html})
			}
		}
		if r == nil || !r.Layout.Valid() || !r.WeaponType.Valid() {
			f.Fatalf("%s: want a first line \"LAYOUT TYPE\" of a known layout and type", file)
		}
		out = append(out, r)
	}
	return out
}
