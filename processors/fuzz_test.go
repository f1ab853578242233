package processors

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/processors/weaponrow"
)

// FuzzDecode feeds message values to the router's reading of a message (Decode, then
// weaponrow.Parse and Validate): whatever the bytes, no panic, and either a weapon or an error of
// a dead-letter kind (never KindPanic: the router's recover is for bugs), a weapon with a content
// hash. A record that both
// Decode and codecs.DecodeRaw accept reads the same through both. Seeds: the raw records of
// weaponrow/testdata/raw, the small made-up messages of testdata/decode and, when
// ../shared/corpus is there and the tests are not -short, a sample of the real rows of the newest
// snapshot as records (read at test time, never copied here).
func FuzzDecode(f *testing.F) {
	for _, pattern := range []string{"weaponrow/testdata/raw/*.json", "testdata/decode/*"} {
		files, err := filepath.Glob(filepath.FromSlash(pattern))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	if !testing.Short() && testenv.HasCorpus() {
		for _, r := range testenv.CorpusRows(f, testenv.Newest, 3) {
			f.Add(encode(f, r))
		}
	}
	rt := &router{maxLen: DefaultConfig().MaxMessageBytes, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		stats: NewStats(), now: time.Now, parse: weaponrow.Parse}
	f.Fuzz(func(t *testing.T, data []byte) {
		key := "fuzz"
		if r := checkDecode(t, data); r != nil {
			key = r.Key
			// Parse outside the router first, so that a panic stops the fuzzer with its stack.
			if w, err := weaponrow.Parse(r); err == nil {
				_, _ = weaponrow.Validate(w)
			}
		}
		w, err := rt.weapon(key, data)
		checkKind(t, err)
		switch {
		case err != nil:
		case w == nil:
			t.Fatal("the router made neither a weapon nor an error")
		default:
			if _, err := ContentHash(w); err != nil {
				t.Fatalf("a weapon without a content hash: %v", err)
			}
		}
	})
}

// checkDecode decodes data and checks the result: a record whose envelope holds, which
// codecs.DecodeRaw reads the same when it reads it, or a *RecordError of a dead-letter kind.
func checkDecode(t *testing.T, data []byte) *codecs.RawRecord {
	r, err := Decode(data)
	if err != nil {
		var re *RecordError
		if !errors.As(err, &re) {
			t.Fatalf("Decode: error %v (%T) is not a *RecordError", err, err)
		}
		checkKind(t, err)
		return nil
	}
	if r == nil {
		t.Fatal("Decode returned neither a record nor an error")
	}
	if err := codecs.CheckEnvelope(r); err != nil {
		t.Fatalf("Decode accepted a record whose envelope does not hold: %v", err)
	}
	if strict, err := codecs.DecodeRaw(data); err == nil {
		sameRecord(t, r, strict)
	}
	return r
}

// sameRecord checks that the parts of a raw record the parser reads are the same through Decode
// (got) and codecs.DecodeRaw (want).
func sameRecord(t *testing.T, got, want *codecs.RawRecord) {
	type envelope struct {
		schema              int
		key, page, url, row string
		typ                 codecs.WeaponType
		kind                codecs.PageKind
		layout              codecs.Layout
		hidden              bool
		at                  time.Time
	}
	g := envelope{got.Schema, got.Key, got.Page, got.URL, got.RowID, got.WeaponType, got.PageKind, got.Layout, got.Hidden, got.ScrapedAt}
	w := envelope{want.Schema, want.Key, want.Page, want.URL, want.RowID, want.WeaponType, want.PageKind, want.Layout, want.Hidden, want.ScrapedAt}
	if g != w {
		t.Fatalf("Decode reads the envelope %+v, codecs.DecodeRaw %+v", g, w)
	}
	if len(got.Cells) != len(want.Cells) {
		t.Fatalf("Decode reads %d cells, codecs.DecodeRaw %d", len(got.Cells), len(want.Cells))
	}
	for i := range got.Cells {
		if got.Cells[i].Header != want.Cells[i].Header || got.Cells[i].HTML != want.Cells[i].HTML {
			t.Fatalf("cell %d: Decode reads %q %q, codecs.DecodeRaw %q %q", i,
				got.Cells[i].Header, got.Cells[i].HTML, want.Cells[i].Header, want.Cells[i].HTML)
		}
	}
}

// checkKind checks that err, when there is one, is of a dead-letter kind other than KindPanic.
func checkKind(t *testing.T, err error) {
	if err == nil {
		return
	}
	switch kind := KindOf(err); {
	case kind == KindPanic:
		t.Fatalf("the parser panicked: %v", err)
	case !slices.Contains(Kinds, kind):
		t.Fatalf("error %v has kind %q, not one of %v", err, kind, Kinds)
	}
	var re *RecordError
	var we *weaponrow.Error
	if !errors.As(err, &re) && !errors.As(err, &we) {
		t.Fatalf("error %v (%T) says no kind: KindOf defaults it to %q", err, err, KindParse)
	}
}
