package weaponrow

import "strings"

// bar is one sharpness bar as the page draws it: the title of its <ul>, and the colour code
// ("r", "o", …) and length (the width in pixels) of each <li>.
type bar struct {
	title string
	segs  []barSegment
}

type barSegment struct {
	colour string
	length int
}

// readBars reads the sharpness bars of a cell's inner HTML: each <ul> with its <li class="COLOUR
// sLENGTH"> segments. A <ul> without a segment is no bar; an <li> whose class does not read as a
// segment is skipped (the scraper reports it, IssueBadSharpness); a <ul> opened while another is
// open replaces it. Schema-1 raw records carried the bars the scraper read this way with
// x/net/html's tokenizer; the processor reads them from the HTML of every record with its own
// small scan, which reads the site's markup the same (every record of both snapshots, checked)
// but not every HTML a tokenizer reads: an attribute value holding ">" ends the tag early, and
// attribute names are matched in lower case only.
func readBars(fragment string) []bar {
	var c cellScanner
	c.splitCell(fragment, true)
	if len(c.bars.bars) == 0 {
		return nil
	}
	return c.bars.bars
}

// barReader is the state of readBars: the bars so far and the open one (the segments of every
// bar share one array). Its buffers are reused from one cell to the next (cellScanner.bars).
type barReader struct {
	bars  []bar
	segs  []barSegment
	title string // of the open bar
	open  bool   // a bar is open: its segments start at start in segs
	start int
}

func (r *barReader) reset() {
	clear(r.bars)
	clear(r.segs)
	r.bars, r.segs, r.title, r.open, r.start = r.bars[:0], r.segs[:0], "", false, 0
}

func (r *barReader) tag(t tag) {
	switch {
	case t.kind == kindUl && t.end:
		r.closeBar()
	case t.kind == kindUl:
		r.title, r.start, r.open = t.attr("title"), len(r.segs), true
	case t.kind == kindLi && !t.end && r.open:
		if seg, ok := parseSegment(t.attr("class")); ok {
			r.segs = append(r.segs, seg)
		}
	}
}

func (r *barReader) closeBar() {
	if r.open && len(r.segs) > r.start {
		r.bars = append(r.bars, bar{title: r.title, segs: r.segs[r.start:len(r.segs):len(r.segs)]})
	}
	r.open = false
}

// parseSegment reads a sharpness segment from a class like "g s20": a colour code and "s" with
// the length.
func parseSegment(class string) (barSegment, bool) {
	class = strings.TrimSpace(class)
	i := strings.IndexAny(class, " \t\n\r\f")
	if i <= 0 {
		return barSegment{}, false
	}
	code, size := class[:i], strings.TrimSpace(class[i:])
	if len(size) < 2 || len(size) > 7 || size[0] != 's' {
		return barSegment{}, false
	}
	n := 0
	for _, d := range []byte(size[1:]) {
		if d < '0' || d > '9' {
			return barSegment{}, false
		}
		n = n*10 + int(d-'0')
	}
	return barSegment{colour: code, length: n}, true
}
