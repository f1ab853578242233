package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/processors"
)

// TestContentHashOnTheCorpus: the content hash of every weapon of both snapshots is the one the
// builds before computed with encoding/json (the reference below, their code). The hashes are
// stored with every version: a hash that changed would make each weapon a new version at the
// next scrape.
func TestContentHashOnTheCorpus(t *testing.T) {
	t.Parallel()
	n := 0
	for _, snap := range []string{testenv.Older, testenv.Newest} {
		for _, rec := range snapshotRecords(t, snap) {
			raw, err := processors.Decode(rec.value)
			if err != nil {
				t.Fatal(err)
			}
			w, err := interpret(raw)
			if err != nil {
				continue // a dead letter: no hash
			}
			got, err := processors.ContentHash(w)
			if err != nil {
				t.Fatal(err)
			}
			if want := referenceContentHash(t, w); got != want {
				t.Fatalf("%s %s: content hash %s, the builds before computed %s", snap, w.Key, got, want)
			}
			n++
		}
	}
	t.Logf("%d weapons hashed as before", n)
}

// referenceContentHash is ContentHash as the builds before this test computed it.
func referenceContentHash(t *testing.T, w *codecs.Weapon) string {
	n := *w
	n.Version, n.ContentHash, n.URL = 0, "", ""
	n.ScrapedAt = time.Time{}
	n.Source = codecs.Source{}
	if n.ZenithSkill != "" {
		extra := make(map[string]string, len(n.Extra)+1)
		maps.Copy(extra, n.Extra)
		extra["zenith_skill"] = n.ZenithSkill
		n.Extra, n.ZenithSkill = extra, ""
	}
	b, err := json.Marshal(&n)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
