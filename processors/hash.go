package processors

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

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
	// encoding/json writes struct fields in order and map keys sorted: a stable encoding.
	b, err := json.Marshal(&n)
	if err != nil {
		return "", fmt.Errorf("hash weapon %s: %w", w.Key, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
