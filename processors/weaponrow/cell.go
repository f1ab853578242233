package weaponrow

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// The inline elements a cell's text can sit in, as a bit set.
type tagSet uint16

const (
	tagA tagSet = 1 << iota
	tagB
	tagS
	tagU
	tagI
	tagSmall
	tagEm
	tagQ
	tagSpan
)

// tagKind is what the parser makes of an element: a block element, which starts a new line of
// a cell (the site separates the parts of a cell with them), an inline element (its tagSet bit:
// kindA's is tagA, and so on in order), or another.
type tagKind uint8

const (
	kindOther tagKind = iota
	kindBr
	kindHr
	kindP
	kindLi
	kindDiv
	kindUl
	kindA
	kindB
	kindS
	kindU
	kindI
	kindSmall
	kindEm
	kindQ
	kindSpan
)

// blockNames are the block elements' names, a line's sep.
var blockNames = [...]string{kindBr: "br", kindHr: "hr", kindP: "p", kindLi: "li", kindDiv: "div", kindUl: "ul"}

func (k tagKind) block() bool { return kindBr <= k && k <= kindUl }

// bit is the tagSet bit of an inline element.
func (k tagKind) bit() tagSet {
	if k < kindA {
		return 0
	}
	return tagA << (k - kindA)
}

// kindOf returns the kind of an element by its name, in any case (an ASCII name is folded on
// the stack, a switch instead of two maps: a tenth of the parse).
func kindOf(name string) tagKind {
	var buf [5]byte
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= utf8.RuneSelf:
			return kindOfLower(strings.ToLower(name)) // as strings.ToLower folds it ("İ" is "i")
		case i >= len(buf):
			continue // too long for an element it knows; read on for a non-ASCII byte
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	if len(name) > len(buf) {
		return kindOther
	}
	return kindOfLower(string(buf[:len(name)]))
}

func kindOfLower(name string) tagKind {
	switch name {
	case "br":
		return kindBr
	case "hr":
		return kindHr
	case "p":
		return kindP
	case "li":
		return kindLi
	case "div":
		return kindDiv
	case "ul":
		return kindUl
	}
	return inlineKindOf(name)
}

func inlineKindOf(name string) tagKind {
	switch name {
	case "a":
		return kindA
	case "b":
		return kindB
	case "s":
		return kindS
	case "u":
		return kindU
	case "i":
		return kindI
	case "small":
		return kindSmall
	case "em":
		return kindEm
	case "q":
		return kindQ
	case "span":
		return kindSpan
	}
	return kindOther
}

// segment is a run of text of a cell inside the same inline elements.
type segment struct {
	text      string
	tags      tagSet
	href      string // of the enclosing <a>
	aClass    string // of the enclosing <a>
	spanClass string // of the enclosing <span>
}

func (s segment) has(t tagSet) bool { return s.tags&t != 0 }

// line is one visual line of a cell: the segments between two block boundaries.
type line struct {
	segs []segment
	sep  string // the block element before the line ("hr", "p", ...); "" for the first
}

func (l line) text() string {
	if len(l.segs) == 1 {
		return strings.TrimSpace(l.segs[0].text)
	}
	n := 0
	for _, s := range l.segs {
		n += len(s.text)
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range l.segs {
		b.WriteString(s.text)
	}
	return strings.TrimSpace(b.String())
}

// isOr reports whether l.text() is "or", in any case, without building the text.
func (l line) isOr() bool {
	var buf [64]byte
	b := buf[:0]
	for _, s := range l.segs {
		if len(b)+len(s.text) > len(buf) {
			return strings.EqualFold(l.text(), "or")
		}
		b = append(b, s.text...)
	}
	return bytes.EqualFold(bytes.TrimSpace(b), []byte("or"))
}

// hasText reports whether l.text() != "", without building the text: whether a segment holds
// something else than spaces. A segment that is not valid UTF-8 may end a rune that the next one
// finishes (a space, maybe): the line's text is built then.
func (l line) hasText() bool {
	for _, s := range l.segs {
		if strings.TrimSpace(s.text) != "" {
			if !utf8.ValidString(s.text) {
				return l.text() != ""
			}
			return true
		}
	}
	return false
}

// splitCell cuts a cell's inner HTML into its non-empty lines, in c's buffers: the lines are
// valid until the next call. The raw record keeps the HTML as served, so the parser reads the
// structure (links, underlines, italics) from it rather than from the scraper's flattened text.
// With bars, it also reads the cell's sharpness bars (readBars), into c.bars.
func (c *cellScanner) splitCell(fragment string, bars bool) []line {
	c.reset()
	c.withBars = bars
	if !strings.ContainsRune(fragment, '<') && !strings.ContainsRune(fragment, '&') {
		if strings.TrimSpace(fragment) == "" {
			return nil
		}
		c.segs = append(c.segs, segment{text: fragment})
		c.lines = append(c.lines, line{segs: c.segs[0:1:1]})
		return c.lines
	}
	c.scan(fragment)
	c.flush("")
	if bars {
		c.bars.closeBar()
	}
	if len(c.lines) == 0 {
		return nil
	}
	return c.lines
}

// cellScanner is the state of splitCell: the lines so far, the current one, and the inline
// elements open at this point. Its buffers are reused from one cell to the next (and from one
// row to the next, through scanners): the segments of every line of a cell share one array.
type cellScanner struct {
	lines []line
	segs  []segment // the segments of the lines so far, then those of the current one
	start int       // where the current line's segments start in segs
	sep   string    // the current line's sep
	tags  tagSet
	open  []tagKind // stack of open inline tags, to undo them on their end tag
	href  []string
	cls   []string
	span  []string
	// withBars: the cell's sharpness bars are read into bars in the same scan as its lines
	// (reading them in a second scan was a sixth of the parse).
	withBars bool
	bars     barReader
	// headers and cols are the headers of the last row read and their columns (columnOf): the
	// rows of a page come one after the other with the same headers, whose lookup was a tenth of
	// the parse. The headers are copies: a message is not kept for them.
	headers []string
	cols    []column
	// The buffers of rowParser.ammo: a line's text, folded, and the cell's ammo and levels so
	// far; names interns the ammo's names.
	line, folded []byte
	ammo         []ammoLine
	levels       []ammoLevel
	names        map[string]string
	kinds        map[string]string // elementKind's, by label
}

// columnsOf returns the column of each cell (columnOf of its header), in c's buffer: valid until
// the next call.
func (c *cellScanner) columnsOf(cells []codecs.RawCell) []column {
	if len(c.cols) != len(cells) {
		c.headers = slices.Grow(c.headers[:0], len(cells))[:len(cells)]
		c.cols = slices.Grow(c.cols[:0], len(cells))[:len(cells)]
		clear(c.headers)
		for i := range c.cols {
			c.cols[i] = columnOf(cells[i].Header)
			c.headers[i] = strings.Clone(cells[i].Header)
		}
		return c.cols
	}
	for i, cell := range cells {
		if c.headers[i] != cell.Header {
			c.cols[i] = columnOf(cell.Header)
			c.headers[i] = strings.Clone(cell.Header)
		}
	}
	return c.cols
}

// scanners keeps the cellScanners of the rows parsed at the same time.
var scanners = sync.Pool{New: func() any { return new(cellScanner) }}

// reset empties the scanner for a new cell, keeping its buffers; the strings of the cell before
// are let go.
func (c *cellScanner) reset() {
	clear(c.segs)
	clear(c.lines)
	c.segs, c.lines, c.start, c.sep, c.tags = c.segs[:0], c.lines[:0], 0, "", 0
	c.open, c.href, c.cls, c.span = c.open[:0], c.href[:0], c.cls[:0], c.span[:0]
	c.withBars = false
	c.bars.reset()
}

// scan reads a fragment. The cells are machine-written HTML fragments: a small scanner reads them
// several times faster than x/net/html's tokenizer (which allocates a buffer per call).
func (c *cellScanner) scan(fragment string) {
	for i := 0; i < len(fragment); {
		lt := strings.IndexByte(fragment[i:], '<')
		if lt < 0 {
			c.text(fragment[i:])
			return
		}
		if lt > 0 {
			c.text(fragment[i : i+lt])
		}
		i += lt
		n, more := c.markup(fragment[i:])
		if !more {
			return
		}
		i += n
	}
}

// markup reads the comment or the tag s starts with and returns its length; more is false when
// it ends the fragment (an unclosed comment, a truncated tag).
func (c *cellScanner) markup(s string) (n int, more bool) {
	if strings.HasPrefix(s, "<!--") {
		end := strings.Index(s, "-->")
		if end < 0 {
			return 0, false
		}
		return end + 3, true
	}
	gt := strings.IndexByte(s, '>')
	if gt < 0 { // a truncated tag: keep it as text rather than lose it
		c.text(s)
		return 0, false
	}
	c.tag(parseTag(s[1:gt]))
	return gt + 1, true
}

// flush ends the current line at a block boundary sep: a line without text is not one, its
// segments (spaces) go to the next line.
func (c *cellScanner) flush(sep string) {
	cur := line{segs: c.segs[c.start:len(c.segs):len(c.segs)], sep: c.sep}
	if cur.hasText() {
		c.lines = append(c.lines, cur)
		c.start, c.sep = len(c.segs), sep
	} else if c.sep == "" || sep == "hr" {
		c.sep = sep
	}
}

func (c *cellScanner) text(raw string) {
	if strings.IndexByte(raw, '&') >= 0 {
		raw = html.UnescapeString(raw)
	}
	s := segment{text: raw, tags: c.tags}
	if len(c.href) > 0 {
		s.href, s.aClass = c.href[len(c.href)-1], c.cls[len(c.cls)-1]
	}
	if len(c.span) > 0 {
		s.spanClass = c.span[len(c.span)-1]
	}
	c.segs = append(c.segs, s)
}

func (c *cellScanner) tag(t tag) {
	if c.withBars {
		c.bars.tag(t)
	}
	switch {
	case t.kind == kindOther:
	case t.kind.block():
		if !t.end || t.kind != kindBr {
			c.flush(blockNames[t.kind])
		}
	case t.end:
		c.closeInline(t.kind)
	case !t.selfClosing:
		c.openInline(t)
	}
}

func (c *cellScanner) openInline(t tag) {
	c.open = append(c.open, t.kind)
	c.tags |= t.kind.bit()
	switch t.kind {
	case kindA:
		c.href, c.cls = append(c.href, t.attr("href")), append(c.cls, t.attr("class"))
	case kindSpan:
		c.span = append(c.span, t.attr("class"))
	}
}

func (c *cellScanner) closeInline(kind tagKind) {
	for j := len(c.open) - 1; j >= 0; j-- {
		if c.open[j] == kind {
			c.open = append(c.open[:j], c.open[j+1:]...)
			break
		}
	}
	c.tags = 0
	for _, o := range c.open {
		c.tags |= o.bit()
	}
	switch kind {
	case kindA:
		if len(c.href) > 0 {
			c.href, c.cls = c.href[:len(c.href)-1], c.cls[:len(c.cls)-1]
		}
	case kindSpan:
		if len(c.span) > 0 {
			c.span = c.span[:len(c.span)-1]
		}
	}
}

// tag is one parsed tag: "a href=\"x\" class=k", "/a", "br/".
type tag struct {
	kind             tagKind
	end, selfClosing bool
	attrs            string
}

func parseTag(s string) tag {
	var t tag
	if strings.HasPrefix(s, "/") {
		t.end, s = true, s[1:]
	}
	if strings.HasSuffix(s, "/") {
		t.selfClosing, s = true, s[:len(s)-1]
	}
	n := 0
	for n < len(s) && s[n] != ' ' && s[n] != '\t' && s[n] != '\n' && s[n] != '\r' {
		n++
	}
	t.kind, t.attrs = kindOf(s[:n]), s[n:]
	return t
}

// attr returns the value of an attribute of the tag, quoted or not.
func (t tag) attr(name string) string {
	s := t.attrs
	for {
		i := strings.Index(s, name)
		if i < 0 {
			return ""
		}
		before := i == 0 || s[i-1] == ' ' || s[i-1] == '\t' || s[i-1] == '\n'
		rest := strings.TrimLeft(s[i+len(name):], " ")
		if !before || !strings.HasPrefix(rest, "=") {
			s = s[i+len(name):]
			continue
		}
		rest = strings.TrimLeft(rest[1:], " ")
		if rest == "" {
			return ""
		}
		if q := rest[0]; q == '"' || q == '\'' {
			if end := strings.IndexByte(rest[1:], q); end >= 0 {
				return html.UnescapeString(rest[1 : 1+end])
			}
			return html.UnescapeString(rest[1:])
		}
		end := strings.IndexAny(rest, " \t\n")
		if end < 0 {
			end = len(rest)
		}
		return html.UnescapeString(rest[:end])
	}
}

// lineTexts returns the text of each line.
func lineTexts(lines []line) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.text()
	}
	return out
}
