package scraper

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// PageInfo says which page a body is and where it was read.
type PageInfo struct {
	Name      string // the page's file name: "tachi_g.htm"
	URL       string // where it was read: http(s):// or file://
	ScrapedAt time.Time
}

// ParsePage reads every weapon row of one weapon page and calls fn with one raw record per
// row, in page order. Problems of the page (see IssueKind) are reported in the result and the
// other rows still go through. The error is fn's (wrapped) or a page name that is not a weapon
// page's: a caller's mistake, not bad input.
func ParsePage(info PageInfo, body []byte, fn func(*codecs.RawRecord) error) (PageResult, error) {
	return parsePage(info, body, fn, false)
}

// parsePage is ParsePage; tokenizerOnly reads the whole page with html.Tokenizer (see tokens),
// for the tests that compare both ways.
func parsePage(info PageInfo, body []byte, fn func(*codecs.RawRecord) error, tokenizerOnly bool) (PageResult, error) {
	t, kind, err := codecs.ParsePageName(info.Name)
	if err != nil {
		return PageResult{Page: info.Name}, fmt.Errorf("parse page: %w", err)
	}
	// One copy of the page: the cells' HTML and attributes are parts of it, not a copy each.
	page := string(body)
	p := &pageParser{
		info: info, wtype: t, kind: kind, body: body, page: page, fn: fn,
		res:         PageResult{Page: info.Name, Bytes: len(body)},
		occurrences: map[string]int{},
		validUTF8:   utf8.Valid(body),
		src:         newTokens(body, page, tokenizerOnly),
	}
	if !looksLikeHTML(body) {
		p.pageIssue(IssueNotHTML, "the body does not start like an HTML document (%s)", describeStart(body))
		return p.res, nil
	}
	if err := p.run(); err != nil {
		return p.res, err
	}
	return p.res, nil
}

// maxColspan is the largest colspan HTML allows (browsers clamp larger ones to it); it also
// bounds the header list a hostile page can make the parser build.
const maxColspan = 1000

// tagName reads a tag's name from its raw text ("<td id=…>", "</TD>"), lower-cased, without
// allocating for the known HTML elements: the parser sees about five million tags in the
// site's 85 MB, and the tokenizer's own TagName copies every name.
func (p *pageParser) tagName(raw []byte) string {
	i := 1 // after "<"
	if i < len(raw) && raw[i] == '/' {
		i++
	}
	j := i
	for j < len(raw) && !endsTagName(raw[j]) {
		j++
	}
	name := raw[i:j]
	for k, c := range name {
		if c >= 'A' && c <= 'Z' || c == 0 {
			name = p.lower(name[k:], name[:k])
			break
		}
	}
	if a := atom.Lookup(name); a != 0 {
		return a.String()
	}
	return string(name)
}

// name is the current tag's name.
func (p *pageParser) name() string {
	if n := p.src.plainName(); n != "" {
		return n
	}
	return p.tagName(p.src.Raw())
}

// endsTagName reports whether c ends a tag's name: white space, "/" or ">".
func endsTagName(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '/', '>':
		return true
	}
	return false
}

// lower returns done+rest lower-cased, NUL bytes replaced as the tokenizer would.
func (p *pageParser) lower(rest, done []byte) []byte {
	p.nameBuf = append(p.nameBuf[:0], done...)
	for _, c := range rest {
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == 0:
			p.nameBuf = append(p.nameBuf, "\uFFFD"...)
			continue
		}
		p.nameBuf = append(p.nameBuf, c)
	}
	return p.nameBuf
}

// tagAttrs are the attributes the parser reads; the others are kept only in the cells' HTML.
type tagAttrs struct {
	id, class, href, style, colspan string
	// rawClass is the class of an <li>, left as bytes (valid until the next token): a
	// sharpness segment is checked without a string for each of the million segments.
	rawClass []byte
}

func readAttrs(z *html.Tokenizer, a *tagAttrs, li bool) {
	*a = tagAttrs{}
	for {
		k, v, more := z.TagAttr()
		switch string(k) {
		case "id":
			a.id = string(v)
		case "class":
			if li {
				a.rawClass = v
			} else {
				a.class = string(v)
			}
		case "href":
			a.href = string(v)
		case "style":
			a.style = string(v)
		case "colspan":
			a.colspan = string(v)
		}
		if !more {
			return
		}
	}
}

// pageParser is the state of one streaming pass over a page.
type pageParser struct {
	info  PageInfo
	wtype codecs.WeaponType
	kind  codecs.PageKind
	body  []byte
	page  string // body as a string
	fn    func(*codecs.RawRecord) error
	res   PageResult

	src       *tokens
	pos       int // offset in body of the end of the current token
	attrs     tagAttrs
	nameBuf   []byte
	validUTF8 bool

	tableState  int // 0 before the weapon table, 1 inside, 2 after
	skipDepth   int // >0 inside a table of unknown layout
	nestedDepth int // tables nested inside the weapon table's cells
	sawHTMLEnd  bool
	headers     []string // per column, colspans expanded

	links map[string]bool

	row         *rowState
	cell        cellBuilder
	inCell      bool
	occurrences map[string]int
}

// rowState is the <tr> being read.
type rowState struct {
	hidden   bool
	weapon   bool // its first cell is <td id="l…">
	header   bool // its first cell is a <th>
	id       string
	cells    []codecs.RawCell
	texts    []string // of a header row: its cells' text, the column names
	columns  int
	started  bool // a first cell has been seen
	badUTF8  bool
	badSharp []string
}

func (p *pageParser) run() error {
	for {
		tt := p.src.Next()
		start := p.pos
		p.pos = p.src.end
		switch tt {
		case html.ErrorToken:
			if p.src.Err() != io.EOF {
				p.pageIssue(IssueNotHTML, "tokenizer: %v", p.src.Err())
			}
			return p.finish()
		case html.StartTagToken, html.SelfClosingTagToken:
			name := p.name()
			if err := p.startTag(name, start, tt == html.SelfClosingTagToken); err != nil {
				return err
			}
		case html.EndTagToken:
			if err := p.endTag(p.name(), start); err != nil {
				return err
			}
		case html.TextToken:
			// Only a header cell's text is kept (addText).
			if p.inCell && p.cell.isHeader {
				p.cell.addText(p.src.Text())
			}
		}
	}
}

func (p *pageParser) startTag(name string, start int, selfClosing bool) error {
	p.src.readAttrs(&p.attrs, name == "li")
	if name == "a" && len(p.attrs.href) > 0 && p.attrs.href[0] != '#' {
		p.noteLink(p.attrs.href)
	}
	switch {
	case p.skipDepth > 0:
		if name == "table" {
			p.skipDepth++
		}
		return nil
	case p.tableState != 1:
		if name == "table" {
			p.openTable()
		}
		return nil
	case p.nestedDepth > 0:
		if name == "table" {
			p.nestedDepth++
		}
		p.cellTag(name, selfClosing)
		return nil
	}
	return p.tableTag(name, start, selfClosing)
}

// tableTag handles a start tag of the weapon table itself (not of a table nested in a cell).
func (p *pageParser) tableTag(name string, start int, selfClosing bool) error {
	switch name {
	case "table":
		p.nestedDepth++
		p.cellTag(name, selfClosing)
	case "tr":
		if err := p.closeRow(start); err != nil {
			return err
		}
		p.row = &rowState{hidden: isHidden(p.attrs.style)}
	case "td", "th":
		p.closeCell(start)
		if p.row == nil {
			p.row = &rowState{}
		}
		p.openCell(name)
	case "thead", "tbody", "tfoot":
		return p.closeRow(start)
	case "col", "colgroup", "caption":
	default:
		p.cellTag(name, selfClosing)
	}
	return nil
}

func (p *pageParser) endTag(name string, start int) error {
	if p.skipDepth > 0 {
		if name == "table" {
			p.skipDepth--
		}
		return nil
	}
	if p.tableState != 1 {
		if name == "html" {
			p.sawHTMLEnd = true
		}
		return nil
	}
	if p.nestedDepth > 0 {
		if name == "table" {
			p.nestedDepth--
		}
		if p.inCell {
			p.cell.end(name)
		}
		return nil
	}
	switch name {
	case "td", "th":
		p.closeCell(start)
	case "tr", "thead", "tbody", "tfoot":
		return p.closeRow(start)
	case "table":
		if err := p.closeRow(start); err != nil {
			return err
		}
		p.tableState = 2
	default:
		if p.inCell {
			p.cell.end(name)
		}
	}
	return nil
}

// openTable starts the weapon table, or skips a table of an unknown layout.
func (p *pageParser) openTable() {
	if p.tableState == 2 {
		p.skipDepth = 1 // a second table: not a weapon table of this site
		return
	}
	layout := p.attrs.id
	// A copy: the page's string would live as long as the result (the strings of the page's
	// records are parts of it; they live no longer than the records).
	layout = strings.Clone(layout)
	p.res.Layout = layout
	if !codecs.Layout(layout).Valid() {
		p.pageIssue(IssueUnknownLayout, "table id %q is not a known layout (ken, gun, yumi, tenrou)", layout)
		p.skipDepth = 1
		return
	}
	p.tableState = 1
}

// cellTag passes a tag inside a cell to the cell (tags between cells are ignored).
func (p *pageParser) cellTag(name string, selfClosing bool) {
	if p.inCell {
		p.cell.start(name, &p.attrs, selfClosing)
	}
}

// noteLink remembers a link to another weapon page of the same folder ("taiken.htm#l0002"),
// so that the scrape can follow it.
func (p *pageParser) noteLink(href string) {
	if i := strings.IndexAny(href, "#?"); i >= 0 {
		href = href[:i]
	}
	if href == "" || href == p.info.Name || strings.ContainsAny(href, "/:\\") || p.links[href] {
		return
	}
	if _, _, err := codecs.ParsePageName(href); err != nil {
		return
	}
	if p.links == nil {
		p.links = map[string]bool{}
	}
	href = strings.Clone(href) // the page's string would live as long as the result
	p.links[href] = true
	p.res.Links = append(p.res.Links, href)
}

func isHidden(style string) bool {
	if style == "" {
		return false
	}
	s := strings.ReplaceAll(strings.ToLower(style), " ", "")
	return strings.Contains(s, "display:none")
}

func (p *pageParser) openCell(name string) {
	r := p.row
	isHeader := name == "th"
	if !r.started {
		r.started = true
		r.header = isHeader
		r.weapon = !isHeader && strings.HasPrefix(p.attrs.id, "l")
		r.id = p.attrs.id
	}
	if !r.weapon && !r.header {
		// Not a weapon row: nothing of it is kept, but its columns are still counted.
		return
	}
	if r.cells == nil {
		// One allocation per row: growing the slice cell by cell cost a gigabyte per snapshot.
		r.cells = make([]codecs.RawCell, 0, max(len(p.headers), 8))
	}
	p.inCell = true
	p.cell.reset(isHeader, p.pos, codecs.Layout(p.res.Layout) != codecs.LayoutTower)
	p.cell.cell.Class, p.cell.cell.ID = p.attrs.class, p.attrs.id
	if p.attrs.colspan != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(p.attrs.colspan)); err == nil && n > 1 {
			p.cell.cell.Colspan = min(n, maxColspan)
		}
	}
}

// closeCell ends the open cell at offset end (the start of the token that closes it).
func (p *pageParser) closeCell(end int) {
	if !p.inCell {
		return
	}
	p.inCell = false
	raw := p.body[p.cell.htmlStart:end]
	c, text := p.cell.finish(p.page[p.cell.htmlStart:end])
	r := p.row
	if !p.validUTF8 && !utf8.Valid(raw) {
		r.badUTF8 = true
		sanitizeCell(&c)
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	r.badSharp = append(r.badSharp, p.cell.badSharp...)
	span := max(c.Colspan, 1)
	if r.header {
		r.cells = append(r.cells, c)
		r.texts = append(r.texts, text)
		r.columns += span
		return
	}
	if r.columns < len(p.headers) {
		c.Header = p.headers[r.columns]
	}
	r.columns += span
	r.cells = append(r.cells, c)
}

// closeRow ends the open row at offset end: a weapon row becomes a record, the first header
// row gives the column headers.
func (p *pageParser) closeRow(end int) error {
	p.closeCell(end)
	r := p.row
	p.row = nil
	switch {
	case r == nil:
		return nil
	case r.header:
		if p.headers == nil {
			for i, c := range r.cells {
				for range max(c.Colspan, 1) {
					p.headers = append(p.headers, r.texts[i])
				}
			}
		}
		return nil
	case r.weapon:
		return p.emitRow(r)
	}
	return nil
}

func (p *pageParser) emitRow(r *rowState) error {
	index := p.res.Rows
	p.occurrences[r.id]++
	occ := p.occurrences[r.id]
	if occ > 1 {
		p.rowIssue(IssueDuplicateID, r.id, index, "row id %q appears %d times on the page; kept as occurrence %d",
			r.id, occ, occ)
	}
	if r.badUTF8 {
		p.rowIssue(IssueInvalidUTF8, r.id, index, "bytes that are not UTF-8, replaced by U+FFFD")
	}
	if len(r.badSharp) > 0 {
		p.rowIssue(IssueBadSharpness, r.id, index, "sharpness segment classes that do not parse: %q", r.badSharp)
	}
	switch {
	case r.columns < len(p.headers) && !p.endsBeforeOther(r.columns):
		p.rowIssue(IssueShortRow, r.id, index, "cells cover %d columns, the header has %d", r.columns, len(p.headers))
	case r.columns > len(p.headers):
		p.rowIssue(IssueLongRow, r.id, index, "cells cover %d columns, the header has %d", r.columns, len(p.headers))
	}
	id := r.id
	if !p.validUTF8 {
		id = strings.ToValidUTF8(id, "\uFFFD")
	}
	rec := &codecs.RawRecord{
		Schema:     codecs.RawSchemaVersion,
		Key:        codecs.RecordKey(p.wtype, p.kind, id, occ),
		WeaponType: p.wtype,
		PageKind:   p.kind,
		Layout:     codecs.Layout(p.res.Layout),
		Page:       p.info.Name,
		URL:        p.info.URL,
		RowID:      id,
		Occurrence: occ,
		RowIndex:   index,
		Hidden:     r.hidden,
		ScrapedAt:  p.info.ScrapedAt,
		Cells:      r.cells,
	}
	p.res.Rows++
	if r.hidden {
		p.res.HiddenRows++
	}
	if err := p.fn(rec); err != nil {
		return fmt.Errorf("page %s row %d (%s): %w", p.info.Name, index, r.id, err)
	}
	return nil
}

// finish checks how the document ended.
func (p *pageParser) finish() error {
	switch p.tableState {
	case 0:
		if p.skipDepth == 0 && p.res.Layout == "" {
			p.pageIssue(IssueNoTable, "no weapon table on the page")
		}
	case 1:
		if p.row != nil && p.row.weapon {
			p.rowIssue(IssueTruncated, p.row.id, p.res.Rows,
				"the document ends inside this row; the row is not emitted")
		} else {
			p.pageIssue(IssueTruncated, "the document ends inside the weapon table (no </table>)")
		}
		p.row, p.inCell = nil, false
		return nil
	}
	if !p.sawHTMLEnd && p.skipDepth == 0 {
		p.pageIssue(IssueTruncated, "the document ends without </html>")
	}
	return nil
}

// towerOther heads the last columns of the tower tables: the "other" upgrade (bullet speed,
// a fourth charge level, …), which only the levels that have one fill in; the other rows end
// before it.
const towerOther = "その他"

// endsBeforeOther reports whether a row of a tower table ends exactly where the "other"
// columns begin: the layout, not a short row.
func (p *pageParser) endsBeforeOther(columns int) bool {
	if codecs.Layout(p.res.Layout) != codecs.LayoutTower || columns < 1 || columns >= len(p.headers) ||
		p.headers[columns-1] == towerOther {
		return false
	}
	for _, h := range p.headers[columns:] {
		if h != towerOther {
			return false
		}
	}
	return true
}

func (p *pageParser) pageIssue(kind IssueKind, format string, args ...any) {
	p.res.Issues = append(p.res.Issues, Issue{Kind: kind, Page: p.info.Name, RowIndex: -1,
		Detail: fmt.Sprintf(format, args...)})
}

func (p *pageParser) rowIssue(kind IssueKind, id string, index int, format string, args ...any) {
	p.res.Issues = append(p.res.Issues, Issue{Kind: kind, Page: p.info.Name, RowID: strings.Clone(id), RowIndex: index,
		Detail: fmt.Sprintf(format, args...)})
}

// sanitizeCell replaces the bytes that are not UTF-8 in every string of a cell, so that the
// record is valid JSON text that says where the damage was.
func sanitizeCell(c *codecs.RawCell) {
	fix := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	c.Header, c.HTML, c.Class, c.ID = fix(c.Header), fix(c.HTML), fix(c.Class), fix(c.ID)
}

// looksLikeHTML reports whether a body can be an HTML page: after an optional byte-order mark
// and white space it starts with "<", and it holds no NUL byte (binary data).
func looksLikeHTML(body []byte) bool {
	b := bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	b = bytes.TrimLeft(b, " \t\r\n\f")
	if len(b) == 0 || b[0] != '<' {
		return false
	}
	return bytes.IndexByte(body, 0) < 0
}

func describeStart(body []byte) string {
	if len(body) == 0 {
		return "empty body"
	}
	n := min(len(body), 16)
	return fmt.Sprintf("first bytes %q", body[:n])
}
