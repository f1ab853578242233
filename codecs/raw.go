package codecs

import (
	"errors"
	"fmt"
	"time"
)

// RawSchemaVersion is the version of RawRecord written by this build. Readers accept every
// version up to it; a record of a newer version is refused with ErrUnknownSchema.
const RawSchemaVersion = 1

// ErrUnknownSchema marks a record whose schema version this build cannot read.
var ErrUnknownSchema = errors.New("unknown schema version")

// What else CheckEnvelope refuses, for readers that tell them apart (the processor's dead-letter
// kinds): a record without its key, its weapon type or its row id, or of a type this build does
// not know.
var (
	ErrMissingKey        = errors.New("missing key")
	ErrMissingWeaponType = errors.New("missing weapon_type")
	ErrUnknownWeaponType = errors.New("unknown weapon_type")
	ErrMissingRowID      = errors.New("missing row_id")
)

// RawRecord is one weapon row of one page, as the page says it: structured (cells under their
// column headers, links, sharpness bars) but not interpreted. Interpreting the text is the
// processor's job, so that a better parser can re-process the raw records without a re-scrape.
type RawRecord struct {
	Schema     int        `json:"schema"`
	Key        string     `json:"key"`         // RecordKey(type, kind, row id, occurrence)
	WeaponType WeaponType `json:"weapon_type"` // from the page name
	PageKind   PageKind   `json:"page_kind"`   // from the page name
	Layout     Layout     `json:"layout"`      // the id of the page's weapon table
	Page       string     `json:"page"`        // "tachi_g.htm"
	URL        string     `json:"url"`         // where the page was read (http(s):// or file://)
	RowID      string     `json:"row_id"`      // the id of the row's first cell: "l219C2"
	Occurrence int        `json:"occurrence"`  // 1 for the first row with this id on the page
	RowIndex   int        `json:"row_index"`   // 0-based position among the page's weapon rows
	Hidden     bool       `json:"hidden"`      // a display:none row: a level (Lv2, Lv3, ...) of a weapon
	ScrapedAt  time.Time  `json:"scraped_at"`
	Cells      []RawCell  `json:"cells"`
}

// RawCell is one <td> of a weapon row.
type RawCell struct {
	// Header is the text of the column header this cell stands under (colspans followed).
	Header string `json:"header"`
	// Text is the cell's text; <br>, <p>, <hr>, <li> and <div> boundaries become "\n".
	Text string `json:"text"`
	// Links are the cell's <a> elements in order (material item ids, the upgrade tree).
	Links []Link `json:"links,omitempty"`
	// Marks are the cell's inline elements that carry meaning on this site, in order:
	// <b> (GR, Lv), <s> (negative affinity, notes), <u> (ammo), <i> (locked charge level),
	// <small>, <em>, <p>, <span class="…"> (horn notes), with their text.
	Marks []Mark `json:"marks,omitempty"`
	// Sharpness holds the sharpness bars (<ul><li class="COLOUR sLENGTH">), usually two: the
	// normal bar and the bar with Sharpness+1.
	Sharpness []SharpnessBar `json:"sharpness,omitempty"`
	// Class, ID and Colspan are the <td>'s own attributes, when present.
	Class   string `json:"class,omitempty"`
	ID      string `json:"id,omitempty"`
	Colspan int    `json:"colspan,omitempty"`
	// HTML is the cell's inner HTML as served, so that nothing on the page is lost.
	HTML string `json:"html"`
}

// Link is one <a> of a cell.
type Link struct {
	Text  string `json:"text"`
	Href  string `json:"href"`
	Class string `json:"class,omitempty"`
}

// Mark is one meaningful inline element of a cell.
type Mark struct {
	Tag   string `json:"tag"`
	Class string `json:"class,omitempty"`
	Text  string `json:"text"`
}

// SharpnessBar is one sharpness bar: its title attribute as served, and its segments in order.
type SharpnessBar struct {
	Title    string             `json:"title,omitempty"`
	Segments []SharpnessSegment `json:"segments"`
}

// SharpnessSegment is one coloured segment of a sharpness bar, as the page draws it:
// the colour code of its class ("r", "o", "y", "g", "b", "w", "p", "s") and its length.
type SharpnessSegment struct {
	Colour string `json:"colour"`
	Length int    `json:"length"`
}

// Cell returns the first cell under the given header, and whether there is one.
func (r *RawRecord) Cell(header string) (RawCell, bool) {
	for _, c := range r.Cells {
		if c.Header == header {
			return c, true
		}
	}
	return RawCell{}, false
}

// DecodeRaw decodes a RawRecord and checks its envelope: schema version, key, row id, type.
// It never panics; every error names what is wrong.
func DecodeRaw(data []byte) (*RawRecord, error) { return decodeJSON[RawRecord](data) }

func (r *RawRecord) check() error { return CheckEnvelope(r) }

// CheckEnvelope checks what DecodeRaw checks after decoding: schema version, key, row id, type.
// For readers that decode a RawRecord their own way (the processor decodes only the fields it
// reads). RawCodec's Decode is strict (DecodeRaw); the processor reads its input as bytes and
// decodes it itself, so that a bad message goes to the dead-letter topic rather than stopping it.
func CheckEnvelope(r *RawRecord) error {
	switch {
	case r.Schema == 0:
		return fmt.Errorf("decode raw record %q: missing schema: %w (this build reads 1..%d)",
			r.Key, ErrUnknownSchema, RawSchemaVersion)
	case r.Schema < 1 || r.Schema > RawSchemaVersion:
		return fmt.Errorf("decode raw record %q: schema %d: %w (this build reads 1..%d)",
			r.Key, r.Schema, ErrUnknownSchema, RawSchemaVersion)
	case r.Key == "":
		return fmt.Errorf("decode raw record: %w", ErrMissingKey)
	case r.WeaponType == "":
		return fmt.Errorf("decode raw record %q: %w", r.Key, ErrMissingWeaponType)
	case !r.WeaponType.Valid():
		return fmt.Errorf("decode raw record %q: %w %q", r.Key, ErrUnknownWeaponType, r.WeaponType)
	case r.RowID == "":
		return fmt.Errorf("decode raw record %q: %w", r.Key, ErrMissingRowID)
	}
	return nil
}
