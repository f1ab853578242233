package scraper

import (
	"bytes"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// cellBuilder collects one <td> (or <th>) as the tokenizer walks through it: its attributes and
// the span of its inner HTML. The scraper does not interpret the cells of weapon rows (the
// processor reads their HTML); it reads the text of header cells only (the column names every
// cell is filed under), and checks the sharpness bars' classes to report the ones that do not
// parse (IssueBadSharpness).
type cellBuilder struct {
	cell      codecs.RawCell
	isHeader  bool // a <th>
	htmlStart int  // offset in the page of the first byte after the opening tag
	text      []byte
	pendingNL bool     // a block boundary was crossed: a "\n" goes before the next text
	inBar     bool     // inside a <ul>: its <li> classes are sharpness segments
	badSharp  []string // li classes that looked like sharpness but did not parse
	blockB    bool     // <b> is a block element (everywhere but the tower tables)
}

func (c *cellBuilder) reset(isHeader bool, htmlStart int, blockB bool) {
	text := c.text[:0]
	*c = cellBuilder{isHeader: isHeader, htmlStart: htmlStart, text: text, blockB: blockB}
}

// markTags are the inline elements that carry meaning on this site: a line break before one is
// written when it opens, as the text of a header cell has always been cut.
var markTags = [...]string{"b", "s", "u", "i", "small", "em", "p", "span", "q"}

// markTag returns the index of a mark tag in markTags, or -1.
func markTag(name string) int {
	for i, m := range markTags {
		if m == name {
			return i
		}
	}
	return -1
}

// blockTag reports whether the element starts a new line where the site shows it: the usual
// block elements, and those the site's style sheet displays as blocks (b outside the tower
// tables, i, q).
func (c *cellBuilder) blockTag(name string) bool {
	switch name {
	case "br", "hr", "p", "div", "li", "ul", "ol", "q", "i", "table", "tr":
		return true
	case "b":
		return c.blockB
	}
	return false
}

func (c *cellBuilder) boundary() {
	if len(c.text) > 0 {
		c.pendingNL = true
	}
}

// flushNL writes a pending line break now (before a link or mark starts).
func (c *cellBuilder) flushNL() {
	if c.pendingNL {
		if n := len(c.text); n > 0 && c.text[n-1] != '\n' {
			c.text = append(c.text, '\n')
		}
		c.pendingNL = false
	}
}

// addText adds text of the cell: kept for a header cell only.
func (c *cellBuilder) addText(t []byte) {
	if len(t) == 0 || !c.isHeader {
		return
	}
	c.flushNL()
	c.text = append(c.text, t...)
}

// start handles an opening tag inside the cell.
func (c *cellBuilder) start(name string, a *tagAttrs, selfClosing bool) {
	switch name {
	case "ul":
		c.inBar = true
	case "li":
		if c.inBar && len(a.rawClass) > 0 && !validSegment(a.rawClass) {
			c.badSharp = append(c.badSharp, string(a.rawClass))
		}
	}
	if c.isHeader {
		c.headerStart(name, selfClosing)
	}
}

// headerStart cuts the text of a header cell at an opening tag.
func (c *cellBuilder) headerStart(name string, selfClosing bool) {
	switch {
	case name == "br" || name == "hr":
		// A <br> is always a line break, even a repeated one.
		if len(c.text) > 0 {
			c.pendingNL = false
			c.text = append(c.text, '\n')
		}
	case name == "a":
		c.flushNL()
	case name == "ul" || name == "li":
		c.boundary()
	default:
		if c.blockTag(name) {
			c.boundary()
		}
		if !selfClosing && markTag(name) >= 0 {
			c.flushNL()
		}
	}
}

// validSegment reports whether the class of a sharpness bar's <li> reads as a segment: a colour
// code and "s" with the length ("g s20"), as the processor reads it.
func validSegment(class []byte) bool {
	class = bytes.TrimSpace(class)
	i := bytes.IndexAny(class, " \t\n\r\f")
	if i <= 0 {
		return false
	}
	size := bytes.TrimSpace(class[i:])
	if len(size) < 2 || len(size) > 7 || size[0] != 's' {
		return false
	}
	for _, d := range size[1:] {
		if d < '0' || d > '9' {
			return false
		}
	}
	return true
}

// end handles a closing tag inside the cell.
func (c *cellBuilder) end(name string) {
	if name == "ul" {
		c.inBar = false
	}
	if c.isHeader && c.blockTag(name) {
		c.boundary()
	}
}

// finish returns the cell, html being its inner HTML, and the text of a header cell ("" for
// another cell).
func (c *cellBuilder) finish(html string) (codecs.RawCell, string) {
	c.cell.HTML = html
	return c.cell, cleanText(c.text)
}

// cleanText trims the spaces and line breaks around a text (ASCII and the ideographic space
// the site uses to indent).
func cleanText(b []byte) string {
	return string(bytes.TrimSpace(b))
}
