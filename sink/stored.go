package sink

import (
	"bytes"
	"fmt"

	json "github.com/goccy/go-json"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// storedWeapon is a weapon as the sink reads it from its topic: the fields of its own columns
// decoded as codecs.Weapon decodes them, and the parts stored as jsonb kept as the bytes the
// processor wrote, which PostgreSQL parses once, into jsonb, instead of being decoded into Go
// values and encoded again (JSON was a third of the sink's CPU and the collector a fifth:
// docs/benchmarks.md). jsonb keeps no spelling of the text it parses, so the rows are the same.
type storedWeapon struct {
	// The embedded weapon's fields of the names below stay empty: the outer ones win.
	codecs.Weapon
	// Elements is the elements column as JSON, and decoded from it into Weapon.Elements for the
	// element and status columns (encoding them again was a tenth of the allocations left).
	Elements     json.RawMessage `json:"elements"`
	UpgradeFrom  json.RawMessage `json:"upgrade_from"`
	UpgradeTo    json.RawMessage `json:"upgrade_to"`
	Sharpness    json.RawMessage `json:"sharpness"`
	Creation     json.RawMessage `json:"creation"`
	Upgrade      json.RawMessage `json:"upgrade"`
	GCreation100 json.RawMessage `json:"g_creation_100"`
	GCreation60  json.RawMessage `json:"g_creation_60"`
	Tower        json.RawMessage `json:"tower"`
	Extra        json.RawMessage `json:"extra"`
	Quality      json.RawMessage `json:"quality"`
	Source       json.RawMessage `json:"source"`
	Bowgun       *storedBowgun   `json:"bowgun"`
	Bow          *storedBow      `json:"bow"`
}

// storedBowgun is codecs.Bowgun with its ammo kept as JSON.
type storedBowgun struct {
	Reload      string          `json:"reload"`
	Recoil      string          `json:"recoil"`
	BulletSpeed string          `json:"bullet_speed"`
	Ammo        json.RawMessage `json:"ammo"`
}

// storedBow is codecs.BowStats with its charge levels kept as JSON.
type storedBow struct {
	ArcShot      string          `json:"arc_shot"`
	ChargeLevels json.RawMessage `json:"charge_levels"`
	Coatings     []string        `json:"coatings"`
}

// decodeStored decodes a message of a weapon topic into a new weapon (see decode).
func decodeStored(data []byte) (*storedWeapon, error) {
	w := new(storedWeapon)
	if err := w.decode(data); err != nil {
		return nil, err
	}
	return w, nil
}

// decode decodes a message of a weapon topic into w, which is empty, and checks its envelope. A
// message it cannot read is refused with the error codecs.DecodeWeapon gives, the reason the
// dead letters have always said; one whose jsonb parts are not of their kind at the top (a
// string for a list) too. Inside those parts nothing is checked, where the typed decoding
// refused a wrong type at any depth: the weapon topics are written by the processor alone, from
// the same types, and a part malformed inside (by another producer) is stored as jsonb as it
// came.
//
// The weapon's strings refer to data instead of copies of their bytes (a third of a
// snapshot's allocations were these copies): data must never be written again. A message's
// value from sarama is its own (a part of the fetch response or of its decompressed batch,
// neither reused), and the record keeps it until its batch is committed anyway.
func (w *storedWeapon) decode(data []byte) error {
	if len(data) > 0 && json.UnmarshalWithOption(data, w, json.DecodeNoCopyString()) == nil && w.shapesHold() &&
		w.decodeElements() == nil {
		return codecs.CheckWeapon(&w.Weapon)
	}
	typed, err := codecs.DecodeWeapon(data)
	if err != nil {
		return err
	}
	return fmt.Errorf("decode weapon %q: a part stored as jsonb is not of its type", typed.Key)
}

// decodeElements decodes the elements kept as JSON into the typed weapon's, as its decoding
// would have (a wrong type in them is refused: see decode). Their strings refer to the JSON kept.
func (w *storedWeapon) decodeElements() error {
	if emptyJSON(w.Elements) {
		return nil
	}
	return json.UnmarshalWithOption(w.Elements, &w.Weapon.Elements, json.DecodeNoCopyString())
}

// shapesHold reports whether every jsonb part is what codecs.Weapon declares: a list, an object
// or null.
func (w *storedWeapon) shapesHold() bool {
	// An array of room for all (appending a bowgun's or a bow's list to a slice of eight moved
	// it to the heap, for every weapon).
	lists := [11]json.RawMessage{w.UpgradeFrom, w.UpgradeTo, w.Sharpness, w.Creation, w.Upgrade,
		w.GCreation100, w.GCreation60, w.Quality, w.Elements}
	objects := [...]json.RawMessage{w.Tower, w.Extra, w.Source}
	if w.Bowgun != nil {
		lists[9] = w.Bowgun.Ammo
	}
	if w.Bow != nil {
		lists[10] = w.Bow.ChargeLevels
	}
	return allOf(lists[:], '[') && allOf(objects[:], '{')
}

func allOf(parts []json.RawMessage, open byte) bool {
	for _, p := range parts {
		p = bytes.TrimLeft(p, " \t\r\n")
		if len(p) > 0 && p[0] != open && !bytes.Equal(p, []byte("null")) {
			return false
		}
	}
	return true
}

// rawJSONB is a jsonb part as a column's value: NULL when absent, null or empty, as jsonb gives
// for the typed values.
func rawJSONB(raw *json.RawMessage) any {
	if emptyJSON(*raw) {
		return nil
	}
	return jsonbText{raw}
}

// emptyJSON reports whether raw is absent, null, [] or {} (spaces allowed).
func emptyJSON(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return true
	}
	if len(t) < 2 || (t[0] != '[' && t[0] != '{') {
		return false
	}
	return len(bytes.TrimSpace(t[1:len(t)-1])) == 0
}

// storedMaterials is the materials column: an object of the weapon's non-empty recipe lists,
// NULL without any. Its bytes are counted first and allocated once (appending them grew the
// slice three or four times a row).
func storedMaterials(w *storedWeapon) any {
	parts := [...]struct {
		name string
		raw  json.RawMessage
	}{{"creation", w.Creation}, {"g_creation_100", w.GCreation100}, {"g_creation_60", w.GCreation60}, {"upgrade", w.Upgrade}}
	size := 0
	for i := range parts {
		if emptyJSON(parts[i].raw) {
			parts[i].raw = nil
			continue
		}
		size += len(`,"":`) + len(parts[i].name) + len(parts[i].raw)
	}
	if size == 0 {
		return nil
	}
	b := make([]byte, 0, size+1)
	for _, part := range parts {
		if part.raw == nil {
			continue
		}
		if len(b) == 0 {
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = append(append(append(b, '"'), part.name...), `":`...)
		b = append(b, part.raw...)
	}
	return append(b, '}')
}
