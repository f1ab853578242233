package weaponrow

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

func itoa(i int) string { return strconv.Itoa(i) }

// atoi parses a decimal integer, with an optional sign; full-width digits are folded.
func atoi(s string) (int, bool) {
	s = strings.TrimSpace(foldWidth(s))
	if s == "" {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, "+"))
	return n, err == nil
}

// atoiBytes is atoi of bytes whose width is folded.
func atoiBytes(b []byte) (int, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0, false
	}
	n, err := strconv.Atoi(string(bytes.TrimPrefix(b, []byte("+"))))
	return n, err == nil
}

// foldWidth turns full-width ASCII (０-９, Ａ-Ｚ, ＋, ：) into ASCII and the ideographic space into
// a space: the Japanese cells use both widths.
func foldWidth(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	return strings.Map(foldWidthRune, s)
}

func foldWidthRune(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		return r - 0xFF01 + '!'
	case r == 0x3000:
		return ' '
	}
	return r
}

// appendFoldWidth appends src to dst with its width folded (foldWidth; bytes that are not UTF-8
// become U+FFFD, as strings.Map makes them).
func appendFoldWidth(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		if c := src[i]; c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		dst = utf8.AppendRune(dst, foldWidthRune(r))
		i += size
	}
	return dst
}

// intPtr returns a pointer to n: the numbers of a weapon share arrays of 8 (each was an
// allocation of its own).
func (p *rowParser) intPtr(n int) *int {
	if len(p.ints) == cap(p.ints) {
		p.ints = make([]int, 0, 8)
	}
	p.ints = append(p.ints, n)
	return &p.ints[len(p.ints)-1]
}

// optInt parses a cell holding one number or nothing.
func (p *rowParser) optInt(c codecs.RawCell, lines []line) (*int, error) {
	texts := nonEmpty(lineTexts(lines))
	if len(texts) == 0 || (len(texts) == 1 && texts[0] == "-") {
		return nil, nil
	}
	n, ok := atoi(texts[0])
	if !ok {
		return nil, p.fail(KindParse, c.Header, "%q is not a number", texts[0])
	}
	if len(texts) > 1 {
		p.extra(extraKey(c.Header, 0), strings.Join(texts[1:], "\n"))
	}
	return p.intPtr(n), nil
}

// name reads "Name", its level ("<b>Lv2</b>"), its note ("<p>天廊武器</p>") and the upgrade tree
// (links "Parent←" and "→Child" in a <div>).
func (p *rowParser) name(c codecs.RawCell, lines []line) error {
	var name, notes []string
	for li, l := range lines {
		for _, s := range l.segs {
			switch {
			case s.has(tagA):
				if err := p.treeLink(c, s); err != nil {
					return err
				}
			case s.has(tagB) && p.level(s.text):
			case li == 0 && l.sep == "":
				name = append(name, s.text)
			default:
				notes = append(notes, strings.TrimSpace(s.text))
			}
		}
	}
	p.w.Name = strings.TrimSpace(strings.Join(name, ""))
	p.extra("name_note", strings.Join(nonEmpty(notes), "\n"))
	return nil
}

// level takes "Lv12" as the record's level; anything else is not a level.
func (p *rowParser) level(text string) bool {
	t := strings.TrimSpace(text)
	if len(t) < 3 || !strings.EqualFold(t[:2], "lv") {
		return false
	}
	n, ok := atoi(t[2:])
	if !ok {
		return false
	}
	p.w.Level = p.intPtr(n)
	return true
}

// treeLink reads one link of the upgrade tree: "　Parent←" is where the weapon comes from,
// "→Child" where it leads.
func (p *rowParser) treeLink(c codecs.RawCell, s segment) error {
	text := strings.TrimSpace(foldWidth(s.text))
	page, row, _ := strings.Cut(s.href, "#")
	ref := codecs.WeaponRef{Page: page, RowID: row}
	switch {
	case strings.HasSuffix(text, "←"):
		ref.Name = strings.TrimSpace(strings.TrimSuffix(text, "←"))
		p.w.UpgradeFrom = append(p.w.UpgradeFrom, ref)
	case strings.HasPrefix(text, "→"):
		ref.Name = strings.TrimSpace(strings.TrimPrefix(text, "→"))
		p.w.UpgradeTo = append(p.w.UpgradeTo, ref)
	default:
		p.extra("name_link", text+" "+s.href)
	}
	return nil
}

// rarity reads "7" or "12<b>GR</b>1" (rarity 12, G rank 1).
func (p *rowParser) rarity(c codecs.RawCell, lines []line) error {
	text := strings.Join(lineTexts(lines), "")
	if text == "" {
		return nil
	}
	r, g, hasG := strings.Cut(text, "GR")
	n, ok := atoi(r)
	if !ok {
		return p.fail(KindParse, c.Header, "rarity %q is not a number", text)
	}
	p.w.Rarity = p.intPtr(n)
	if hasG {
		gr, ok := atoi(g)
		if !ok {
			return p.fail(KindParse, c.Header, "G rank in %q is not a number", text)
		}
		p.w.GRank = p.intPtr(gr)
	}
	return nil
}

// attributes reads "768 10%" (attack, affinity), then one line per element or status
// ("Fire 120", "毒 200"), a defense bonus ("Defense +18", "Def -200") and, on bow pages, the arc
// shot ("Wide").
func (p *rowParser) attributes(c codecs.RawCell, lines []line) error {
	texts := nonEmpty(lineTexts(lines))
	if len(texts) == 0 {
		return nil
	}
	atk, aff, hasAff := strings.Cut(texts[0], " ")
	n, ok := atoi(atk)
	if !ok {
		return p.fail(KindParse, c.Header, "attack %q is not a number", texts[0])
	}
	p.w.Attack = p.intPtr(n)
	if hasAff {
		a, ok := atoi(strings.TrimSuffix(strings.TrimSpace(aff), "%"))
		if !ok {
			return p.fail(KindParse, c.Header, "affinity %q is not a percentage", aff)
		}
		p.w.Affinity = p.intPtr(a)
	}
	for _, t := range texts[1:] {
		label, value, ok := cutLastField(t)
		v, isNum := atoi(value)
		switch {
		case ok && isNum && (label == "Defense" || label == "Def"):
			p.w.Defense = p.intPtr(v)
		case ok && isNum:
			p.w.Elements = append(p.w.Elements, codecs.Element{Kind: p.sc.elementKind(label), Value: v})
		case p.raw.Layout == codecs.LayoutBow && (p.w.Bow == nil || p.w.Bow.ArcShot == ""):
			p.bow().ArcShot = t
		default:
			p.extra(extraKey(c.Header, 0), t)
		}
	}
	return nil
}

// cutLastField splits "Thunder Pole 120" into "Thunder Pole" and "120".
func cutLastField(s string) (string, string, bool) {
	i := strings.LastIndexByte(s, ' ')
	if i < 0 {
		return s, "", false
	}
	return strings.TrimSpace(s[:i]), s[i+1:], true
}

// elementKinds names the Japanese labels of the site in English, as its English cells do.
var elementKinds = map[string]string{
	"毒": "poison", "麻痺": "para", "睡眠": "sleep", "爆破": "blast", "火": "fire", "水": "water",
	"雷": "thunder", "氷": "ice", "龍": "dragon",
}

// elementKind names an element or status: lower case, words joined by "_" ("thunder_pole").
func elementKind(label string) string {
	if k, ok := elementKinds[label]; ok {
		return k
	}
	label = strings.ToLower(strings.TrimSpace(label))
	label = strings.ReplaceAll(label, "'", "")
	return strings.Join(strings.Fields(label), "_")
}

// elementKind is elementKind(label), the same string for the same label (a weapon's elements
// are a few dozen labels, each made in three allocations), up to a bound.
func (c *cellScanner) elementKind(label string) string {
	if k, ok := c.kinds[label]; ok {
		return k
	}
	k := elementKind(label)
	if c.kinds == nil {
		c.kinds = make(map[string]string)
	}
	if len(c.kinds) < 1024 { // copies: a message is not kept for them
		k = strings.Clone(k)
		c.kinds[strings.Clone(label)] = k
	}
	return k
}

// rank reads "HR<br>31", "GR<br>100", "HR<br>" (no level) or "-" (no requirement).
func (p *rowParser) rank(c codecs.RawCell, lines []line) error {
	texts := nonEmpty(lineTexts(lines))
	if len(texts) == 0 || (len(texts) == 1 && texts[0] == "-") {
		return nil
	}
	system, level := texts[0], ""
	if len(texts) > 1 {
		level = texts[1]
	} else if s, l, ok := cutLastField(system); ok {
		system, level = s, l
	}
	r := &codecs.Rank{System: system}
	if level != "" {
		n, ok := atoi(level)
		if !ok {
			return p.fail(KindParse, c.Header, "rank level %q is not a number", level)
		}
		r.Level = p.intPtr(n)
	}
	p.w.Rank = r
	if len(texts) > 2 {
		p.extra("rank_note", strings.Join(texts[2:], "\n"))
	}
	return nil
}

// price reads the price, then (G-rank layouts) the price at 60%, then where the weapon comes from
// ("Gacha", "Festival").
func (p *rowParser) price(c codecs.RawCell, lines []line, g bool) error {
	texts := nonEmpty(lineTexts(lines))
	if len(texts) == 0 {
		return nil
	}
	n, ok := atoi(texts[0])
	if !ok {
		p.extra("price_note", texts[0]) // "Not Craftable" and the like: no price
	} else {
		p.w.Price = p.intPtr(n)
	}
	rest := texts[1:]
	if g && len(rest) > 0 && lines[1].sep == "hr" {
		p.extra("price_60", rest[0])
		rest = rest[1:]
	}
	p.extra("source", strings.Join(rest, "\n"))
	return nil
}

// materials reads a recipe cell: one item per line ("<a href=…?ID class=k>Name</a>x3"), "or"
// between alternatives. Lines that are not items ("Not Craftable", "なし") are kept in Extra.
// The recipes' items share one array, sized first (each grew by appends).
func (p *rowParser) materials(c codecs.RawCell, lines []line, field string) ([][]codecs.Material, error) {
	var recipes [][]codecs.Material
	var some [2]string
	notes := some[:0]
	all := make([]codecs.Material, 0, itemLinks(lines))
	for _, l := range lines {
		if l.isOr() {
			if len(all) > 0 {
				recipes = append(recipes, all[:len(all):len(all)])
			}
			all = all[len(all):]
			continue
		}
		var rest string
		var err error
		if all, rest, err = p.items(c, l, all); err != nil {
			return nil, err
		}
		if rest != "" {
			notes = append(notes, rest)
		}
	}
	if len(all) > 0 {
		recipes = append(recipes, all[:len(all):len(all)])
	}
	p.extra(field+"_note", strings.Join(notes, "\n"))
	return recipes, nil
}

// itemLinks counts the segments of lines in a link: as many as the items they can hold, at most.
func itemLinks(lines []line) int {
	n := 0
	for _, l := range lines {
		for _, s := range l.segs {
			if s.has(tagA) {
				n++
			}
		}
	}
	return n
}

// items appends the items of one line to dst: each link to an item page, with the quantity
// after it ("x3"). The text that is not an item is returned as rest.
func (p *rowParser) items(c codecs.RawCell, l line, dst []codecs.Material) ([]codecs.Material, string, error) {
	var some [4]string
	rest := some[:0]
	for i := 0; i < len(l.segs); i++ {
		s := l.segs[i]
		_, id, isItem := strings.Cut(s.href, "?")
		if !s.has(tagA) || !isItem {
			rest = append(rest, s.text)
			continue
		}
		m := codecs.Material{ItemID: id, Name: strings.TrimSpace(s.text), Key: s.aClass == "k"}
		// The quantity follows the link: "x3".
		for i+1 < len(l.segs) && !l.segs[i+1].has(tagA) {
			i++
			q := strings.TrimSpace(foldWidth(l.segs[i].text))
			if n, ok := quantity(q); ok && m.Quantity == 0 {
				m.Quantity = n
				continue
			}
			rest = append(rest, l.segs[i].text)
		}
		if m.Quantity == 0 {
			return nil, "", p.fail(KindParse, c.Header, "item %q (%s) has no quantity", m.Name, m.ItemID)
		}
		dst = append(dst, m)
	}
	return dst, strings.TrimSpace(strings.Join(rest, "")), nil
}

// quantity reads "x3" (or "×3").
func quantity(s string) (int, bool) {
	for _, prefix := range []string{"x", "X", "×"} {
		if q, ok := strings.CutPrefix(s, prefix); ok {
			n, ok := atoi(q)
			return n, ok && n > 0
		}
	}
	return 0, false
}
