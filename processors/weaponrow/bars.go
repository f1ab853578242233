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
	r := barReader{segs: make([]barSegment, 0, 16), start: -1}
	eachTag(fragment, r.tag)
	r.closeBar()
	return r.bars
}

// barReader is the state of readBars: the bars so far and the open one (the segments of every
// bar share one array: two allocations per cell, for about a million segments per snapshot).
type barReader struct {
	bars  []bar
	segs  []barSegment
	title string // of the open bar
	start int    // where the open bar's segments start in segs; -1: no bar open
}

func (r *barReader) tag(t tag) {
	switch {
	case t.name == "ul" && t.end:
		r.closeBar()
	case t.name == "ul":
		r.title, r.start = t.attr("title"), len(r.segs)
	case t.name == "li" && !t.end && r.start >= 0:
		if seg, ok := parseSegment(t.attr("class")); ok {
			r.segs = append(r.segs, seg)
		}
	}
}

func (r *barReader) closeBar() {
	if r.start >= 0 && len(r.segs) > r.start {
		if r.bars == nil {
			r.bars = make([]bar, 0, 2)
		}
		r.bars = append(r.bars, bar{title: r.title, segs: r.segs[r.start:len(r.segs):len(r.segs)]})
	}
	r.start = -1
}

// eachTag calls fn with each tag of a fragment, in order, comments skipped; it stops at an
// unclosed comment or a truncated tag.
func eachTag(fragment string, fn func(tag)) {
	for i := 0; i < len(fragment); {
		lt := strings.IndexByte(fragment[i:], '<')
		if lt < 0 {
			return
		}
		s := fragment[i+lt:]
		if strings.HasPrefix(s, "<!--") {
			end := strings.Index(s, "-->")
			if end < 0 {
				return
			}
			i += lt + end + 3
			continue
		}
		gt := strings.IndexByte(s, '>')
		if gt < 0 {
			return
		}
		fn(parseTag(s[1:gt]))
		i += lt + gt + 1
	}
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
