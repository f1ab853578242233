package sink

import (
	"context"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// TestStoresZenithSkill: a weapon's Zenith Skill is stored in its table's zenith_skill column
// (00012), which the _current view shows, and not in extra; a weapon without one has NULL.
func TestStoresZenithSkill(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	bow, partner, without := synthWeapon(13), synthWeapon(14), synthWeapon(20) // a bow, a partner, a lance
	bow.ZenithSkill, partner.ZenithSkill = "Skill Slots Up+1", "Test Skill Up+2"
	weapons := []*codecs.Weapon{bow, partner, without}
	var msgs []message
	for _, w := range weapons {
		msgs = append(msgs, weaponMessage(t, f.names, w))
	}
	f.produce(t, msgs)
	r := start(t, f.config(nil), nil)
	f.waitConsumed(t, int64(len(msgs)), time.Minute)
	r.settled(t)
	if st := r.stop(t); st.Stored != int64(len(msgs)) {
		t.Fatalf("stats %+v: want %d stored", st, len(msgs))
	}
	for _, w := range weapons {
		for _, rel := range []string{tableOf(w), tableOf(w) + "_current"} {
			var skill *string
			var inExtra bool
			err := f.db.QueryRow(context.Background(), `SELECT zenith_skill, extra ? 'zenith_skill' FROM `+rel+
				` WHERE key = $1`, w.Key).Scan(&skill, &inExtra)
			if err != nil {
				t.Fatalf("%s %s: %v", rel, w.Key, err)
			}
			if got := orEmpty(skill); got != w.ZenithSkill || (w.ZenithSkill == "") != (skill == nil) || inExtra {
				t.Errorf("%s %s: zenith_skill %v, in extra %t; want %q (NULL for none), not in extra", rel, w.Key, got, inExtra, w.ZenithSkill)
			}
		}
	}
}

func orEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
