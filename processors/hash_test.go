package processors

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/processors/weaponrow"
)

func ip(n int) *int { return &n }

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestContentHash: what is not content (scrape time, URL, source, version) does not change the
// hash; any parsed value does.
func TestContentHash(t *testing.T) {
	raw := fixture(t, "gun_base_defense")
	w, err := weaponrow.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := ContentHash(w)
	same := *w
	same.ScrapedAt, same.URL, same.Version = time.Now(), "https://mirror/x", 9
	same.Source = codecs.Source{Topic: "t", Partition: 3, Offset: 99}
	if h, _ := ContentHash(&same); h != base {
		t.Fatal("scrape time, URL, version or source changed the content hash")
	}
	changes := map[string]func(w *codecs.Weapon){
		"attack":      func(w *codecs.Weapon) { w.Attack = ip(229) },
		"ammo":        func(w *codecs.Weapon) { b := *w.Bowgun; b.Reload = "Fast"; w.Bowgun = &b },
		"extra":       func(w *codecs.Weapon) { w.Extra = map[string]string{"source": "Gacha"} },
		"description": func(w *codecs.Weapon) { w.Description += "。" },
	}
	for name, change := range changes {
		c := *w
		change(&c)
		if h, _ := ContentHash(&c); h == base {
			t.Errorf("a change of %s kept the hash", name)
		}
	}
}

// TestDecodeMatchesDecodeRaw: the router's fast decoder gives the parser the same record as
// codecs.DecodeRaw, on every fixture.
func TestDecodeMatchesDecodeRaw(t *testing.T) {
	for _, name := range []string{"ken_base_tree", "ken_g_hidden", "gun_rapid_fire", "bow_base", "tower_gunlance", "horn_notes"} {
		data := encode(t, fixture(t, name))
		full, err := codecs.DecodeRaw(data)
		if err != nil {
			t.Fatal(err)
		}
		lean, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		a, errA := weaponrow.Parse(full)
		b, errB := weaponrow.Parse(lean)
		if errA != nil || errB != nil || show(a) != show(b) {
			t.Errorf("%s: Parse(DecodeRaw) = %s (%v), Parse(Decode) = %s (%v)", name, show(a), errA, show(b), errB)
		}
	}
}

// TestSentWeaponAsEncoded: the router writes each weapon it sends from the JSON it hashed
// (hashed.encodeWeapon), to the bytes codecs.WeaponCodec writes, for every fixture row, with
// and without the characters the two encodings escape differently, and with a Zenith skill.
func TestSentWeaponAsEncoded(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("weaponrow", "testdata", "raw"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".json")
		w, err := weaponrow.Parse(fixture(t, name))
		if err != nil {
			continue // the fixtures of bad rows
		}
		variants := map[string]func(w *codecs.Weapon){
			"as parsed": func(*codecs.Weapon) {},
			"escapes":   func(w *codecs.Weapon) { w.Name += ` <&> "` },
			"zenith":    func(w *codecs.Weapon) { w.ZenithSkill = "Skill Slots Up+1" },
		}
		for variant, change := range variants {
			v := *w
			change(&v)
			h := newHashed()
			if err := h.hash(&v); err != nil {
				t.Fatal(err)
			}
			if want, _ := ContentHash(&v); h.sum != want {
				t.Fatalf("%s, %s: hash %s, ContentHash %s", name, variant, h.sum, want)
			}
			v.Version, v.ContentHash, v.URL = 4, h.sum, "https://mirror/<x>&y"
			v.ScrapedAt = time.Date(2025, 10, 22, 1, 2, 3, 4, time.UTC)
			v.Source = codecs.Source{Topic: "mhfz.weapon_data", Partition: 3, Offset: 99}
			got, err := h.encodeWeapon(&v)
			want, _ := codecs.WeaponCodec{}.Encode(&v)
			if err != nil || string(got) != string(want) {
				t.Fatalf("%s, %s: sent\n%s (%v)\nwant\n%s", name, variant, got, err, want)
			}
			h.release()
		}
	}
}
