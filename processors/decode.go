package processors

import (
	json "github.com/goccy/go-json"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// leanRecord is the part of a codecs.RawRecord the parser reads: the cells' flattened text,
// links and marks are skipped (the parser reads the cells' HTML).
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
	Header    string                `json:"header"`
	Sharpness []codecs.SharpnessBar `json:"sharpness"`
	HTML      string                `json:"html"`
}

// Decode decodes a raw record for the parser, with the envelope checks of codecs.DecodeRaw
// (codecs.CheckEnvelope), four times faster than DecodeRaw: goccy/go-json instead of
// encoding/json, and only the fields the parser reads (the cells keep their header, sharpness and
// HTML). Its errors are *RecordError.
func Decode(data []byte) (*codecs.RawRecord, error) {
	if len(data) == 0 {
		return nil, recordErr(KindEmpty, "decode raw record: empty message")
	}
	var l leanRecord
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, recordErr(KindJSON, "decode raw record: malformed JSON: %w", err)
	}
	r := &codecs.RawRecord{Schema: l.Schema, Key: l.Key, WeaponType: l.WeaponType, PageKind: l.PageKind,
		Layout: l.Layout, Page: l.Page, URL: l.URL, RowID: l.RowID, Occurrence: l.Occurrence,
		RowIndex: l.RowIndex, Hidden: l.Hidden, ScrapedAt: l.ScrapedAt, Cells: make([]codecs.RawCell, len(l.Cells))}
	for i, c := range l.Cells {
		r.Cells[i] = codecs.RawCell{Header: c.Header, Sharpness: c.Sharpness, HTML: c.HTML}
	}
	if err := codecs.CheckEnvelope(r); err != nil {
		return nil, &RecordError{Kind: classifyDecode(err), Err: err}
	}
	return r, nil
}
