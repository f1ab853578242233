package weaponrow

import (
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
// each level ("-": not usable), underlined levels marked.
func (p *rowParser) ammo(c codecs.RawCell, lines []line) error {
	g := p.bowgun()
	var b strings.Builder
	for _, l := range lines {
		text := foldWidth(p.markedLine(&b, l))
		if p.zenith(strings.Trim(text, "\x01\x02")) {
			continue
		}
		name, values, ok := strings.Cut(text, ":")
		if !ok {
			if t := strings.TrimSpace(strings.Trim(text, "\x01\x02")); t != "" {
				p.extra("ammo_note", t)
			}
			continue
		}
		name = strings.TrimSpace(strings.Trim(name, "\x01\x02"))
		ammo, ok := ammoLevels(name, values)
		if !ok { // "Rapid Fire：LV2Normal S/LV1Pierce S": the ammo that can be rapid-fired
			p.extra(elementKind(name), unmark.Replace(values))
			continue
		}
		g.Ammo = append(g.Ammo, ammo...)
	}
	return nil
}

// unmark drops the marks of markedLine.
var unmark = strings.NewReplacer("\x01", "", "\x02", "")

// markedLine returns the text of an ammo line with its underlined parts between \x01 and \x02,
// built in b (reset first); the Zenith skill is taken out.
func (p *rowParser) markedLine(b *strings.Builder, l line) string {
	n := 0
	for _, s := range l.segs {
		n += len(s.text) + 2
	}
	b.Reset()
	b.Grow(n)
	for _, s := range l.segs {
		if p.zenith(s.text) {
			continue
		}
		if s.has(tagU) {
			b.WriteByte('\x01')
			b.WriteString(s.text)
			b.WriteByte('\x02')
		} else {
			b.WriteString(s.text)
		}
	}
	return b.String()
}

// ammoLevels reads "6/6/\x019\x02": the capacity of each level of one ammo, "-" for none.
func ammoLevels(name, values string) ([]codecs.Ammo, bool) {
	n := strings.Count(values, "/") + 1
	out := make([]codecs.Ammo, 0, n)
	capacities := make([]int, 0, n) // one allocation for the capacities of the line
	for i := 0; i < n; i++ {
		v, rest, _ := strings.Cut(values, "/")
		values = rest
		marked := strings.ContainsAny(v, "\x01\x02")
		v = strings.TrimSpace(strings.Trim(strings.TrimSpace(v), "\x01\x02"))
		a := codecs.Ammo{Ammo: name, Level: i + 1, Marked: marked}
		if v != "-" {
			c, ok := atoi(v)
			if !ok {
				return nil, false
			}
			capacities = append(capacities, c)
			a.Capacity = &capacities[len(capacities)-1]
		}
		out = append(out, a)
	}
	return out, true
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
