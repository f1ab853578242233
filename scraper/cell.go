package scraper

import (
	"bytes"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// cellBuilder collects one <td> (or <th>) as the tokenizer walks through it.
//
// Links and marks remember where their text starts in the cell's text buffer and take their
// text from it when they close, so that text is gathered once for all of them.
type cellBuilder struct {
	cell      codecs.RawCell
	isHeader  bool // a <th>
	htmlStart int  // offset in the page of the first byte after the opening tag
	text      []byte
	pendingNL bool // a block boundary was crossed: a "\n" goes before the next text
	link      int  // index in cell.Links of the open <a>, or -1
	linkStart int  // offset in text where the open link's text starts
	marks     []openMark
	openMarks [len(markTags)]int   // open marks per tag, so that a stray end tag costs nothing
	bar       *codecs.SharpnessBar // the open <ul>, a sharpness bar if it gets segments
	badSharp  []string             // li classes that looked like sharpness but did not parse
	blockB    bool                 // <b> is a block element (everywhere but the tower tables)
}

type openMark struct {
	index int // in cell.Marks
	tag   string
	start int // offset in text
}

func (c *cellBuilder) reset(isHeader bool, htmlStart int, blockB bool) {
	text, marks := c.text[:0], c.marks[:0]
	*c = cellBuilder{isHeader: isHeader, htmlStart: htmlStart, text: text, link: -1, marks: marks,
		blockB: blockB}
}

// markTags are the inline elements that carry meaning on this site (see codecs.RawCell.Marks).
var markTags = [...]string{"b", "s", "u", "i", "small", "em", "p", "span", "q"}

// maxOpenMarks bounds the nesting of marks: the site nests two at most, and a hostile page
// nesting thousands would make closing them quadratic.
const maxOpenMarks = 16

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

// newline writes a pending line break now (before a link or mark starts, so that its text
// does not begin with it).
func (c *cellBuilder) flushNL() {
	if c.pendingNL {
		if n := len(c.text); n > 0 && c.text[n-1] != '\n' {
			c.text = append(c.text, '\n')
		}
		c.pendingNL = false
	}
}

func (c *cellBuilder) addText(t []byte) {
	if len(t) == 0 {
		return
	}
	c.flushNL()
	c.text = append(c.text, t...)
}

// start handles an opening tag inside the cell.
func (c *cellBuilder) start(name string, a *tagAttrs, selfClosing bool) {
	switch name {
	case "br", "hr":
		// A <br> is always a line break, even a repeated one.
		if len(c.text) > 0 {
			c.pendingNL = false
			c.text = append(c.text, '\n')
		}
		return
	case "a":
		c.closeLink()
		c.flushNL()
		c.cell.Links = append(c.cell.Links, codecs.Link{Href: a.href, Class: a.class})
		c.link, c.linkStart = len(c.cell.Links)-1, len(c.text)
		return
	case "ul":
		c.boundary()
		c.bar = &codecs.SharpnessBar{Title: a.title}
		return
	case "li":
		c.boundary()
		if c.bar != nil && len(a.rawClass) > 0 {
			c.addSegment(a.rawClass)
		}
		return
	}
	if c.blockTag(name) {
		c.boundary()
	}
	if m := markTag(name); m >= 0 && !selfClosing && len(c.marks) < maxOpenMarks {
		c.openMarks[m]++
		c.flushNL()
		c.cell.Marks = append(c.cell.Marks, codecs.Mark{Tag: name, Class: a.class})
		c.marks = append(c.marks, openMark{index: len(c.cell.Marks) - 1, tag: name, start: len(c.text)})
	}
}

// addSegment reads a sharpness segment from a class like "g s20": a colour code and "s" with
// the length.
func (c *cellBuilder) addSegment(class []byte) {
	colour, length, ok := parseSegment(class)
	if !ok {
		c.badSharp = append(c.badSharp, string(class))
		return
	}
	c.bar.Segments = append(c.bar.Segments, codecs.SharpnessSegment{Colour: colour, Length: length})
}

// colours interns the colour codes of the site, so that a million segments share them.
var colours = map[string]string{"r": "r", "o": "o", "y": "y", "g": "g", "b": "b", "w": "w", "p": "p", "s": "s"}

func parseSegment(class []byte) (string, int, bool) {
	class = bytes.TrimSpace(class)
	i := bytes.IndexAny(class, " \t\n\r\f")
	if i <= 0 {
		return "", 0, false
	}
	code, size := class[:i], bytes.TrimSpace(class[i:])
	if len(size) < 2 || len(size) > 7 || size[0] != 's' {
		return "", 0, false
	}
	n := 0
	for _, d := range size[1:] {
		if d < '0' || d > '9' {
			return "", 0, false
		}
		n = n*10 + int(d-'0')
	}
	colour, ok := colours[string(code)]
	if !ok {
		colour = string(code)
	}
	return colour, n, true
}

// end handles a closing tag inside the cell.
func (c *cellBuilder) end(name string) {
	switch name {
	case "a":
		c.closeLink()
		return
	case "ul":
		c.closeBar()
		c.boundary()
		return
	}
	if m := markTag(name); m >= 0 && c.openMarks[m] > 0 {
		// Close the innermost open mark of this tag (and any left open inside it).
		for i := len(c.marks) - 1; i >= 0; i-- {
			if c.marks[i].tag == name {
				for j := len(c.marks) - 1; j >= i; j-- {
					c.closeMark(c.marks[j])
				}
				c.marks = c.marks[:i]
				break
			}
		}
	}
	if c.blockTag(name) {
		c.boundary()
	}
}

func (c *cellBuilder) closeLink() {
	if c.link < 0 {
		return
	}
	c.cell.Links[c.link].Text = cleanText(c.text[c.linkStart:])
	c.link = -1
}

func (c *cellBuilder) closeMark(m openMark) {
	c.openMarks[markTag(m.tag)]--
	c.cell.Marks[m.index].Text = cleanText(c.text[m.start:])
}

func (c *cellBuilder) closeBar() {
	if c.bar != nil && len(c.bar.Segments) > 0 {
		c.cell.Sharpness = append(c.cell.Sharpness, *c.bar)
	}
	c.bar = nil
}

// finish closes whatever the cell left open and returns it; html is the cell's inner HTML.
func (c *cellBuilder) finish(html []byte) codecs.RawCell {
	c.closeLink()
	for j := len(c.marks) - 1; j >= 0; j-- {
		c.closeMark(c.marks[j])
	}
	c.marks = c.marks[:0]
	c.closeBar()
	c.cell.Text = cleanText(c.text)
	c.cell.HTML = string(html)
	c.dropEmptyMarks()
	return c.cell
}

// dropEmptyMarks removes marks with neither text nor class: the site's empty <p></p>
// separators, whose only meaning (a line break) is already in the text.
func (c *cellBuilder) dropEmptyMarks() {
	marks := c.cell.Marks[:0]
	for _, m := range c.cell.Marks {
		if m.Text != "" || m.Class != "" {
			marks = append(marks, m)
		}
	}
	if len(marks) == 0 {
		marks = nil
	}
	c.cell.Marks = marks
}

// cleanText trims the spaces and line breaks around a text (ASCII and the ideographic space
// the site uses to indent).
func cleanText(b []byte) string {
	return string(bytes.TrimSpace(b))
}
