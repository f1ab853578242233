package browse

import (
	"testing"

	json "github.com/goccy/go-json"
)

// TestWeaponPageTexts: what the weapon page writes of the stored values, never JSON.
func TestWeaponPageTexts(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{zenny(0), "0z"}, {zenny(999), "999z"}, {zenny(1000), "1,000z"}, {zenny(1500000), "1,500,000z"},
		{signedPercent(20), "+20%"}, {signedPercent(0), "0%"}, {signedPercent(-15), "-15%"},
		{elementName("thunder_pole"), "Thunder Pole"}, {elementName("para"), "Paralysis"},
		{elementName("emperors_roar"), "Emperor's Roar"},
		{sharpnessEntry("306250"), "sharpness entry 306, length 250"},
		{sharpnessEntry("D01350,D01350"), "sharpness entry D01, length 350; sharpness entry D01, length 350"},
		{sharpnessEntry("odd"), "sharpness title odd"},
		{readable(json.RawMessage(`[{"kind":"fire","value":160}]`)), "fire 160"},
		{readable(json.RawMessage(`[[{"colour":"red","hits":7},{"colour":"green","hits":2}]]`)), "red 7; green 2"},
		{readable(json.RawMessage(`{"creation":[[{"item_id":"00DA","name":"Machalite Ore","quantity":3}]]}`)),
			"creation Machalite Ore ×3"},
		{readable(json.RawMessage(`null`)), "none"}, {readable(json.RawMessage(`"Festival"`)), "Festival"},
		{readable(json.RawMessage(`{"system":"HR","level":51}`)), "level 51, system HR"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestStatsInTheGamesOrder: a gunlance's stats as the game lists them, what the stats show
// taken out of the site's notes.
func TestStatsInTheGamesOrder(t *testing.T) {
	var rec pageRecord
	if err := json.Unmarshal([]byte(`{"attack":368,"affinity":-5,"elements":[{"kind":"fire","value":160},{"kind":"poison","value":90}],
		"slots":2,"rarity":12,"g_rank":1,"rank_system":"HR","rank_level":51,"price":25000,"shelling":"Normal Shot LV2",
		"extra":{"price_60":"15000","length":"Long","source":"Festival","sharpness_title":"306250"}}`), &rec); err != nil {
		t.Fatal(err)
	}
	extra := rec.Extra
	var got []string
	for _, s := range rec.stats(extra) {
		got = append(got, s.Label+" "+s.Value)
	}
	want := []string{"Attack 368", "Element Fire 160", "Status Poison 90", "Affinity -5%", "Slots 2", "Rarity 12", "G rank GR1",
		"Requires HR 51", "Price 25,000z", "Price at 60% 15,000z", "Shelling Normal Shot LV2", "Length Long"}
	if len(got) != len(want) {
		t.Fatalf("stats %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("stat %d: %q, want %q", i, got[i], want[i])
		}
	}
	if _, ok := extra["price_60"]; ok || extra["source"] != "Festival" {
		t.Errorf("extra left for the notes: %v, want the source and the sharpness title only", extra)
	}
}
