package processors

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/processors/weaponrow"
)

// TestSchema1RecordsParseAsTheirSchema2Twins: raw records of schema 1 (testdata/schema1.jsonl:
// real rows of the newest snapshot written by the scraper before schema 2, each cell with the
// scraper's text, links, marks and sharpness bars beside its HTML) give the same weapons as the
// same rows of schema 2 (testdata/schema2.jsonl: the cells as served only). Deployments keep
// schema-1 records on weapon_data, and `mhfz reprocess` re-derives the weapons from them: the
// processor reads both from the HTML, the sharpness bars included. The rows cover the bars of
// every layout that has them (ken, tenrou), with the notes under them (shelling, phial, horn
// notes, Zenith skill), and the ammo and charge cells.
func TestSchema1RecordsParseAsTheirSchema2Twins(t *testing.T) {
	old, cur := schemaFixture(t, "schema1.jsonl"), schemaFixture(t, "schema2.jsonl")
	if len(old) != len(cur) || len(old) == 0 {
		t.Fatalf("%d schema-1 records, %d schema-2 records: want the same rows", len(old), len(cur))
	}
	bars := 0
	for i := range old {
		if !bytes.Contains(old[i], []byte(`"schema":1,`)) || !bytes.Contains(cur[i], []byte(`"schema":2,`)) ||
			bytes.Contains(cur[i], []byte(`"text":`)) {
			t.Fatalf("record %d: the fixtures are not a schema-1 record and its schema-2 twin", i)
		}
		w1, w2 := routedWeapon(t, old[i]), routedWeapon(t, cur[i])
		if w1.Key != w2.Key || !reflect.DeepEqual(w1, w2) {
			t.Errorf("%s: schema 1 gives\n%+v\nschema 2 gives\n%+v", w2.Key, w1, w2)
		}
		if len(w2.Sharpness) > 0 {
			bars++
		}
	}
	if bars < 7 {
		t.Errorf("%d rows with sharpness bars, want the fixtures' 7 at least", bars)
	}
}

// routedWeapon is what the router makes of one input: decoded, parsed, validated.
func routedWeapon(t *testing.T, data []byte) *codecs.Weapon {
	t.Helper()
	raw, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	w, err := weaponrow.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", raw.Key, err)
	}
	findings, err := weaponrow.Validate(w)
	if err != nil {
		t.Fatalf("%s: %v", raw.Key, err)
	}
	w.Quality = append(w.Quality, findings...)
	return w
}

// schemaFixture reads the raw records of a testdata file, one JSON record a line.
func schemaFixture(t testing.TB, name string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
