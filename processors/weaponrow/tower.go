package weaponrow

import (
	"strings"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// parseTower parses a row of the tower layout (tenrou, Japanese headers). Each row is one level
// of a tower weapon (回数: "-" for the weapon as found, then 1, 2, …); each stat column (攻撃力,
// 会心, ゲージ, 属性, 砲撃LV, 溜LV, 装填, 反動, その他) is followed by the cost of raising it one
// step ("コスト / 強化素材": the cost, the running total "(計N)" and the materials). The status
// columns (毒 / コスト, …) give the value and the cost in one cell; 溜１コスト columns the cost
// and materials of one charge stage; 状態異常 / 強化素材 the materials of the status upgrades.
func (p *rowParser) parseTower() error {
	tp := &towerParser{p: p, t: &codecs.Tower{}}
	for i, c := range p.raw.Cells {
		if err := tp.cell(i, c); err != nil {
			return err
		}
	}
	if !tp.seenName || !tp.seenAttack {
		return rowErr(KindInvalid, "record %s (%s row %s): no 名称 or 攻撃力 column, required in the tenrou layout",
			p.raw.Key, p.raw.Page, p.raw.RowID)
	}
	kept := tp.t.Upgrades[:0]
	for _, u := range tp.t.Upgrades {
		if u.Value != "" || u.Cost != nil || u.Total != nil || len(u.Materials) > 0 {
			kept = append(kept, u)
		}
	}
	if len(kept) > 0 {
		tp.t.Upgrades = kept
		p.w.Tower = tp.t
	}
	return nil
}

// towerParser is the state of parseTower: the upgrades so far, the one the next cost cell
// belongs to, and the required columns seen.
type towerParser struct {
	p                    *rowParser
	t                    *codecs.Tower
	cur                  *codecs.TowerUpgrade
	seenName, seenAttack bool
	prevHeader           string
}

// start begins the upgrade of a stat: the cost cells after it are its.
func (tp *towerParser) start(stat string) *codecs.TowerUpgrade {
	tp.t.Upgrades = append(tp.t.Upgrades, codecs.TowerUpgrade{Stat: stat})
	tp.cur = &tp.t.Upgrades[len(tp.t.Upgrades)-1]
	return tp.cur
}

// cell reads the i-th cell of the row.
func (tp *towerParser) cell(i int, c codecs.RawCell) error {
	p := tp.p
	h := normHeader(c.Header)
	lines := p.sc.splitCell(c.HTML, h == "ゲージ")
	repeated := h == tp.prevHeader
	tp.prevHeader = h
	var err error
	switch {
	case h == "名称":
		tp.seenName = true
		err = p.name(c, lines)
	case h == "回数":
		p.w.Level, err = p.optInt(c, lines)
	case strings.Contains(h, "コスト"):
		err = tp.costColumn(c, h, lines)
	case strings.HasSuffix(h, "強化素材"): // 状態異常 / 強化素材
		err = p.towerCost(c, lines, tp.start(strings.TrimSuffix(strings.TrimSpace(strings.Split(c.Header, "\n")[0]), "強化素材")))
	case repeated && tp.cur != nil: // the second cell of "その他" (colspan 2): its cost
		err = p.towerCost(c, lines, tp.cur)
	default:
		err = tp.stat(i, c, h, lines)
	}
	return err
}

// costColumn reads a column whose header names a cost: of the stat before it ("コスト /
// 強化素材"), or a stat and its cost in one cell (毒 / コスト).
func (tp *towerParser) costColumn(c codecs.RawCell, h string, lines []line) error {
	stat, _, _ := strings.Cut(strings.TrimSpace(strings.Split(c.Header, "\n")[0]), "コスト")
	stat = strings.TrimSpace(stat)
	switch {
	case stat == "" && tp.cur != nil:
		return tp.p.towerCost(c, lines, tp.cur)
	case strings.HasSuffix(h, "強化素材") || stat == "":
		if stat == "" {
			stat = "コスト"
		}
		return tp.p.towerCost(c, lines, tp.start(stat))
	default: // 毒 / コスト: the value, then the cost
		cur := tp.start(stat)
		if len(lines) == 0 {
			return nil
		}
		cur.Value = lines[0].text()
		return tp.p.towerCost(c, lines[1:], cur)
	}
}

// stat reads a stat column (攻撃力, 会心, ゲージ, …): the value the upgrades after it raise.
func (tp *towerParser) stat(i int, c codecs.RawCell, h string, lines []line) error {
	p := tp.p
	texts := nonEmpty(lineTexts(lines))
	cur := tp.start(extraKey(c.Header, i))
	var err error
	switch h {
	case "ゲージ":
		err = p.bars(c)
	case "攻撃力":
		tp.seenAttack = true
		p.w.Attack, err = p.optInt(c, lines)
		cur.Value = strings.Join(texts, "\n")
	case "会心":
		p.w.Affinity, err = p.optInt(c, lines)
		cur.Value = strings.Join(texts, "\n")
	default:
		cur.Value = strings.Join(texts, "\n")
	}
	return err
}

// towerCost reads a cost cell: "1 <b>(計1)</b>" then the materials, one per line.
func (p *rowParser) towerCost(c codecs.RawCell, lines []line, u *codecs.TowerUpgrade) error {
	for _, l := range lines {
		hasLink := false
		for _, s := range l.segs {
			hasLink = hasLink || s.has(tagA)
		}
		if !hasLink {
			p.towerCostLine(l, u)
			continue
		}
		var rest string
		var err error
		if u.Materials, rest, err = p.items(c, l, u.Materials); err != nil {
			return err
		}
		if rest != "" {
			p.extra("tower_note", u.Stat+": "+rest)
		}
	}
	return nil
}

// towerCostLine reads the cost and the bold running total "(計N)" of a line without links.
func (p *rowParser) towerCostLine(l line, u *codecs.TowerUpgrade) {
	var cost, total []string
	for _, s := range l.segs {
		if s.has(tagB) {
			total = append(total, s.text)
		} else {
			cost = append(cost, s.text)
		}
	}
	if v := strings.TrimSpace(strings.Join(cost, "")); v != "" {
		n, ok := atoi(v)
		if !ok || u.Cost != nil {
			p.extra("tower_note", u.Stat+": "+v)
		} else {
			u.Cost = p.intPtr(n)
		}
	}
	if v := strings.TrimSpace(strings.Join(total, "")); v != "" {
		inner := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(foldWidth(v)), "("), ")")
		n, ok := atoi(strings.TrimPrefix(inner, "計"))
		if !ok || u.Total != nil {
			p.extra("tower_note", u.Stat+": "+v)
		} else {
			u.Total = p.intPtr(n)
		}
	}
}
