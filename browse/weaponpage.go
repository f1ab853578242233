package browse

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// weaponView is a weapon decoded for its page.
type weaponView struct {
	*Weapon
	F      map[string]any // the columns
	Stats  []stat         // what the game shows, in its order
	Ammo   []ammoRow      // a bowgun's ammo, one row per ammo
	Notes  []stat         // what the site writes beside the stats (where it is found, notes)
	Source []string       // where the pipeline read the row: for whoever checks the data
	Sharp  [][]segment
	Recipe []recipe
	Tower  *codecs.Tower
}

// stat is one line of the Stats block: a label and its value as a player reads it, with the
// icon of an element or status (a CSS class) and parts drawn each in its own colour (a hunting
// horn's notes, a bowgun's slots).
type stat struct {
	Label, Value string
	Icon         string
	Parts        []part
	Link         string
}

type part struct{ Text, Class, Title string }

// pageRecord is the columns of a weapon's row that its page shows (Weapon.Weapon is the row as
// JSON, every column but the Kafka position on the weapon's topic).
type pageRecord struct {
	RowID        string               `json:"row_id"`
	Page         string               `json:"page"`
	Layout       string               `json:"layout"`
	ContentHash  string               `json:"content_hash"`
	Attack       *int                 `json:"attack"`
	Affinity     *int                 `json:"affinity"`
	Elements     []codecs.Element     `json:"elements"`
	Defense      *int                 `json:"defense"`
	Slots        *int                 `json:"slots"`
	Rarity       *int                 `json:"rarity"`
	GRank        *int                 `json:"g_rank"`
	RankSystem   *string              `json:"rank_system"`
	RankLevel    *int                 `json:"rank_level"`
	Price        *int                 `json:"price"`
	Shelling     *string              `json:"shelling"`
	Phial        *string              `json:"phial"`
	HornNotes    []string             `json:"horn_notes"`
	Reload       *string              `json:"reload"`
	Recoil       *string              `json:"recoil"`
	BulletSpeed  *string              `json:"bullet_speed"`
	Ammo         []codecs.Ammo        `json:"ammo"`
	ArcShot      *string              `json:"arc_shot"`
	ChargeLevels []codecs.ChargeLevel `json:"charge_levels"`
	Coatings     []string             `json:"coatings"`
	Tower        *codecs.Tower        `json:"tower"`
	ZenithSkill  *string              `json:"zenith_skill"`
	Extra        map[string]string    `json:"extra"`
	Source       *codecs.Source       `json:"source"` // the raw record's place on weapon_data
}

func (s *Server) weaponPage(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("type") + "/" + r.PathValue("kind") + "/" + r.PathValue("row")
	wp, err := s.weapon(r.Context(), key)
	if err != nil {
		return err
	}
	v := &weaponView{Weapon: wp}
	var rec pageRecord
	if err := json.Unmarshal(wp.Weapon, &v.F); err != nil {
		return fmt.Errorf("decode weapon %s: %w", key, err)
	}
	if err := json.Unmarshal(wp.Weapon, &rec); err != nil {
		return fmt.Errorf("decode weapon %s: %w", key, err)
	}
	extra := map[string]string{}
	for k, x := range rec.Extra {
		extra[k] = x
	}
	v.Stats = rec.stats(extra)
	v.Ammo = ammoRows(rec.Ammo)
	v.Notes = s.siteNotes(extra)
	v.Source = rec.source(extra)
	v.Sharp = bars(v.F["sharpness"])
	v.Recipe = recipes(v.F["materials"])
	v.Tower = rec.Tower
	s.render(w, r, http.StatusOK, "weapon", map[string]any{"Title": fmt.Sprint(v.F["name"]), "W": v, "Site": s})
	return nil
}

// stats lists what the game shows of a weapon, in the game's order: attack, element and status,
// affinity, defense, slots, rarity, rank, price, then what its type has of its own. It takes from
// extra what it shows.
func (rec *pageRecord) stats(extra map[string]string) []stat {
	var out []stat
	add := func(label string, v *int, format func(int) string) {
		if v != nil {
			out = append(out, stat{Label: label, Value: format(*v)})
		}
	}
	add("Attack", rec.Attack, strconv.Itoa)
	for _, e := range rec.Elements {
		label := "Element"
		if statuses[e.Kind] {
			label = "Status"
		}
		out = append(out, stat{Label: label, Value: elementName(e.Kind) + " " + strconv.Itoa(e.Value), Icon: "el el-" + e.Kind})
	}
	add("Affinity", rec.Affinity, signedPercent)
	add("Defense", rec.Defense, func(n int) string { return fmt.Sprintf("%+d", n) })
	if rec.Slots != nil {
		out = append(out, slotsStat(*rec.Slots))
	}
	add("Rarity", rec.Rarity, strconv.Itoa)
	add("G rank", rec.GRank, func(n int) string { return "GR" + strconv.Itoa(n) })
	if rec.RankSystem != nil {
		r := stat{Label: "Requires", Value: *rec.RankSystem}
		if rec.RankLevel != nil {
			r.Value += " " + strconv.Itoa(*rec.RankLevel)
		}
		out = append(out, r)
	}
	out = append(out, priceStats(rec.Price, extra)...)
	out = append(out, rec.typeStats(extra)...)
	if rec.ZenithSkill != nil && *rec.ZenithSkill != "" {
		out = append(out, stat{Label: "Zenith skill", Value: strings.ReplaceAll(*rec.ZenithSkill, "\n", ", ")})
	}
	return out
}

// priceStats is the price in zenny, what the site writes instead of one ("Not Craftable"), and
// the price at 60% of G-rank pages.
func priceStats(price *int, extra map[string]string) []stat {
	var out []stat
	switch {
	case price != nil:
		out = append(out, stat{Label: "Price", Value: zenny(*price)})
	case extra["price_note"] != "":
		out = append(out, stat{Label: "Price", Value: extra["price_note"]})
	}
	delete(extra, "price_note")
	if p, ok := extra["price_60"]; ok {
		if n, err := strconv.Atoi(p); err == nil {
			p = zenny(n)
		}
		out = append(out, stat{Label: "Price at 60%", Value: p})
		delete(extra, "price_60")
	}
	return out
}

// typeStats is what a weapon type shows of its own: the gunlance's shelling, the switch axe's
// phial, the hunting horn's notes, the bowgun's reload, recoil and bullet speed (its ammo is a
// table of its own), the bow's arc shot, charge levels and coatings, the weapon's length.
func (rec *pageRecord) typeStats(extra map[string]string) []stat {
	var out []stat
	text := func(label string, v *string) {
		if v != nil && *v != "" {
			out = append(out, stat{Label: label, Value: *v})
		}
	}
	text("Shelling", rec.Shelling)
	text("Phial", rec.Phial)
	if len(rec.HornNotes) > 0 {
		out = append(out, hornNotes(rec.HornNotes))
	}
	text("Reload", rec.Reload)
	text("Recoil", rec.Recoil)
	text("Bullet speed", rec.BulletSpeed)
	for _, k := range []string{"rapid_fire", "super_rapid_fire"} {
		if x, ok := extra[k]; ok {
			out = append(out, stat{Label: humanLabel(k), Value: x})
			delete(extra, k)
		}
	}
	text("Arc shot", rec.ArcShot)
	if len(rec.ChargeLevels) > 0 {
		out = append(out, chargeLevels(rec.ChargeLevels))
	}
	if len(rec.Coatings) > 0 {
		out = append(out, stat{Label: "Coatings", Value: strings.Join(rec.Coatings, ", ")})
	}
	if l, ok := extra["length"]; ok {
		out = append(out, stat{Label: "Length", Value: l})
		delete(extra, "length")
	}
	return append(out, rec.towerStats()...)
}

// towerStats are the stats of a tower weapon (its page's Japanese columns, named in English),
// but attack and affinity, shown first as every weapon's.
func (rec *pageRecord) towerStats() []stat {
	if rec.Tower == nil {
		return nil
	}
	var out []stat
	for _, u := range rec.Tower.Upgrades {
		if u.Value == "" || u.Stat == "攻撃力" || u.Stat == "会心" {
			continue
		}
		label := u.Stat
		if en, ok := towerStatNames[u.Stat]; ok {
			label = en + " (" + u.Stat + ")"
		}
		out = append(out, stat{Label: "Tower: " + label, Value: u.Value})
	}
	return out
}

// towerStatNames names the stat columns of the tower pages.
var towerStatNames = map[string]string{"攻撃力": "Attack", "会心": "Affinity", "ゲージ": "Sharpness", "属性": "Element",
	"毒": "Poison", "麻痺": "Paralysis", "睡眠": "Sleep", "状態異常": "Status", "装填": "Reload", "反動": "Recoil",
	"溜LV": "Charge level", "その他": "Other"}

func slotsStat(n int) stat {
	st := stat{Label: "Slots", Value: strconv.Itoa(n)}
	for i := range 3 {
		p := part{Text: "○", Class: "slot"}
		if i < n {
			p = part{Text: "●", Class: "slot used"}
		}
		st.Parts = append(st.Parts, p)
	}
	return st
}

func hornNotes(colours []string) stat {
	st := stat{Label: "Notes", Value: strings.Join(colours, ", ")}
	for _, c := range colours {
		st.Parts = append(st.Parts, part{Text: "♪", Class: "note-icon note-" + c, Title: c})
	}
	return st
}

// chargeLevels reads "Rpd", "Spr", "Prc", "Hvy" as the game names the shots; a locked stage
// needs a skill.
func chargeLevels(levels []codecs.ChargeLevel) stat {
	parts := make([]string, len(levels))
	for i, c := range levels {
		shot := c.Shot
		if name, ok := shotNames[shot]; ok {
			shot = name
		}
		parts[i] = fmt.Sprintf("%d: %s Lv%d", c.Stage, shot, c.Level)
		if c.Locked {
			parts[i] += " (locked)"
		}
	}
	return stat{Label: "Charge levels", Value: strings.Join(parts, " · ")}
}

var shotNames = map[string]string{"Rpd": "Rapid", "Spr": "Spread", "Prc": "Pierce", "Hvy": "Heavy"}

// ammoRow is one ammo of a bowgun: its capacity at each level.
type ammoRow struct {
	Name   string
	Levels []ammoLevel
}

type ammoLevel struct {
	Text   string // the capacity, "–" for an ammo the bowgun cannot load at this level
	Marked bool   // underlined on the site
}

func ammoRows(ammo []codecs.Ammo) []ammoRow {
	var out []ammoRow
	for _, a := range ammo {
		if len(out) == 0 || out[len(out)-1].Name != a.Ammo {
			out = append(out, ammoRow{Name: a.Ammo})
		}
		l := ammoLevel{Text: "–", Marked: a.Marked}
		if a.Capacity != nil {
			l.Text = strconv.Itoa(*a.Capacity)
		}
		row := &out[len(out)-1]
		row.Levels = append(row.Levels, l)
	}
	return out
}

// siteNotes is what is left of the site's notes once the stats took theirs: where the weapon is
// found ("Festival"), the note under its name ("剛種武器"), the notes of its recipes. The
// sharpness title is the game's (see source) and the horn's song page is a link of the notes.
func (s *Server) siteNotes(extra map[string]string) []stat {
	var out []stat
	if x, ok := extra["source"]; ok {
		out = append(out, stat{Label: "Found", Value: x})
	}
	if x, ok := extra["name_note"]; ok {
		out = append(out, stat{Label: "Class", Value: x})
	}
	if link, ok := extra["horn_notes_link"]; ok {
		if u, err := s.site.Parse(link); err == nil {
			out = append(out, stat{Label: "Songs", Value: "the notes' songs on the Ferias site", Link: u.String()})
		}
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		switch k {
		case "source", "name_note", "horn_notes_link", "sharpness_title":
		default:
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, stat{Label: humanLabel(k), Value: extra[k]})
	}
	return out
}

// source is where the pipeline read the row: its id and page on the site, the page's table
// layout, the raw record's place on weapon_data, its version, and the sharpness entry of the
// game the site writes in the bar's title.
func (rec *pageRecord) source(extra map[string]string) []string {
	out := []string{"row " + rec.RowID, "page " + rec.Page, "layout " + rec.Layout}
	if src := rec.Source; src != nil && src.Topic != "" {
		out = append(out, fmt.Sprintf("read from %s partition %d offset %d", src.Topic, src.Partition, src.Offset))
	}
	if t, ok := extra["sharpness_title"]; ok {
		out = append(out, sharpnessEntry(t))
	}
	if len(rec.ContentHash) >= 12 {
		out = append(out, "content "+rec.ContentHash[:12])
	}
	return out
}

// sharpnessEntry reads the title of a sharpness bar on the site ("306250"): three hexadecimal
// digits, the weapon's entry in the game's sharpness tables (a Great Sword and a Long Sword can
// share one, as they share their data in the game), then the bar's full length in the game's
// units, four a pixel of the site's bar (250: 62 px). Several titles are joined by commas.
func sharpnessEntry(title string) string {
	var out []string
	for _, t := range strings.Split(title, ",") {
		n, err := strconv.Atoi(t[min(3, len(t)):])
		if len(t) != 6 || err != nil {
			out = append(out, "sharpness title "+t)
			continue
		}
		out = append(out, fmt.Sprintf("sharpness entry %s, length %d", t[:3], n))
	}
	return strings.Join(out, "; ")
}

// statuses are the kinds of Elements that are statuses; the others are elements.
var statuses = map[string]bool{"poison": true, "para": true, "sleep": true, "blast": true}

var elementNames = map[string]string{"para": "Paralysis", "emperors_roar": "Emperor's Roar"}

// elementName names an element or status as the game does: "thunder_pole" is "Thunder Pole".
func elementName(kind string) string {
	if n, ok := elementNames[kind]; ok {
		return n
	}
	return humanLabel(kind)
}

// humanLabel makes a label of a key: "super_rapid_fire" is "Super Rapid Fire".
func humanLabel(key string) string {
	words := strings.Fields(strings.ReplaceAll(key, "_", " "))
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

func signedPercent(n int) string {
	if n > 0 {
		return fmt.Sprintf("+%d%%", n)
	}
	return fmt.Sprintf("%d%%", n)
}

// zenny writes a price with its thousands separated: "25,000z".
func zenny(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s + "z"
}

// readable writes a stored value for a reader, never as JSON: a list's items joined by "; ", an
// object's values as "key value" pairs, an element as "fire 160", an item as "Name ×3".
func readable(v any) string {
	switch x := v.(type) {
	case nil:
		return "none"
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = readable(e)
		}
		if len(parts) == 0 {
			return "none"
		}
		return strings.Join(parts, "; ")
	case map[string]any:
		return readableObject(x)
	case json.RawMessage:
		return readable(decodeAny(x))
	case []byte:
		return readable(decodeAny(x))
	}
	return fmt.Sprint(v)
}

// readableObject writes the objects the rows hold as the site shows them, and any other as its
// "key value" pairs.
func readableObject(m map[string]any) string {
	switch {
	case m["kind"] != nil && m["value"] != nil:
		return fmt.Sprintf("%v %v", m["kind"], m["value"])
	case m["colour"] != nil && m["hits"] != nil:
		return fmt.Sprintf("%v %v", m["colour"], m["hits"])
	case m["name"] != nil && m["quantity"] != nil:
		return fmt.Sprintf("%v ×%v", m["name"], m["quantity"])
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + readable(m[k])
	}
	return strings.Join(parts, ", ")
}

// clipText shortens a text to 160 characters.
func clipText(s string) string {
	if len([]rune(s)) > 160 {
		return string([]rune(s)[:160]) + "…"
	}
	return s
}
