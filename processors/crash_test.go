package processors

import (
	"fmt"
	"testing"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// TestRouterCrashOrders replays inputs after the crashes goka allows: the group table (written
// before the weapon is sent) is ahead of the weapon topic and of the committed input offset, by
// one or several inputs of the same key. Each input that made a version must send exactly that
// (key, version, content) again, whatever came after it; an input that made no version is dropped.
// The table is set as the crash left it; the inputs are then consumed at the offsets it names.
func TestRouterCrashOrders(t *testing.T) {
	raw := fixture(t, "ken_base_tree")
	price := func(p int) []byte { return encode(t, withCell(t, raw, "Price", fmt.Sprint(p))) }
	type replay struct {
		value   []byte
		version int64 // of the weapon it must send; 0: none
	}
	tests := []struct {
		name string
		// before are consumed normally first; then the table is set to what the crash left:
		// made[i] is the version the i-th replayed input had made (0: none), from offset next+i.
		before  [][]byte
		replays []replay
		made    []int64
		stats   Snapshot
	}{
		{"the earlier send lost, the later table write landed",
			[][]byte{price(100)}, []replay{{price(200), 2}, {price(300), 3}}, []int64{2, 3},
			Snapshot{Read: 3, Forwarded: 1, Reemitted: 2}},
		{"an input that made no version, between two that did",
			[][]byte{price(100)}, []replay{{price(200), 2}, {price(200), 0}, {price(300), 3}}, []int64{2, 0, 3},
			Snapshot{Read: 4, Forwarded: 1, Reemitted: 2, Stale: 1}},
		{"only the last send lost",
			[][]byte{price(100)}, []replay{{price(200), 2}}, []int64{2},
			Snapshot{Read: 2, Forwarded: 1, Reemitted: 1}},
		{"content back to an older version is a new version",
			[][]byte{price(100), price(200)}, []replay{{price(100), 3}, {price(200), 4}}, []int64{3, 4},
			Snapshot{Read: 4, Forwarded: 2, Reemitted: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newRouterUnderTest(t)
			topic := u.names.Type(codecs.LongSword)
			for _, v := range tc.before {
				u.tt.Consume(u.input, raw.Key, v)
			}
			before := drain[*codecs.Weapon](t, u, topic)
			crashed := *u.state(t, raw.Key)
			next := u.tt.NewQueueTracker(u.input).Hwm()
			for i, r := range tc.replays {
				if tc.made[i] == 0 {
					continue
				}
				v := codecs.VersionSource{Version: tc.made[i], ContentHash: hashOf(t, r.value),
					Source: codecs.Source{Topic: u.input, Offset: next + int64(i)}}
				crashed.Recent = append(recentOf(&crashed), v)
				crashed.Version, crashed.ContentHash, crashed.Source = v.Version, v.ContentHash, v.Source
			}
			u.tt.SetTableValue(u.table, raw.Key, &crashed)

			for _, r := range tc.replays {
				u.tt.Consume(u.input, raw.Key, r.value)
			}
			got := drain[*codecs.Weapon](t, u, topic)[len(before):]
			var want []string
			for _, r := range tc.replays {
				if r.version > 0 {
					want = append(want, fmt.Sprintf("v%d %s", r.version, hashOf(t, r.value)))
				}
			}
			if len(got) != len(want) {
				t.Fatalf("sent %d weapons after the crash, want %d (%v)", len(got), len(want), want)
			}
			for i, w := range got {
				if s := fmt.Sprintf("v%d %s", w.Version, w.ContentHash); s != want[i] {
					t.Errorf("weapon %d sent after the crash: %s, want %s", i, s, want[i])
				}
			}
			if st := u.state(t, raw.Key); st.Version != crashed.Version || len(st.Recent) != len(crashed.Recent) {
				t.Errorf("table after the replay: %+v, want it as the crash left it (version %d)", st, crashed.Version)
			}
			// SetTableValue wrote goka's local copy only, as a crash can leave it: the state must
			// reach the table's topic, which a rebuilt copy is recovered from.
			if last := lastTableWrite(t, u, raw.Key); last == nil || last.Version != crashed.Version ||
				last.ContentHash != crashed.ContentHash {
				t.Errorf("last write of the table topic: %+v, want the state of version %d", last, crashed.Version)
			}
			s := u.router.Stats()
			if s.Read != tc.stats.Read || s.Forwarded != tc.stats.Forwarded || s.Reemitted != tc.stats.Reemitted ||
				s.Stale != tc.stats.Stale || s.Unchanged != tc.stats.Unchanged || s.DeadLetters != 0 {
				t.Errorf("stats %+v, want %+v", s, tc.stats)
			}
		})
	}
}

// TestRouterKeepsRecentVersionsBounded: the table remembers the last recentVersions versions of a
// key, with their inputs; the last one is the state's own.
func TestRouterKeepsRecentVersionsBounded(t *testing.T) {
	u := newRouterUnderTest(t)
	raw := fixture(t, "ken_base_tree")
	const n = recentVersions + 3
	for i := range n {
		u.tt.Consume(u.input, raw.Key, encode(t, withCell(t, raw, "Price", fmt.Sprint(1000+i))))
	}
	st := u.state(t, raw.Key)
	if st.Version != n || len(st.Recent) != recentVersions {
		t.Fatalf("state version %d with %d recent versions, want %d and %d", st.Version, len(st.Recent), n, recentVersions)
	}
	for i, v := range st.Recent {
		wantVersion := int64(n - recentVersions + 1 + i)
		if v.Version != wantVersion || v.Source.Offset != wantVersion-1 {
			t.Errorf("recent[%d] = %+v, want version %d from offset %d", i, v, wantVersion, wantVersion-1)
		}
	}
	if last := st.Recent[len(st.Recent)-1]; last.Version != st.Version || last.ContentHash != st.ContentHash || last.Source != st.Source {
		t.Errorf("last recent %+v is not the state's version %d", last, st.Version)
	}
}

// lastTableWrite is the last state of key written to the group table's topic.
func lastTableWrite(t *testing.T, u *routerUnderTest, key string) *codecs.DedupState {
	t.Helper()
	tr := u.tt.NewQueueTracker(string(u.table))
	tr.Seek(0)
	var last *codecs.DedupState
	for {
		k, v, ok := tr.Next()
		if !ok {
			return last
		}
		if k == key {
			last = v.(*codecs.DedupState)
		}
	}
}
