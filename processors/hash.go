package processors

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"sync"
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
	h := newHashed()
	defer h.release()
	if err := h.hash(w); err != nil {
		return "", err
	}
	return h.sum, nil
}

// hashed is a weapon's content hash and the JSON it was computed from, in a buffer reused from
// one record to the next (release gives it back): the router also writes the weapon it sends
// from that JSON (encodeWeapon). The copy of the weapon that is hashed, the head of the weapon
// sent and their encoders are reused too: each was an allocation per record (the copy, 600
// bytes, escaped to the heap).
type hashed struct {
	sum      string
	json     bytes.Buffer
	head     bytes.Buffer // the head of the weapon sent (encodeWeapon)
	enc      *json.Encoder
	headEnc  *json.Encoder
	n        codecs.Weapon // the copy that is hashed
	h        weaponHead
	released bool
}

var hashedPool = sync.Pool{New: func() any {
	h := new(hashed)
	h.enc, h.headEnc = json.NewEncoder(&h.json), json.NewEncoder(&h.head)
	return h
}}

func newHashed() *hashed {
	h := hashedPool.Get().(*hashed)
	h.released = false
	return h
}

// release gives h back; a second release of the same h does nothing.
func (h *hashed) release() {
	if h.released {
		return
	}
	h.released = true
	h.sum, h.n, h.h = "", codecs.Weapon{}, weaponHead{}
	if h.json.Cap() <= 1<<20 && h.head.Cap() <= 1<<20 {
		h.json.Reset()
		h.head.Reset()
		hashedPool.Put(h)
	}
}

// body is the JSON that was hashed.
func (h *hashed) body() []byte { return h.json.Bytes() }

// hash computes the hash of w into h.
func (h *hashed) hash(w *codecs.Weapon) error {
	h.n = *w
	n := &h.n
	n.Version, n.ContentHash, n.URL = 0, "", ""
	n.ScrapedAt = time.Time{}
	n.Source = codecs.Source{}
	n.Extra = inExtra(n.Extra, &n.ZenithSkill, "zenith_skill")
	// Struct fields in order and map keys sorted: a stable encoding. goccy/go-json writes the
	// bytes encoding/json wrote when the hashes of the stored versions were computed (e2e's
	// TestContentHashOnTheCorpus checks every weapon of both snapshots), at less cost (profiled:
	// 1.23 → 0.76 CPU-s a snapshot, SHA-256 included). Its Encoder writes into the reused buffer
	// what Marshal would return in a new one, and a newline.
	h.json.Reset()
	if err := h.enc.Encode(n); err != nil {
		return fmt.Errorf("hash weapon %s: %w", w.Key, err)
	}
	h.json.Truncate(len(bytes.TrimSuffix(h.json.Bytes(), []byte("\n"))))
	sum := sha256.Sum256(h.json.Bytes())
	h.sum = hex.EncodeToString(sum[:])
	return nil
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

// weaponHead is the part of a codecs.Weapon the hashed copy writes otherwise than the weapon
// sent (version, content hash, URL, scrape time and source are zero in it): the fields before
// Name, with the same names, in the same order.
type weaponHead struct {
	Schema      int               `json:"schema"`
	Key         string            `json:"key"`
	Version     int64             `json:"version"`
	ContentHash string            `json:"content_hash"`
	WeaponType  codecs.WeaponType `json:"weapon_type"`
	PageKind    codecs.PageKind   `json:"page_kind"`
	Layout      codecs.Layout     `json:"layout"`
	Page        string            `json:"page"`
	URL         string            `json:"url"`
	RowID       string            `json:"row_id"`
	Hidden      bool              `json:"hidden"`
	ScrapedAt   time.Time         `json:"scraped_at"`
	Source      codecs.Source     `json:"source"`
}

func headOf(w *codecs.Weapon) weaponHead {
	return weaponHead{Schema: w.Schema, Key: w.Key, Version: w.Version, ContentHash: w.ContentHash,
		WeaponType: w.WeaponType, PageKind: w.PageKind, Layout: w.Layout, Page: w.Page, URL: w.URL,
		RowID: w.RowID, Hidden: w.Hidden, ScrapedAt: w.ScrapedAt, Source: w.Source}
}

// zeroSource ends the head of the hashed JSON: its source, zero, before the weapon's name.
// No string of the head can hold it (a string's quotes are escaped).
const zeroSource = `,"source":{"topic":"","partition":0,"offset":0},"name":`

// encodeWeapon writes w, numbered since it was hashed, as codecs.WeaponCodec would: the JSON
// that was hashed with its head written again (encoding the whole weapon a second time was a
// tenth of the router's CPU). When the hashed JSON is not w's after its head (a Zenith skill
// moved into Extra, a character the two encodings escape differently), it encodes w.
func (h *hashed) encodeWeapon(w *codecs.Weapon) ([]byte, error) {
	body := h.body()
	if w.ZenithSkill == "" && !bytes.Contains(body, []byte(`\u`)) {
		if end := bytes.Index(body, []byte(zeroSource)); end > 0 {
			h.h = headOf(w)
			h.head.Reset()
			err := h.headEnc.EncodeWithOption(&h.h, json.DisableHTMLEscape())
			sent := bytes.TrimSuffix(h.head.Bytes(), []byte("\n"))
			if err == nil {
				tail := body[end+len(zeroSource)-len(`,"name":`):]
				out := make([]byte, 0, len(sent)-1+len(tail))
				return append(append(out, sent[:len(sent)-1]...), tail...), nil
			}
		}
	}
	return codecs.WeaponCodec{}.Encode(w)
}
