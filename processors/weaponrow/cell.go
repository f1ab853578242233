package weaponrow

import (
	"strings"

	"golang.org/x/net/html"
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

var inlineTags = map[string]tagSet{
	"a": tagA, "b": tagB, "s": tagS, "u": tagU, "i": tagI, "small": tagSmall, "em": tagEm,
	"q": tagQ, "span": tagSpan,
}

// blockTags start a new line of a cell: the site separates the parts of a cell with them.
var blockTags = map[string]bool{"br": true, "hr": true, "p": true, "li": true, "div": true, "ul": true}

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
	var b strings.Builder
	for _, s := range l.segs {
		b.WriteString(s.text)
	}
	return strings.TrimSpace(b.String())
}

// splitCell cuts a cell's inner HTML into its non-empty lines. The raw record keeps the HTML as
// served, so the parser reads the structure (links, underlines, italics) from it rather than from
// the scraper's flattened text.
func splitCell(fragment string) []line {
	if !strings.ContainsRune(fragment, '<') && !strings.ContainsRune(fragment, '&') {
		if strings.TrimSpace(fragment) == "" {
			return nil
		}
		return []line{{segs: []segment{{text: fragment}}}}
	}
	var c cellScanner
	c.scan(fragment)
	c.flush("")
	return c.lines
}

// cellScanner is the state of splitCell: the lines so far, the current one, and the inline
// elements open at this point.
type cellScanner struct {
	lines []line
	cur   line
	tags  tagSet
	open  []string // stack of open inline tags, to undo them on their end tag
	href  []string
	cls   []string
	span  []string
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

func (c *cellScanner) flush(sep string) {
	if c.cur.text() != "" {
		c.lines = append(c.lines, c.cur)
		c.cur = line{sep: sep}
	} else if c.cur.sep == "" || sep == "hr" {
		c.cur.sep = sep
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
	c.cur.segs = append(c.cur.segs, s)
}

func (c *cellScanner) tag(t tag) {
	if t.name == "" {
		return
	}
	if blockTags[t.name] {
		if !t.end || t.name != "br" {
			c.flush(t.name)
		}
		return
	}
	bit, ok := inlineTags[t.name]
	switch {
	case !ok:
	case t.end:
		c.closeInline(t.name)
	case !t.selfClosing:
		c.openInline(t, bit)
	}
}

func (c *cellScanner) openInline(t tag, bit tagSet) {
	c.open = append(c.open, t.name)
	c.tags |= bit
	switch t.name {
	case "a":
		c.href, c.cls = append(c.href, t.attr("href")), append(c.cls, t.attr("class"))
	case "span":
		c.span = append(c.span, t.attr("class"))
	}
}

func (c *cellScanner) closeInline(name string) {
	for j := len(c.open) - 1; j >= 0; j-- {
		if c.open[j] == name {
			c.open = append(c.open[:j], c.open[j+1:]...)
			break
		}
	}
	c.tags = 0
	for _, o := range c.open {
		c.tags |= inlineTags[o]
	}
	switch name {
	case "a":
		if len(c.href) > 0 {
			c.href, c.cls = c.href[:len(c.href)-1], c.cls[:len(c.cls)-1]
		}
	case "span":
		if len(c.span) > 0 {
			c.span = c.span[:len(c.span)-1]
		}
	}
}

// tag is one parsed tag: "a href=\"x\" class=k", "/a", "br/".
type tag struct {
	name             string
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
	t.name, t.attrs = strings.ToLower(s[:n]), s[n:]
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
