package codecs

import (
	"errors"
	"fmt"
	"time"
)

// RawSchemaVersion is the version of RawRecord written by this build. Readers accept every
// version up to it; a record of a newer version is refused with ErrUnknownSchema.
//
// Version 2 carries the cells as served (header, the <td>'s attributes, inner HTML) and nothing
// interpreted. Version 1 records also carried, per cell, the scraper's reading of the HTML: the
// flattened text, the links, the marks and the sharpness bars. No reader of this build uses
// them: decoding a version-1 record ignores them, and the processor reads every cell, its
// sharpness bars included, from the HTML, which both versions carry. So a parser fix reaches the
// version-1 records already on weapon_data through `mhfz reprocess`, as it reaches new ones.
const RawSchemaVersion = 2

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

// RawRecord is one weapon row of one page, as the page says it: cut into cells under their column
// headers, each with its inner HTML as served, and not interpreted. Interpreting the cells is the
// processor's job, so that a better parser can re-process the raw records without a re-scrape:
// the raw records are the source of truth `mhfz reprocess` re-derives the weapons from.
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

// RawCell is one <td> of a weapon row. Version-1 records (see RawSchemaVersion) also had
// "text", "links", "marks" and "sharpness" per cell: decoding ignores them.
type RawCell struct {
	// Header is the text of the column header this cell stands under (colspans followed).
	Header string `json:"header"`
	// Class, ID and Colspan are the <td>'s own attributes, when present.
	Class   string `json:"class,omitempty"`
	ID      string `json:"id,omitempty"`
	Colspan int    `json:"colspan,omitempty"`
	// HTML is the cell's inner HTML as served: everything the processor reads of the cell.
	HTML string `json:"html"`
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
