package e2e

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
	"github.com/lovoo/goka/tester"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/processors"
	"github.com/mhfz/mhfz-pipeline/processors/weaponrow"
)

// apophisKey is the row of the Apophis Axe "Glory" (slaxe_s.htm l40A7) and its 99 level rows,
// whose status the older snapshot gives as 麻痺 102400 and more.
const apophisKey = "switch_axe_f/ravi/l40A7"

// TestRouterOnBothSnapshots runs every real row of both snapshots, older then newest, through the
// router on goka's tester. No row is a dead letter. The 100 Apophis Axe "Glory" rows of the older
// snapshot are stored as version 1 with an element_range finding on their status, and get their
// version 2, without it, from the newest; tachi_sp.htm's 207 malformed item links are findings.
func TestRouterOnBothSnapshots(t *testing.T) {
	// CPU only, no service: run beside the tests that mostly wait (TestReadyzFailsWhileTheBrokerIsDown).
	t.Parallel()
	tt := tester.New(t)
	names := codecs.Names{Prefix: "corpus."}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The group table on LevelDB: goka's in-memory storage, the tester's, sorts every key at each
	// write, quadratic over a corpus.
	cfg := routerConfig(names, processors.KafkaSetup{}, quiet) // no brokers: goka's tester stands in
	r, err := processors.New(cfg, goka.WithTester(tt), goka.WithStorageBuilder(storage.DefaultBuilder(t.TempDir())))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("router stopped with %v", err)
		}
	}()
	axes := tt.NewQueueTracker(string(names.Type(codecs.SwitchAxeF)))
	swords := tt.NewQueueTracker(string(names.Type(codecs.LongSword)))

	for _, rec := range snapshotRecords(t, testenv.Older) {
		tt.Consume(string(names.WeaponData()), rec.key, rec.value)
	}
	older := r.Stats()
	t.Logf("older snapshot: %+v", older)
	if older.Read != corpusRows || older.Forwarded != corpusRows || older.DeadLetters != 0 {
		t.Fatalf("older snapshot: %+v; want every one of %d rows forwarded, no dead letter", older, corpusRows)
	}
	v1 := apophis(t, axes)
	for key, w := range v1 {
		para := w.Elements[1]
		want := codecs.Finding{Field: "elements[1].value", Value: strconv.Itoa(para.Value), Rule: "element_range"}
		if w.Version != 1 || para.Kind != "para" || para.Value < 102400 || len(w.Quality) != 1 || w.Quality[0] != want {
			t.Fatalf("%s: version %d, elements %+v, quality %+v; want version 1, para >= 102400 flagged %+v",
				key, w.Version, w.Elements, w.Quality, want)
		}
	}
	if len(v1) != 100 || older.FindingsByRule["element_range"] != 100 {
		t.Fatalf("%d Apophis Axe rows forwarded, %d element_range findings; want 100 of each", len(v1), older.FindingsByRule["element_range"])
	}
	if malformed := malformedLinks(drainQueue(swords)); malformed != 207 {
		t.Fatalf("%d malformed item links of tachi_sp.htm flagged; want the 207 of the page", malformed)
	}

	for _, rec := range snapshotRecords(t, testenv.Newest) {
		tt.Consume(string(names.WeaponData()), rec.key, rec.value)
	}
	s := r.Stats()
	t.Logf("both snapshots: %+v", s)
	if s.Read != 2*corpusRows || s.DeadLetters != 0 || s.Done() != s.Read {
		t.Fatalf("newest snapshot: %+v; want every row read, no dead letter", s)
	}
	v2 := apophis(t, axes)
	for key := range v1 {
		w, ok := v2[key]
		if !ok || w.Version != 2 || len(w.Quality) != 0 {
			t.Fatalf("%s in the newest snapshot: %+v; want version 2 without findings", key, w)
		}
	}
	if s.FindingsByRule[weaponrow.RuleItemLinkMalformed] < 207 {
		t.Fatalf("%d malformed item links counted; want at least tachi_sp.htm's 207", s.FindingsByRule[weaponrow.RuleItemLinkMalformed])
	}
	drainQueue(swords)
}

// malformedLinks counts the malformed item links of tachi_sp.htm among weapons, each repaired to
// its hex id.
func malformedLinks(ws []*codecs.Weapon) int {
	n := 0
	for _, w := range ws {
		if w.Page != "tachi_sp.htm" {
			continue
		}
		for _, f := range w.Quality {
			if f.Rule == weaponrow.RuleItemLinkMalformed && strings.HasSuffix(f.Value, `"`) &&
				strings.HasSuffix(f.Field, ".item_id") {
				n++
			}
		}
	}
	return n
}

// drainQueue reads the weapons written to a tracked topic since the last call.
func drainQueue(tr *tester.QueueTracker) []*codecs.Weapon {
	var out []*codecs.Weapon
	for {
		_, v, ok := tr.Next()
		if !ok {
			return out
		}
		out = append(out, v.(*codecs.Weapon))
	}
}

// apophis reads the switch axes sent since the last call and returns the Apophis Axe "Glory" rows
// among them, by key.
func apophis(t *testing.T, axes *tester.QueueTracker) map[string]*codecs.Weapon {
	t.Helper()
	out := map[string]*codecs.Weapon{}
	for _, w := range drainQueue(axes) {
		if strings.HasPrefix(w.Key, apophisKey) && w.Name == `Apophis Axe "Glory"` {
			out[w.Key] = w
		}
	}
	return out
}
