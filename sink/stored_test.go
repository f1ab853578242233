package sink

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	gojson "github.com/goccy/go-json"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// TestStoredRowsAsTheTypedOnes: every column of every table gets, from the weapon's JSON kept as
// it came (storedWeapon), the value the typed decoding and encoding gave (the jsonb parts equal
// as JSON: jsonb keeps no spelling), for weapons with every part, with none, and with empty ones.
func TestStoredRowsAsTheTypedOnes(t *testing.T) {
	var weapons []*codecs.Weapon
	for i := range 2 * len(codecs.WeaponTypes) * 3 {
		weapons = append(weapons, synthWeapon(i))
	}
	full := synthWeapon(3)
	full.Upgrade = [][]codecs.Material{{{ItemID: "a", Name: "A <b>&", Quantity: 2}}, {{ItemID: "b", Quantity: 1}}}
	full.GCreation100, full.GCreation60 = [][]codecs.Material{{}}, [][]codecs.Material{{{ItemID: "c", Quantity: 3}}}
	full.UpgradeTo = []codecs.WeaponRef{{Page: "tachi_g.htm", RowID: "l1", Name: "Next"}}
	full.Tower = &codecs.Tower{Upgrades: []codecs.TowerUpgrade{{Stat: "Attack", Cost: ptr(5)}}}
	full.Quality = []codecs.Finding{{Field: "attack", Value: "99999", Rule: "attack_range"}}
	bare := &codecs.Weapon{Schema: codecs.WeaponSchemaVersion, Key: "k", Version: 1, WeaponType: codecs.Bow,
		PageKind: codecs.KindBase, Bow: &codecs.BowStats{}, Tower: &codecs.Tower{}, Extra: map[string]string{}}
	for _, w := range append(weapons, full, bare) {
		data, err := codecs.WeaponCodec{}.Encode(w)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := decodeStored(data)
		if err != nil {
			t.Fatalf("%s: %v", w.Key, err)
		}
		table := tableOf(w)
		got := &record{table: table, weapon: stored}
		if checkRow(got, tableColumns(table)); !got.storable() {
			t.Fatalf("%s: %s", w.Key, got.reason)
		}
		row := rowOf(got, tableColumns(table), nil)
		for i, c := range tableColumns(table) {
			if want := typedValue(w, c); !sameValue(row[i], want) {
				t.Errorf("%s column %s: %s, the typed decoding gave %s", w.Key, c.name, show(row[i]), show(want))
			}
		}
	}
}

// typedValue is the value a column had when the sink decoded the whole weapon (the builds before
// storedWeapon): the jsonb parts encoded again from their Go values. The other columns read the
// typed weapon as they did (a column that read a part storedWeapon keeps as JSON would find it
// empty in the decoded weapon, and differ here).
func typedValue(w *codecs.Weapon, c column) any {
	materials := map[string][][]codecs.Material{}
	for name, list := range map[string][][]codecs.Material{"creation": w.Creation, "upgrade": w.Upgrade,
		"g_creation_100": w.GCreation100, "g_creation_60": w.GCreation60} {
		if len(list) > 0 {
			materials[name] = list
		}
	}
	bowgun, bow := w.Bowgun, w.Bow
	if bowgun == nil {
		bowgun = &codecs.Bowgun{}
	}
	if bow == nil {
		bow = &codecs.BowStats{}
	}
	typed := map[string]any{"elements": jsonb(w.Elements), "upgrade_from": jsonb(w.UpgradeFrom), "upgrade_to": jsonb(w.UpgradeTo),
		"sharpness": jsonb(w.Sharpness), "materials": jsonb(materials), "tower": jsonb(w.Tower),
		"extra": jsonb(w.Extra), "quality": jsonb(w.Quality), "source": jsonb(w.Source),
		"ammo": jsonb(bowgun.Ammo), "reload": text(&bowgun.Reload), "recoil": text(&bowgun.Recoil),
		"bullet_speed": text(&bowgun.BulletSpeed), "charge_levels": jsonb(bow.ChargeLevels),
		"arc_shot": text(&bow.ArcShot), "coatings": bow.Coatings}
	if w.Bow == nil {
		typed["coatings"] = nil
	}
	if v, ok := typed[c.name]; ok {
		return v
	}
	return c.value(&record{weapon: &storedWeapon{Weapon: *w}})
}

func sameValue(got, want any) bool {
	gb, gok := jsonBytes(got)
	wb, wok := jsonBytes(want)
	if gok && wok {
		var g, w any
		return json.Unmarshal(gb, &g) == nil && json.Unmarshal(wb, &w) == nil && reflect.DeepEqual(g, w)
	}
	return reflect.DeepEqual(got, want)
}

func show(v any) string {
	if b, ok := jsonBytes(v); ok {
		return string(b)
	}
	return fmt.Sprintf("%#v", v)
}

// jsonBytes is the JSON of a jsonb value, given as bytes or as jsonbText.
func jsonBytes(v any) ([]byte, bool) {
	if t, ok := v.(jsonbText); ok {
		return *t.raw, true
	}
	b, ok := v.([]byte)
	return b, ok
}

// TestStoredRefusesWhatTheTypedRefused: what the typed decoding refused is refused with its words.
func TestStoredRefusesWhatTheTypedRefused(t *testing.T) {
	good := `"schema":1,"key":"k","version":1,"weapon_type":"bow"`
	for _, data := range []string{"", "not JSON", `{"schema":99,"key":"k","version":1}`,
		`{` + good + `,"sharpness":"sharp"}`, `{` + good + `,"tower":[1]}`, `{` + good + `,"bow":{"charge_levels":5}}`,
		`{` + good + `,"elements":"fire"}`, `{` + good + `,"elements":[{"kind":5}]}`} {
		_, err := decodeStored([]byte(data))
		_, typed := codecs.DecodeWeapon([]byte(data))
		if err == nil || typed == nil || err.Error() != typed.Error() {
			t.Errorf("%q: %v, the typed decoding said %v", data, err, typed)
		}
	}
}

// jsonb is how the builds before storedWeapon encoded a jsonb column from its typed value: NULL
// for nil and empty values.
func jsonb(v any) any {
	b, err := gojson.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sink: encode %T as JSON: %v", v, err))
	}
	switch string(b) {
	case "null", "[]", "{}":
		return nil
	}
	return b
}
