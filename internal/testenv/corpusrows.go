package testenv

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// CorpusRows samples the weapon rows of a snapshot's pages as raw records: at most perPage rows
// of each page, spread over it. It is a small reading of the pages of its own, not the scraper's
// (the processor's tests may not import the scraper): each cell has its header and its inner
// HTML, nothing else, which is what the processor reads. For seeds of fuzz targets and the like;
// the records are not what the scraper emits to the byte.
func CorpusRows(t testing.TB, snapshot string, perPage int) []*codecs.RawRecord {
	t.Helper()
	dir := Snapshot(t, snapshot)
	var out []*codecs.RawRecord
	for _, mp := range Manifest(t, snapshot) {
		wt, kind, err := codecs.ParsePageName(mp.Page)
		if err != nil || mp.WeaponRows == 0 {
			continue // not a weapon page (the index pages)
		}
		file := filepath.Join(dir, mp.Page)
		body, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		// Rows spread over the page; the reading stops after the last of them.
		n := min(perPage, mp.WeaponRows)
		pick := map[int]bool{}
		for i := range n {
			pick[i*mp.WeaponRows/n] = true
		}
		for _, r := range readRows(body, pick, len(pick)) {
			r.Schema, r.WeaponType, r.PageKind, r.Page = codecs.RawSchemaVersion, wt, kind, mp.Page
			r.URL = "file://" + file
			r.Occurrence = 1
			r.Key = codecs.RecordKey(wt, kind, r.RowID, r.Occurrence)
			r.ScrapedAt = time.Date(2025, 10, 22, 0, 0, 0, 0, time.UTC)
			out = append(out, r)
		}
	}
	return out
}

// rowReader is the state of readRows: the weapon table it is in, its headers, the open row and
// the open cell, and which rows to keep.
type rowReader struct {
	z        *html.Tokenizer
	layout   codecs.Layout
	headers  []string
	rows     []*codecs.RawRecord
	row      []rowCell
	hidden   bool
	cell     *rowCell
	rowIndex int
	pick     map[int]bool
}

type rowCell struct {
	th      bool
	id      string
	class   string
	colspan int
	html    bytes.Buffer
	text    strings.Builder
}

// readRows reads the weapon rows of a page whose index (among the weapon rows) is in pick, and
// stops after want of them: the rows of its weapon table (id ken, gun, yumi or tenrou) whose
// first cell has an id. It reads the tokens without building them (a page is megabytes).
func readRows(body []byte, pick map[int]bool, want int) []*codecs.RawRecord {
	rr := &rowReader{z: html.NewTokenizer(bytes.NewReader(body)), pick: pick}
	for len(rr.rows) < want {
		tt := rr.z.Next()
		switch {
		case tt == html.ErrorToken:
			rr.endRow()
			return rr.rows
		case rr.layout != "":
			rr.token(tt)
		case tt == html.StartTagToken:
			if name, _ := rr.z.TagName(); string(name) == "table" {
				if l := codecs.Layout(rr.attrs()["id"]); l.Valid() {
					rr.layout, rr.headers = l, nil
				}
			}
		}
	}
	return rr.rows
}

// attrs returns the attributes of the current start tag.
func (rr *rowReader) attrs() map[string]string {
	m := map[string]string{}
	for {
		k, v, more := rr.z.TagAttr()
		m[string(k)] = string(v)
		if !more {
			return m
		}
	}
}

// token reads one token inside a weapon table.
func (rr *rowReader) token(tt html.TokenType) {
	var name string
	if tt == html.StartTagToken || tt == html.EndTagToken {
		n, _ := rr.z.TagName()
		name = string(n)
	}
	switch {
	case tt == html.StartTagToken && rr.startTag(name):
	case tt == html.EndTagToken && rr.endTag(name):
	case rr.cell != nil:
		rr.inCell(tt, name)
	}
}

// startTag reads a start tag of the table's structure: a row or a cell.
func (rr *rowReader) startTag(name string) bool {
	switch name {
	case "tr":
		rr.endRow()
		rr.hidden = strings.Contains(strings.ReplaceAll(rr.attrs()["style"], " ", ""), "display:none")
	case "td", "th":
		rr.endCell()
		a := rr.attrs()
		n, _ := strconv.Atoi(strings.TrimSpace(a["colspan"]))
		rr.cell = &rowCell{th: name == "th", id: a["id"], class: a["class"], colspan: n}
	default:
		return false
	}
	return true
}

// endTag reads an end tag of the table's structure: a cell, a row or the table.
func (rr *rowReader) endTag(name string) bool {
	switch name {
	case "td", "th":
		rr.endCell()
	case "tr", "thead", "tbody":
		rr.endRow()
	case "table":
		rr.endRow()
		rr.layout = ""
	default:
		return false
	}
	return true
}

// inCell keeps a token of the open cell: its HTML as served, and a header's text.
func (rr *rowReader) inCell(tt html.TokenType, name string) {
	rr.cell.html.Write(rr.z.Raw())
	switch {
	case !rr.cell.th:
	case tt == html.TextToken:
		rr.cell.text.WriteString(html.UnescapeString(string(rr.z.Raw())))
	case name == "br":
		rr.cell.text.WriteString("\n")
	}
}
func (rr *rowReader) endCell() {
	if rr.cell != nil {
		rr.row = append(rr.row, *rr.cell)
		rr.cell = nil
	}
}

// endRow ends the open row: the first header row gives the headers (colspans expanded), a row
// whose first cell is a <td> with an id is a weapon row.
func (rr *rowReader) endRow() {
	rr.endCell()
	row := rr.row
	rr.row = nil
	switch {
	case len(row) == 0:
	case row[0].th && rr.headers == nil:
		for _, c := range row {
			for range max(c.colspan, 1) {
				rr.headers = append(rr.headers, strings.TrimSpace(c.text.String()))
			}
		}
	case !row[0].th && row[0].id != "":
		rr.rowIndex++
		if !rr.pick[rr.rowIndex-1] {
			return
		}
		r := &codecs.RawRecord{Layout: rr.layout, RowID: row[0].id, RowIndex: rr.rowIndex - 1, Hidden: rr.hidden}
		col := 0
		for _, c := range row {
			cell := codecs.RawCell{ID: c.id, Class: c.class, Colspan: c.colspan, HTML: c.html.String()}
			if col < len(rr.headers) {
				cell.Header = rr.headers[col]
			}
			r.Cells = append(r.Cells, cell)
			col += max(c.colspan, 1)
		}
		rr.rows = append(rr.rows, r)
	}
}
