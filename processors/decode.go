package processors

import (
	"bytes"
	"errors"
	"reflect"
	"sync"
	"time"
	"unicode/utf8"

	json "github.com/goccy/go-json"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// leanRecord is the part of a codecs.RawRecord the parser reads: of the cells, their header and
// HTML. A schema-1 record's cells also carry the scraper's text, links, marks and sharpness bars:
// they are skipped, and the parser reads everything, the bars included, from the HTML, as for a
// schema-2 record. So a fix of the parser reaches the old records too, through `mhfz reprocess`.
type leanRecord struct {
	Schema     int               `json:"schema"`
	Key        string            `json:"key"`
	WeaponType codecs.WeaponType `json:"weapon_type"`
	PageKind   codecs.PageKind   `json:"page_kind"`
	Layout     codecs.Layout     `json:"layout"`
	Page       string            `json:"page"`
	URL        string            `json:"url"`
	RowID      string            `json:"row_id"`
	Occurrence int               `json:"occurrence"`
	RowIndex   int               `json:"row_index"`
	Hidden     bool              `json:"hidden"`
	ScrapedAt  time.Time         `json:"scraped_at"`
	Cells      []leanCell        `json:"cells"`
}

type leanCell struct {
	Header string `json:"header"`
	HTML   string `json:"html"`
}

// leanRecords keeps the records decoded into, with their cells' arrays: grown by the decoder
// for every record otherwise.
var leanRecords = sync.Pool{New: func() any { return new(leanRecord) }}

// release empties l, keeping its cells' array (cleared: a record whose cell lacks a field must
// not read the one before it), and gives it back to leanRecords.
func (l *leanRecord) release() {
	cells := l.Cells[:cap(l.Cells)]
	clear(cells)
	*l = leanRecord{Cells: cells[:0]}
	leanRecords.Put(l)
}

// Decode decodes a raw record for the parser, with the envelope checks of codecs.DecodeRaw
// (codecs.CheckEnvelope), faster than DecodeRaw: only the fields the parser reads (the cells keep
// their header and HTML; see leanRecord for the schema-1 records). Its errors are *RecordError, each saying exactly what is wrong: bytes that are not UTF-8
// (and where), JSON of another shape than a record (and which field), malformed JSON, an envelope
// this build cannot read.
//
// The record's strings refer to data instead of copies of it (goccy/go-json's
// DecodeNoCopyString; the strings with an escape are copies): data must not be changed while the
// record, or a weapon parsed from it, is in use, and they keep data alive. The router's messages
// are neither changed nor kept (a message's weapon is encoded when it is sent).
func Decode(data []byte) (*codecs.RawRecord, error) {
	r := new(codecs.RawRecord)
	if err := DecodeInto(data, r); err != nil {
		return nil, err
	}
	return r, nil
}

// rawRecords keeps the records the router decodes into, with their cells' arrays: a new record
// and array for every message were about 1 kB of the router's allocations a record, 144 MB of
// the 192 MB a snapshot's decoding allocated (BenchmarkRowParse).
var rawRecords = sync.Pool{New: func() any { return new(codecs.RawRecord) }}

// decodePooled decodes data as Decode does, into a record of rawRecords, which releaseRecord
// gives back once nothing reads it any more: the weapon parsed from it refers to data, not to it.
func decodePooled(data []byte) (*codecs.RawRecord, error) {
	r := rawRecords.Get().(*codecs.RawRecord)
	if err := DecodeInto(data, r); err != nil {
		releaseRecord(r)
		return nil, err
	}
	return r, nil
}

// releaseRecord clears r, keeping its cells' array, and gives it back to rawRecords.
func releaseRecord(r *codecs.RawRecord) {
	cells := r.Cells[:cap(r.Cells)]
	clear(cells) // the strings refer to data: no message is kept alive by the pool
	*r = codecs.RawRecord{Cells: cells[:0]}
	rawRecords.Put(r)
}

// DecodeInto decodes data as Decode does, into r, whose cells' array it reuses: what r held
// before is overwritten, or, on an error, left in any state.
func DecodeInto(data []byte, r *codecs.RawRecord) error {
	if len(data) == 0 {
		return recordErr(KindEmpty, "decode raw record: empty message")
	}
	// goccy/go-json would turn invalid bytes in strings into U+FFFD and store them as text.
	if off := invalidUTF8(data); off >= 0 {
		return recordErr(KindUTF8, "decode raw record: not valid UTF-8: byte 0x%02x at offset %d",
			data[off], off)
	}
	if what := notAnObject(data); what != "" {
		return recordErr(KindShape, "decode raw record: %s, not a JSON object", what)
	}
	l := leanRecords.Get().(*leanRecord)
	defer l.release()
	if err := json.UnmarshalWithOption(data, l, json.DecodeNoCopyString()); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return recordErr(KindShape, "decode raw record: field %q is a JSON %s, want %s",
				te.Field, te.Value, jsonKind(te.Type))
		}
		return recordErr(KindJSON, "decode raw record: malformed JSON: %w", err)
	}
	cells := r.Cells[:0]
	for _, c := range l.Cells {
		cells = append(cells, codecs.RawCell{Header: c.Header, HTML: c.HTML})
	}
	*r = codecs.RawRecord{Schema: l.Schema, Key: l.Key, WeaponType: l.WeaponType, PageKind: l.PageKind,
		Layout: l.Layout, Page: l.Page, URL: l.URL, RowID: l.RowID, Occurrence: l.Occurrence,
		RowIndex: l.RowIndex, Hidden: l.Hidden, ScrapedAt: l.ScrapedAt, Cells: cells}
	if err := codecs.CheckEnvelope(r); err != nil {
		return &RecordError{Kind: classifyDecode(err), Err: err}
	}
	return nil
}

// invalidUTF8 returns the offset of the first byte of data that is not valid UTF-8, or -1.
func invalidUTF8(data []byte) int {
	if utf8.Valid(data) {
		return -1
	}
	for off := 0; off < len(data); {
		r, size := utf8.DecodeRune(data[off:])
		if r == utf8.RuneError && size == 1 {
			return off
		}
		off += size
	}
	return -1
}

// notAnObject names the JSON value data holds when it is valid JSON but not an object ("a JSON
// array", "JSON null"), and returns "" otherwise: an object, or malformed JSON for the decoder to
// report.
func notAnObject(data []byte) string {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] == '{' || !json.Valid(trimmed) {
		return ""
	}
	switch c := trimmed[0]; {
	case c == '[':
		return "a JSON array"
	case c == '"':
		return "a JSON string"
	case c == 't' || c == 'f':
		return "a JSON boolean"
	case c == 'n':
		return "JSON null"
	default:
		return "a JSON number"
	}
}

// jsonKind names the JSON a Go type is decoded from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	default:
		return "an object"
	}
}
