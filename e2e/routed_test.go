package e2e

import (
	"bufio"
	"os"
	"testing"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/processors"
)

// TestWriteRoutedWeapons writes the messages the processor sends to the weapon topics for the
// newest snapshot, one a line (topic, key and the weapon's JSON, tab-separated), to the file
// MHFZ_ROUTED_WEAPONS names, for the sink's benchmark of its decoding on the real records
// (sink BenchmarkDecodeRealCorpus: the sink's tests cannot import the processor). Skipped
// without it. The weapons are numbered as the router numbers them (a key's version grows when
// its content changes, an unchanged one is not sent), and encoded as it encodes them.
//
//	MHFZ_ROUTED_WEAPONS=/tmp/routed.tsv go test -count=1 -run TestWriteRoutedWeapons ./e2e/
func TestWriteRoutedWeapons(t *testing.T) {
	path := os.Getenv("MHFZ_ROUTED_WEAPONS")
	if path == "" {
		t.Skip("MHFZ_ROUTED_WEAPONS names no file to write")
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	out := bufio.NewWriter(f)
	names := codecs.Names{}
	last := map[string]*codecs.Weapon{}
	n := 0
	for i, rec := range snapshotRecords(t, testenv.Newest) {
		w := routedWeapon(t, rec, last)
		if w == nil {
			continue
		}
		w.Source = codecs.Source{Topic: string(names.WeaponData()), Partition: int32(i % 12), Offset: int64(i / 12)}
		topic, err := names.Route(w.WeaponType, w.PageKind)
		if err != nil {
			t.Fatal(err)
		}
		data, err := codecs.WeaponCodec{}.Encode(w)
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString(string(topic) + "\t" + w.Key + "\t")
		out.Write(data)
		out.WriteByte('\n')
		n++
	}
	if err := out.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d weapons written to %s", n, path)
}

// routedWeapon is the weapon the router sends for rec (nil for a dead letter or an unchanged
// weapon), with its version and content hash; last holds each key's last weapon sent.
func routedWeapon(t *testing.T, rec snapshotRecord, last map[string]*codecs.Weapon) *codecs.Weapon {
	raw, err := processors.Decode(rec.value)
	if err != nil {
		t.Fatal(err)
	}
	w, err := interpret(raw)
	if err != nil {
		return nil
	}
	if w.ContentHash, err = processors.ContentHash(w); err != nil {
		t.Fatal(err)
	}
	w.Version = 1
	if prev := last[w.Key]; prev != nil {
		if prev.ContentHash == w.ContentHash {
			return nil
		}
		w.Version = prev.Version + 1
	}
	last[w.Key] = w
	return w
}
