package codecs

import (
	"fmt"
	"strings"
)

// WeaponType is one of the 14 weapon types of the site, named as the users of the database type
// them (it is also the name of the type's table and the suffix of its topic).
type WeaponType string

// The weapon types, in the order of the site's index.
const (
	GreatSword     WeaponType = "great_sword"
	LongSword      WeaponType = "long_sword"
	SwordAndShield WeaponType = "sword_and_shield"
	DualSwords     WeaponType = "dual_swords"
	Hammer         WeaponType = "hammer"
	HuntingHorn    WeaponType = "hunting_horn"
	Lance          WeaponType = "lance"
	Gunlance       WeaponType = "gunlance"
	Tonfa          WeaponType = "tonfa"
	SwitchAxeF     WeaponType = "switch_axe_f"
	MagnetSpike    WeaponType = "magnet_spike"
	LightBowgun    WeaponType = "light_bowgun"
	HeavyBowgun    WeaponType = "heavy_bowgun"
	Bow            WeaponType = "bow"
)

// WeaponTypes lists every weapon type, in the order of the site's index.
var WeaponTypes = []WeaponType{
	GreatSword, LongSword, SwordAndShield, DualSwords, Hammer, HuntingHorn, Lance,
	Gunlance, Tonfa, SwitchAxeF, MagnetSpike, LightBowgun, HeavyBowgun, Bow,
}

// pagePrefixes maps the site's page-name prefixes to weapon types.
var pagePrefixes = map[string]WeaponType{
	"taiken": GreatSword, "tachi": LongSword, "katate": SwordAndShield, "souken": DualSwords,
	"hammer": Hammer, "horn": HuntingHorn, "lance": Lance, "gunlance": Gunlance, "tonfa": Tonfa,
	"slaxe": SwitchAxeF, "magspike": MagnetSpike, "right": LightBowgun, "heavy": HeavyBowgun,
	"yumi": Bow,
}

// Valid reports whether t is one of the known weapon types.
func (t WeaponType) Valid() bool {
	for _, known := range WeaponTypes {
		if t == known {
			return true
		}
	}
	return false
}

// PageKind is the kind of a weapon page: which part of the game its weapons come from.
type PageKind string

// The page kinds, by the suffix of the page name.
const (
	KindBase    PageKind = "base"    // tachi.htm
	KindG       PageKind = "g"       // tachi_g.htm: G rank
	KindRavi    PageKind = "ravi"    // tachi_s.htm: Raviente
	KindRNGCat  PageKind = "rngcat"  // tachi_n.htm
	KindSP      PageKind = "sp"      // tachi_sp.htm
	KindTower   PageKind = "tower"   // tachi_t.htm: Tower weapons
	KindPartner PageKind = "partner" // taiken_partnya.htm: partner (Partnyaa) weapons
)

// pageSuffixes maps page-name suffixes to page kinds; the base page has none.
var pageSuffixes = map[string]PageKind{
	"": KindBase, "_g": KindG, "_s": KindRavi, "_n": KindRNGCat, "_sp": KindSP, "_t": KindTower,
	"_partnya": KindPartner,
}

// PageKinds lists every page kind with the suffix of its page name.
func PageKinds() map[PageKind]string {
	out := make(map[PageKind]string, len(pageSuffixes))
	for suffix, kind := range pageSuffixes {
		out[kind] = suffix
	}
	return out
}

// Layout is the id of the weapon table of a page, which fixes its columns.
type Layout string

// The table layouts of the site.
const (
	LayoutBlademaster Layout = "ken"    // blademaster weapons
	LayoutGun         Layout = "gun"    // light and heavy bowguns
	LayoutBow         Layout = "yumi"   // bows
	LayoutTower       Layout = "tenrou" // tower weapons (Japanese headers)
)

// Valid reports whether l is one of the known table layouts.
func (l Layout) Valid() bool {
	switch l {
	case LayoutBlademaster, LayoutGun, LayoutBow, LayoutTower:
		return true
	}
	return false
}

// ParsePageName splits a weapon page's file name ("tachi_g.htm") into its weapon type and page
// kind. Pages that are not weapon pages (the index, style sheets) give an error.
func ParsePageName(name string) (WeaponType, PageKind, error) {
	base, ok := strings.CutSuffix(name, ".htm")
	if !ok {
		return "", "", fmt.Errorf("page %q: not a .htm page", name)
	}
	prefix, suffix := base, ""
	if i := strings.IndexByte(base, '_'); i >= 0 {
		prefix, suffix = base[:i], base[i:]
	}
	t, ok := pagePrefixes[prefix]
	if !ok {
		return "", "", fmt.Errorf("page %q: unknown weapon page prefix %q", name, prefix)
	}
	kind, ok := pageSuffixes[suffix]
	if !ok {
		return "", "", fmt.Errorf("page %q: unknown page kind suffix %q", name, suffix)
	}
	return t, kind, nil
}

// PageName is the inverse of ParsePageName.
func PageName(t WeaponType, kind PageKind) string {
	for prefix, pt := range pagePrefixes {
		if pt == t {
			return prefix + PageKinds()[kind] + ".htm"
		}
	}
	return ""
}

// RecordKey is the Kafka key of one weapon row: stable across scrapes, unique across the site.
// occurrence counts the rows with the same id on the same page (1 for the first); the rare
// repeated ids of the real pages get a suffix so that neither row overwrites the other.
func RecordKey(t WeaponType, kind PageKind, rowID string, occurrence int) string {
	key := string(t) + "/" + string(kind) + "/" + rowID
	if occurrence > 1 {
		key += fmt.Sprintf("~%d", occurrence)
	}
	return key
}
