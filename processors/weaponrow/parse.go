package weaponrow

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// column is what a column of a weapon table means.
type column int

const (
	colUnknown column = iota
	colName
	colRarity
	colAttributes // "768 10%\nFire 120\nDefense +5" (and a bow's arc shot)
	colSharpness  // the bars, and the weapon-specific notes under them
	colGunStats   // reload, recoil, bullet speed
	colAmmo
	colCharge
	colCoatings
	colSlots
	colRank
	colPrice
	colCreation
	colUpgrade
	colG100
	colG60
	colDescription
)

// columns maps normalized headers (normHeader) of the ken, gun and yumi layouts to their meaning.
var columns = map[string]column{
	"name": colName, "名称": colName,
	"rarity":     colRarity,
	"attributes": colAttributes, "attribute": colAttributes, "attackattribute": colAttributes,
	"attack": colAttributes, "攻撃属性": colAttributes,
	"sharpness": colSharpness, "切れ味": colSharpness,
	"reloadrecoilbulletspeed": colGunStats,
	"ammo":                    colAmmo,
	"chargestage":             colCharge,
	"coatings":                colCoatings, "coating": colCoatings,
	"slots": colSlots, "slot": colSlots,
	"rank": colRank, "ﾗﾝｸ": colRank,
	"price": colPrice, "価格": colPrice,
	"creationmats":     colCreation,
	"upgrademats":      colUpgrade,
	"100%creationmats": colG100, "100%強化素材": colG100,
	"60%creationmats": colG60, "60%強化素材": colG60,
	"description": colDescription, "説明": colDescription,
}

// required are the columns a row of each layout must have.
var required = map[codecs.Layout][]column{
	codecs.LayoutBlademaster: {colName, colRarity, colAttributes, colSharpness},
	codecs.LayoutGun:         {colName, colRarity, colAttributes, colGunStats, colAmmo},
	codecs.LayoutBow:         {colName, colRarity, colAttributes, colCharge},
}

var columnNames = map[column]string{
	colName: "name", colRarity: "rarity", colAttributes: "attack/attributes",
	colSharpness: "sharpness", colGunStats: "reload/recoil/bullet speed", colAmmo: "ammo",
	colCharge: "charge stage",
}

// normHeader folds a column header for matching: no spaces or line breaks, lower case.
func normHeader(h string) string {
	var buf [64]byte
	if folded := appendNormHeader(buf[:0], h); string(folded) != h {
		return string(folded)
	}
	return h
}

// columnOf returns the meaning of a column header, columns[normHeader(h)], without a string of
// the folded header.
func columnOf(h string) column {
	var buf [64]byte
	return columns[string(appendNormHeader(buf[:0], h))]
}

// appendNormHeader appends the folded header h to dst (normHeader).
func appendNormHeader(dst []byte, h string) []byte {
	// ASCII headers, nearly all of them, byte by byte (strings.Map's call per rune was a sixth
	// of the parse); unicode's rules for the others.
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case c >= utf8.RuneSelf:
			for _, r := range h[i:] {
				if r = foldHeaderRune(r); r >= 0 {
					dst = utf8.AppendRune(dst, r)
				}
			}
			return dst
		case c == ' ' || ('\t' <= c && c <= '\r'):
		case 'A' <= c && c <= 'Z':
			dst = append(dst, c+'a'-'A')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func foldHeaderRune(r rune) rune {
	if unicode.IsSpace(r) {
		return -1
	}
	return unicode.ToLower(r)
}

// pageKinds are the page kinds of the site (codecs.PageKinds, made once: it makes a map at
// every call).
var pageKinds = codecs.PageKinds()

// Parse interprets a raw record into a typed weapon, without version, hash or source (the
// router sets them). It never panics; an error is a *Error naming the record, the column
// and what is wrong. Parse does not validate ranges (Validate does); the links it had to repair
// are findings in w.Quality.
func Parse(raw *codecs.RawRecord) (*codecs.Weapon, error) {
	if _, ok := pageKinds[raw.PageKind]; !ok {
		return nil, rowErr(KindLayout, "record %s: unknown page kind %q", raw.Key, raw.PageKind)
	}
	w := &codecs.Weapon{
		Schema: codecs.WeaponSchemaVersion, Key: raw.Key, WeaponType: raw.WeaponType,
		PageKind: raw.PageKind, Layout: raw.Layout, Page: raw.Page, URL: raw.URL, RowID: raw.RowID,
		Hidden: raw.Hidden, ScrapedAt: raw.ScrapedAt,
	}
	sc := scanners.Get().(*cellScanner)
	defer func() {
		sc.reset()
		scanners.Put(sc)
	}()
	p := &rowParser{raw: raw, w: w, sc: sc}
	var err error
	switch raw.Layout {
	case codecs.LayoutBlademaster, codecs.LayoutGun, codecs.LayoutBow:
		err = p.parseTable()
	case codecs.LayoutTower:
		err = p.parseTower()
	default:
		return nil, rowErr(KindLayout, "record %s: unknown table layout %q", raw.Key, raw.Layout)
	}
	if err != nil {
		return nil, err
	}
	if len(w.Extra) == 0 {
		w.Extra = nil
	}
	checkItemIDs(w)
	return w, nil
}

// rowParser carries one record through its cells.
type rowParser struct {
	raw  *codecs.RawRecord
	w    *codecs.Weapon
	sc   *cellScanner // the lines of the cell being read
	ints []int        // the array of intPtr's numbers
}

func (p *rowParser) extra(key, value string) {
	value = strings.TrimSpace(value)
	if value == "" {
		return
	}
	if p.w.Extra == nil {
		p.w.Extra = map[string]string{}
	}
	if old, ok := p.w.Extra[key]; ok {
		value = old + "\n" + value
	}
	p.w.Extra[key] = value
}

func (p *rowParser) fail(kind, header, format string, args ...any) error {
	return rowErr(kind, "record %s (%s row %s) column %q: "+format,
		append([]any{p.raw.Key, p.raw.Page, p.raw.RowID, header}, args...)...)
}

// parseTable parses a row of the ken, gun or yumi layouts: one column per meaning.
func (p *rowParser) parseTable() error {
	var seen [colDescription + 1]bool
	cols := p.sc.columnsOf(p.raw.Cells)
	g := slices.Contains(cols, colG60) // the G-rank material columns
	for i, c := range p.raw.Cells {
		col := cols[i]
		if col == colCreation && seen[colCreation] {
			col = colUpgrade // the partner pages head both material columns "Creation Mats"
		}
		if col != colUnknown && seen[col] {
			col = colUnknown // a repeated header: kept verbatim rather than overwriting
		}
		seen[col] = true
		if err := p.tableCell(col, i, c, g); err != nil {
			return err
		}
	}
	for _, col := range required[p.raw.Layout] {
		if !seen[col] {
			return rowErr(KindInvalid, "record %s (%s row %s): no %s column, required in the %s layout",
				p.raw.Key, p.raw.Page, p.raw.RowID, columnNames[col], p.raw.Layout)
		}
	}
	return nil
}

// tableCell reads the i-th cell of a row, of column col; g: the row has the G-rank material
// columns.
func (p *rowParser) tableCell(col column, i int, c codecs.RawCell, g bool) error {
	lines := p.sc.splitCell(c.HTML, col == colSharpness)
	var err error
	switch col {
	case colName:
		err = p.name(c, lines)
	case colRarity:
		err = p.rarity(c, lines)
	case colAttributes, colSharpness, colGunStats, colAmmo, colCharge, colCoatings:
		err = p.statCell(col, c, lines)
	case colSlots:
		p.w.Slots, err = p.optInt(c, lines)
	case colRank:
		err = p.rank(c, lines)
	case colPrice:
		err = p.price(c, lines, g)
	case colCreation, colUpgrade, colG100, colG60:
		err = p.materialCell(col, c, lines)
	case colDescription:
		p.w.Description = descriptionText(lines)
	default:
		p.extra(extraKey(c.Header, i), strings.Join(lineTexts(lines), "\n"))
	}
	return err
}

// statCell reads a cell of the weapon's stats: attributes, sharpness, a gun's or a bow's.
func (p *rowParser) statCell(col column, c codecs.RawCell, lines []line) error {
	switch col {
	case colAttributes:
		return p.attributes(c, lines)
	case colSharpness:
		return p.sharpness(c, lines)
	case colGunStats:
		p.gunStats(lines)
	case colAmmo:
		return p.ammo(c, lines)
	case colCharge:
		return p.charge(c, lines)
	case colCoatings:
		p.bow().Coatings = nonEmpty(lineTexts(lines))
	}
	return nil
}

// materialCell reads a cell of materials: creation, upgrade, G-rank creation at 100% or 60%.
func (p *rowParser) materialCell(col column, c codecs.RawCell, lines []line) error {
	var err error
	switch col {
	case colCreation:
		p.w.Creation, err = p.materials(c, lines, "creation")
	case colUpgrade:
		p.w.Upgrade, err = p.materials(c, lines, "upgrade")
	case colG100:
		p.w.GCreation100, err = p.materials(c, lines, "g_creation_100")
	case colG60:
		p.w.GCreation60, err = p.materials(c, lines, "g_creation_60")
	}
	return err
}

func extraKey(header string, i int) string {
	if h := strings.TrimSpace(strings.ReplaceAll(header, "\n", " ")); h != "" {
		return h
	}
	return "cell_" + itoa(i)
}

func nonEmpty(ss []string) []string {
	out := ss[:0]
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func descriptionText(lines []line) string {
	return strings.Join(nonEmpty(lineTexts(lines)), "\n")
}

func (p *rowParser) bow() *codecs.BowStats {
	if p.w.Bow == nil {
		p.w.Bow = &codecs.BowStats{}
	}
	return p.w.Bow
}

func (p *rowParser) bowgun() *codecs.Bowgun {
	if p.w.Bowgun == nil {
		p.w.Bowgun = &codecs.Bowgun{}
	}
	return p.w.Bowgun
}
