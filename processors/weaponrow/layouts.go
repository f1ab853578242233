package weaponrow

import (
	"bytes"
	"slices"
	"strings"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// colourName names the colour code of a bar's class (style.css of the site).
func colourName(code string) (string, bool) {
	switch code {
	case "r":
		return "red", true
	case "o":
		return "orange", true
	case "y":
		return "yellow", true
	case "g":
		return "green", true
	case "b":
		return "blue", true
	case "w":
		return "white", true
	case "p":
		return "purple", true
	case "s":
		return "sky", true
	}
	return "", false
}

// hornNoteColours names the note colours of a hunting horn (<span class="fw">♪</span>).
var hornNoteColours = map[string]string{
	"fr": "red", "fb": "blue", "fw": "white", "fy": "yellow", "fg": "green", "fa": "aqua",
	"fp": "purple",
}

// bars reads the sharpness bars of a cell (readBars, read by splitCell with its lines, in p.sc):
// a segment's length is the page's width in pixels, which is how the site draws the hits of
// each colour. The segments of all the bars share one array.
func (p *rowParser) bars(c codecs.RawCell) error {
	bars := p.sc.bars.bars
	if len(bars) == 0 {
		return nil
	}
	n := 0
	for _, bar := range bars {
		n += len(bar.segs)
	}
	all := make([]codecs.Sharpness, n)
	if p.w.Sharpness == nil {
		p.w.Sharpness = make([][]codecs.Sharpness, 0, len(bars))
	}
	var some [4]string
	titles := some[:0]
	for _, bar := range bars {
		if bar.title != "" {
			titles = append(titles, bar.title)
		}
		segs := all[:len(bar.segs):len(bar.segs)]
		all = all[len(bar.segs):]
		for i, s := range bar.segs {
			colour, ok := colourName(s.colour)
			if !ok {
				return p.fail(KindParse, c.Header, "unknown sharpness colour %q", s.colour)
			}
			segs[i] = codecs.Sharpness{Colour: colour, Hits: s.length}
		}
		p.w.Sharpness = append(p.w.Sharpness, segs)
	}
	p.extra("sharpness_title", strings.Join(titles, ","))
	return nil
}

// sharpness reads the bars and what the page writes under them: the gunlance's shelling, the
// switch axe's phial, the hunting horn's notes, the weapon length and the Zenith skill.
func (p *rowParser) sharpness(c codecs.RawCell, lines []line) error {
	if err := p.bars(c); err != nil {
		return err
	}
	for _, l := range lines {
		for _, s := range l.segs {
			if t := strings.TrimSpace(s.text); t != "" {
				p.sharpnessText(s, t)
			}
		}
	}
	return nil
}

// sharpnessText reads one piece of text t (segment s) under the sharpness bars.
func (p *rowParser) sharpnessText(s segment, t string) {
	switch {
	case s.has(tagSpan) && strings.HasPrefix(s.spanClass, "f"):
		colour, ok := hornNoteColours[s.spanClass]
		if !ok {
			colour = s.spanClass
		}
		p.w.HornNotes = append(p.w.HornNotes, colour)
		if s.href != "" && !strings.Contains(p.w.Extra["horn_notes_link"], s.href) {
			p.extra("horn_notes_link", s.href)
		}
	case p.zenith(t):
	case strings.HasPrefix(t, "Length"):
		p.extra("length", strings.TrimSpace(strings.TrimLeft(strings.TrimPrefix(t, "Length"), ":：")))
	case p.w.WeaponType == codecs.Gunlance && p.w.Shelling == "":
		p.w.Shelling = t
	case p.w.WeaponType == codecs.SwitchAxeF && p.w.Phial == "":
		p.w.Phial = t
	default:
		p.extra("sharpness_note", t)
	}
}

// gunStats reads a bowgun's "Slow<br>Small<br>Very Slow": reload, recoil, bullet speed.
func (p *rowParser) gunStats(lines []line) {
	texts := nonEmpty(lineTexts(lines))
	g := p.bowgun()
	for i, t := range texts {
		switch i {
		case 0:
			g.Reload = t
		case 1:
			g.Recoil = t
		case 2:
			g.BulletSpeed = t
		default:
			p.extra("gun_stats", t)
		}
	}
}

// ammo reads a bowgun's ammo table: one line per ammo, "Norm ：6/6/<u>9</u>", the capacity of
// each level ("-": not usable), underlined levels marked. Each line is read in p.sc's buffers
// (ammoLine) and the cell's ammo made at the end, in one array with one array of capacities:
// a line's text, its ammo and its capacities were three allocations of each line, and the ammo
// of the cell grew by appends.
func (p *rowParser) ammo(c codecs.RawCell, lines []line) error {
	g := p.bowgun()
	sc := p.sc
	sc.ammo, sc.levels = sc.ammo[:0], sc.levels[:0]
	for _, l := range lines {
		sc.line = p.appendMarkedLine(sc.line[:0], l)
		sc.folded = appendFoldWidth(sc.folded[:0], sc.line)
		p.ammoLine(sc.folded)
	}
	g.Ammo = sc.makeAmmo(g.Ammo)
	return nil
}

// ammoLine reads one line of the ammo table, its width folded and its underlined parts marked
// (appendMarkedLine): a Zenith skill, a note, the capacities of one ammo (into p.sc.ammo and
// p.sc.levels), or the ammo that can be rapid-fired ("Rapid Fire：LV2Normal S/LV1Pierce S").
func (p *rowParser) ammoLine(text []byte) {
	unmarked := bytes.Trim(text, marks)
	if bytes.HasPrefix(bytes.TrimSpace(unmarked), []byte("Zenith Skill")) && p.zenith(string(unmarked)) {
		return
	}
	colon := bytes.IndexByte(text, ':')
	if colon < 0 {
		if t := bytes.TrimSpace(unmarked); len(t) > 0 {
			p.extra("ammo_note", string(t))
		}
		return
	}
	name := bytes.TrimSpace(bytes.Trim(text[:colon], marks))
	values := text[colon+1:]
	sc := p.sc
	start := len(sc.levels)
	if !sc.readLevels(values) {
		sc.levels = sc.levels[:start]
		p.extra(elementKind(string(name)), string(bytes.ReplaceAll(bytes.ReplaceAll(values,
			[]byte("\x01"), nil), []byte("\x02"), nil)))
		return
	}
	sc.ammo = append(sc.ammo, ammoLine{name: sc.intern(name), end: len(sc.levels)})
}

// marks are the bytes appendMarkedLine puts around an underlined part.
const marks = "\x01\x02"

// ammoLine is one ammo of an ammo cell: its name, and where its levels end in cellScanner.levels
// (they start where the one before ends).
type ammoLine struct {
	name string
	end  int
}

// ammoLevel is one level of an ammo: its capacity (has: a number, not "-"), underlined or not.
type ammoLevel struct {
	capacity    int
	has, marked bool
}

// readLevels reads "6/6/\x019\x02" into c.levels: the capacity of each level of one ammo, "-"
// for none; false if one is neither.
func (c *cellScanner) readLevels(values []byte) bool {
	n := bytes.Count(values, []byte("/")) + 1
	for i := 0; i < n; i++ {
		v, rest, _ := bytes.Cut(values, []byte("/"))
		values = rest
		l := ammoLevel{marked: bytes.ContainsAny(v, marks)}
		v = bytes.TrimSpace(bytes.Trim(bytes.TrimSpace(v), marks))
		if string(v) != "-" {
			n, ok := atoiBytes(v)
			if !ok {
				return false
			}
			l.capacity, l.has = n, true
		}
		c.levels = append(c.levels, l)
	}
	return true
}

// makeAmmo appends the ammo of c.ammo and c.levels to dst.
func (c *cellScanner) makeAmmo(dst []codecs.Ammo) []codecs.Ammo {
	if len(c.levels) == 0 {
		return dst
	}
	n := 0
	for _, l := range c.levels {
		if l.has {
			n++
		}
	}
	capacities := make([]int, n)
	dst = slices.Grow(dst, len(c.levels))
	start := 0
	for _, a := range c.ammo {
		for i, l := range c.levels[start:a.end] {
			ammo := codecs.Ammo{Ammo: a.name, Level: i + 1, Marked: l.marked}
			if l.has {
				capacities[0] = l.capacity
				ammo.Capacity, capacities = &capacities[0], capacities[1:]
			}
			dst = append(dst, ammo)
		}
		start = a.end
	}
	return dst
}

// intern returns b as a string, the same string for the same bytes (the ammo's names, a few
// dozen, repeated in every bowgun row), up to a bound.
func (c *cellScanner) intern(b []byte) string {
	if s, ok := c.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if c.names == nil {
		c.names = make(map[string]string)
	}
	if len(c.names) < 1024 {
		c.names[s] = s
	}
	return s
}

// appendMarkedLine appends the text of an ammo line to dst with its underlined parts between
// \x01 and \x02; the Zenith skill is taken out.
func (p *rowParser) appendMarkedLine(dst []byte, l line) []byte {
	for _, s := range l.segs {
		if p.zenith(s.text) {
			continue
		}
		if s.has(tagU) {
			dst = append(append(append(dst, '\x01'), s.text...), '\x02')
		} else {
			dst = append(dst, s.text...)
		}
	}
	return dst
}

// charge reads a bow's charge stages, "1:RpdLV1<br>…<i>4:SprLV3</i>": italics are locked stages.
func (p *rowParser) charge(c codecs.RawCell, lines []line) error {
	b := p.bow()
	for _, l := range lines {
		for _, s := range l.segs {
			t := strings.TrimSpace(foldWidth(s.text))
			if t == "" || p.zenith(t) {
				continue
			}
			stage, rest, ok := strings.Cut(t, ":")
			shot, lv, ok2 := strings.Cut(rest, "LV")
			n, ok3 := atoi(stage)
			level, ok4 := atoi(lv)
			if !ok || !ok2 || !ok3 || !ok4 {
				p.extra("charge_note", t)
				continue
			}
			b.ChargeLevels = append(b.ChargeLevels, codecs.ChargeLevel{
				Stage: n, Shot: strings.TrimSpace(shot), Level: level, Locked: s.has(tagI)})
		}
	}
	return nil
}

// zenith takes "Zenith Skill：Skill Slots Up+1", which the site writes under the sharpness, the
// ammo or the charge stages of Zenith weapons, into ZenithSkill. A second one (no row has it)
// would follow the first on a line of its own, as Extra kept repeated values.
func (p *rowParser) zenith(text string) bool {
	rest, ok := strings.CutPrefix(strings.TrimSpace(text), "Zenith Skill")
	if !ok {
		return false
	}
	skill := strings.TrimSpace(strings.TrimLeft(rest, ":： "))
	switch {
	case skill == "":
	case p.w.ZenithSkill == "":
		p.w.ZenithSkill = skill
	default:
		p.w.ZenithSkill += "\n" + skill
	}
	return true
}
