package processors

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"time"

	json "github.com/goccy/go-json"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// ContentHash is the hex SHA-256 of a weapon's normalized content: everything parsed from the
// page, without what changes from one reading of the same page to the next (scrape time, URL,
// where the raw record was read) nor what the router assigns (version, hash). Two readings of an
// unchanged row give the same hash; any change of a parsed value changes it, and so does a change
// of its quality findings (they are stored with the version).
func ContentHash(w *codecs.Weapon) (string, error) {
	n := *w
	n.Version, n.ContentHash, n.URL = 0, "", ""
	n.ScrapedAt = time.Time{}
	n.Source = codecs.Source{}
	n.Extra = inExtra(n.Extra, &n.ZenithSkill, "zenith_skill")
	// Struct fields in order and map keys sorted: a stable encoding. goccy/go-json writes the
	// bytes encoding/json wrote when the hashes of the stored versions were computed (e2e's
	// TestContentHashOnTheCorpus checks every weapon of both snapshots), at less cost (profiled:
	// 1.23 → 0.76 CPU-s a snapshot, SHA-256 included).
	b, err := json.Marshal(&n)
	if err != nil {
		return "", fmt.Errorf("hash weapon %s: %w", w.Key, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// inExtra moves a typed field that builds before it kept in Extra back under its Extra key, in
// the copy of the weapon that is hashed: the weapons that have it keep the hash they had, so
// the move is no change of content (no new version of each, and a re-processing gives the
// hashes the tables hold). It returns the Extra to hash, a copy when it changes it.
func inExtra(extra map[string]string, field *string, key string) map[string]string {
	if *field == "" {
		return extra
	}
	moved := make(map[string]string, len(extra)+1)
	maps.Copy(moved, extra)
	moved[key] = *field
	*field = ""
	return moved
}
