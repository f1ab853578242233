package processors

import (
	"testing"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// TestContentHashOfMovedFields: a field that earlier builds kept in Extra hashes as it did there,
// so that moving it to a typed field makes no new version of the weapons that have it; and the
// weapon hashed is left as it was.
func TestContentHashOfMovedFields(t *testing.T) {
	typed := codecs.Weapon{Key: "bow/ravi/l1", Name: "Bow", Extra: map[string]string{"length": "Long"},
		ZenithSkill: "Skill Slots Up+1"}
	before := codecs.Weapon{Key: "bow/ravi/l1", Name: "Bow",
		Extra: map[string]string{"length": "Long", "zenith_skill": "Skill Slots Up+1"}}
	a, errA := ContentHash(&typed)
	b, errB := ContentHash(&before)
	if errA != nil || errB != nil || a != b {
		t.Fatalf("ZenithSkill hashes %s (%v), Extra[zenith_skill] as before %s (%v): want the same", a, errA, b, errB)
	}
	if typed.ZenithSkill != "Skill Slots Up+1" || len(typed.Extra) != 1 {
		t.Fatalf("hashing changed the weapon: %+v", typed)
	}
	other := typed
	other.ZenithSkill = "Skill Slots Up+2"
	if h, _ := ContentHash(&other); h == a {
		t.Fatal("another Zenith Skill kept the hash")
	}
	none := typed
	none.ZenithSkill = ""
	if h, _ := ContentHash(&none); h == a {
		t.Fatal("no Zenith Skill kept the hash")
	}
}
