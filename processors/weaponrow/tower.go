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
	t := &codecs.Tower{}
	var cur *codecs.TowerUpgrade
	seenName, seenAttack := false, false
	prevHeader := ""
	start := func(stat string) *codecs.TowerUpgrade {
		t.Upgrades = append(t.Upgrades, codecs.TowerUpgrade{Stat: stat})
		return &t.Upgrades[len(t.Upgrades)-1]
	}
	for i, c := range p.raw.Cells {
		h := normHeader(c.Header)
		lines := splitCell(c.HTML)
		texts := nonEmpty(lineTexts(lines))
		repeated := h == prevHeader
		prevHeader = h
		var err error
		switch {
		case h == "名称":
			seenName = true
			err = p.name(c, lines)
		case h == "回数":
			p.w.Level, err = p.optInt(c, lines)
		case strings.Contains(h, "コスト"):
			stat, _, _ := strings.Cut(strings.TrimSpace(strings.Split(c.Header, "\n")[0]), "コスト")
			stat = strings.TrimSpace(stat)
			switch {
			case stat == "" && cur != nil:
				err = p.towerCost(c, lines, cur)
			case strings.HasSuffix(h, "強化素材") || stat == "":
				if stat == "" {
					stat = "コスト"
				}
				cur = start(stat)
				err = p.towerCost(c, lines, cur)
			default: // 毒 / コスト: the value, then the cost
				cur = start(stat)
				if len(lines) > 0 {
					cur.Value = lines[0].text()
					err = p.towerCost(c, lines[1:], cur)
				}
			}
		case strings.HasSuffix(h, "強化素材"): // 状態異常 / 強化素材
			cur = start(strings.TrimSuffix(strings.TrimSpace(strings.Split(c.Header, "\n")[0]), "強化素材"))
			err = p.towerCost(c, lines, cur)
		case repeated && cur != nil: // the second cell of "その他" (colspan 2): its cost
			err = p.towerCost(c, lines, cur)
		default:
			stat := extraKey(c.Header, i)
			cur = start(stat)
			switch h {
			case "ゲージ":
				err = p.bars(c)
			case "攻撃力":
				seenAttack = true
				p.w.Attack, err = p.optInt(c, lines)
				cur.Value = strings.Join(texts, "\n")
			case "会心":
				p.w.Affinity, err = p.optInt(c, lines)
				cur.Value = strings.Join(texts, "\n")
			default:
				cur.Value = strings.Join(texts, "\n")
			}
		}
		if err != nil {
			return err
		}
	}
	if !seenName || !seenAttack {
		return rowErr(KindInvalid, "record %s (%s row %s): no 名称 or 攻撃力 column, required in the tenrou layout",
			p.raw.Key, p.raw.Page, p.raw.RowID)
	}
	kept := t.Upgrades[:0]
	for _, u := range t.Upgrades {
		if u.Value != "" || u.Cost != nil || u.Total != nil || len(u.Materials) > 0 {
			kept = append(kept, u)
		}
	}
	if len(kept) > 0 {
		t.Upgrades = kept
		p.w.Tower = t
	}
	return nil
}

// towerCost reads a cost cell: "1 <b>(計1)</b>" then the materials, one per line.
func (p *rowParser) towerCost(c codecs.RawCell, lines []line, u *codecs.TowerUpgrade) error {
	for _, l := range lines {
		hasLink := false
		for _, s := range l.segs {
			hasLink = hasLink || s.has(tagA)
		}
		if hasLink {
			items, rest, err := p.items(c, l)
			if err != nil {
				return err
			}
			u.Materials = append(u.Materials, items...)
			if rest != "" {
				p.extra("tower_note", u.Stat+": "+rest)
			}
			continue
		}
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
				u.Cost = intPtr(n)
			}
		}
		if v := strings.TrimSpace(strings.Join(total, "")); v != "" {
			inner := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(foldWidth(v)), "("), ")")
			n, ok := atoi(strings.TrimPrefix(inner, "計"))
			if !ok || u.Total != nil {
				p.extra("tower_note", u.Stat+": "+v)
			} else {
				u.Total = intPtr(n)
			}
		}
	}
	return nil
}
