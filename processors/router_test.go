package processors

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/processors/weaponrow"
)

// routerUnderTest is a router on goka's tester: real callback, in-memory Kafka.
type routerUnderTest struct {
	tt     *tester.Tester
	names  codecs.Names
	router *Router
	input  string
	table  goka.Table
}

// newRouterUnderTest runs a router on goka's tester; configure, if given, changes its config.
func newRouterUnderTest(t *testing.T, configure ...func(*Config)) *routerUnderTest {
	t.Helper()
	tt := tester.New(t)
	names := codecs.Names{Prefix: "unit."}
	now := func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }
	cfg := DefaultConfig()
	cfg.Names, cfg.Kafka.Brokers, cfg.Progress = names, nil, 0 // goka's tester stands in for Kafka
	cfg.Logger, cfg.Now, cfg.MaxMessageBytes = slog.New(slog.NewTextHandler(io.Discard, nil)), now, 96<<10
	for _, c := range configure {
		c(&cfg)
	}
	r, err := New(cfg, goka.WithTester(tt))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("router stopped with %v", err)
		}
	})
	return &routerUnderTest{tt: tt, names: names, router: r, input: string(names.WeaponData()),
		table: goka.GroupTable(goka.Group(names.RouterGroup()))}
}

// emitted drains a topic: the weapons (or dead letters) written since the last call.
func drain[T any](t *testing.T, u *routerUnderTest, topic codecs.Topic) []T {
	t.Helper()
	tr := u.tt.NewQueueTracker(string(topic))
	tr.Seek(0)
	var out []T
	for {
		_, v, ok := tr.Next()
		if !ok {
			return out
		}
		out = append(out, v.(T))
	}
}

func (u *routerUnderTest) state(t *testing.T, key string) *codecs.DedupState {
	t.Helper()
	v := u.tt.TableValue(u.table, key)
	if v == nil {
		return nil
	}
	return v.(*codecs.DedupState)
}

// TestRouterVersions walks one key through every dedup branch: new, identical, changed,
// re-delivered at the offset of its last version (the crash window), and stale.
func TestRouterVersions(t *testing.T) {
	u := newRouterUnderTest(t)
	raw := fixture(t, "ken_base_tree")
	topic := u.names.Type(codecs.LongSword)
	v1 := encode(t, raw)
	changed := encode(t, withCell(t, raw, "Price", "1600"))

	u.tt.Consume(u.input, raw.Key, v1) // offset 0
	got := drain[*codecs.Weapon](t, u, topic)
	if len(got) != 1 || got[0].Version != 1 || got[0].Key != raw.Key || *got[0].Price != 1575 {
		t.Fatalf("new record: got %+v, want one weapon version 1 with price 1575", got)
	}
	st := u.state(t, raw.Key)
	if st == nil || st.Version != 1 || st.ContentHash != got[0].ContentHash || st.Source.Offset != 0 ||
		!st.FirstSeen.Equal(raw.ScrapedAt) {
		t.Fatalf("state after v1: %+v", st)
	}

	// The same content scraped again later: dropped, last seen moves on.
	later := *raw
	later.ScrapedAt = raw.ScrapedAt.Add(time.Hour)
	later.URL = "https://example.org/buki/tachi.htm"  // not content: must not make a version
	u.tt.Consume(u.input, raw.Key, encode(t, &later)) // offset 1
	if got := drain[*codecs.Weapon](t, u, topic); len(got) != 1 {
		t.Fatalf("identical record: %d weapons on the topic, want still 1", len(got))
	}
	if st := u.state(t, raw.Key); st.Version != 1 || !st.LastSeen.Equal(later.ScrapedAt) || st.Source.Offset != 0 {
		t.Fatalf("state after identical: %+v, want version 1, last seen moved, source kept", st)
	}

	u.tt.Consume(u.input, raw.Key, changed) // offset 2
	got = drain[*codecs.Weapon](t, u, topic)
	if len(got) != 2 || got[1].Version != 2 || *got[1].Price != 1600 || got[1].ContentHash == got[0].ContentHash {
		t.Fatalf("changed record: got %d weapons, last %+v; want version 2 with price 1600", len(got), got[len(got)-1])
	}
	if st := u.state(t, raw.Key); st.Version != 2 || st.Source.Offset != 2 || !st.FirstSeen.Equal(raw.ScrapedAt) {
		t.Fatalf("state after v2: %+v", st)
	}

	// The crash window: the table holds version 3 made from the input at the next offset, but
	// the weapon never left (the process died before the send). The input comes again: the same
	// version must be sent, not dropped as unchanged.
	next := u.tt.NewQueueTracker(u.input).Hwm()
	v3 := encode(t, withCell(t, raw, "Price", "1700"))
	hash3 := hashOf(t, v3)
	u.tt.SetTableValue(u.table, raw.Key, &codecs.DedupState{ContentHash: hash3, Version: 3,
		FirstSeen: raw.ScrapedAt, LastSeen: raw.ScrapedAt,
		Source: codecs.Source{Topic: u.input, Partition: 0, Offset: next}})
	u.tt.Consume(u.input, raw.Key, v3)
	got = drain[*codecs.Weapon](t, u, topic)
	if len(got) != 3 || got[2].Version != 3 || got[2].ContentHash != hash3 || got[2].Source.Offset != next {
		t.Fatalf("re-delivered input: got %d weapons, last %+v; want version 3 re-emitted", len(got), got[len(got)-1])
	}

	// An input older than the one that made the last version (redelivered after a crash that
	// lost the offset commits): superseded, dropped.
	u.tt.SetTableValue(u.table, raw.Key, &codecs.DedupState{ContentHash: hash3, Version: 3,
		Source: codecs.Source{Topic: u.input, Partition: 0, Offset: next + 10}})
	u.tt.Consume(u.input, raw.Key, v1)
	if got := drain[*codecs.Weapon](t, u, topic); len(got) != 3 {
		t.Fatalf("stale input: %d weapons, want still 3", len(got))
	}

	s := u.router.Stats()
	if s.Read != 5 || s.Forwarded != 2 || s.Unchanged != 1 || s.Reemitted != 1 || s.Stale != 1 || s.DeadLetters != 0 {
		t.Fatalf("stats %+v, want read 5 = forwarded 2 + unchanged 1 + reemitted 1 + stale 1", s)
	}
	if s.Done() != s.Read {
		t.Fatalf("stats do not add up: %+v", s)
	}
}

func hashOf(t *testing.T, data []byte) string {
	t.Helper()
	raw, err := codecs.DecodeRaw(data)
	if err != nil {
		t.Fatal(err)
	}
	w, err := weaponrow.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	findings, err := weaponrow.Validate(w)
	if err != nil {
		t.Fatal(err)
	}
	w.Quality = append(w.Quality, findings...)
	h, err := ContentHash(w)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// panicOn is a parser that panics on the records of one row id, as a parser with a bug would.
func panicOn(rowID string) func(*Config) {
	return func(c *Config) {
		c.Parse = func(raw *codecs.RawRecord) (*codecs.Weapon, error) {
			if raw.RowID == rowID {
				var cells map[string]int
				cells[raw.Key]++ // assignment to entry in nil map
			}
			return weaponrow.Parse(raw)
		}
	}
}

// TestRouterDeadLetters sends every kind of bad input: each must reach the dead-letter topic
// with its kind, a reason naming what is wrong, (a bounded prefix of) its original bytes with
// their size and SHA-256, and where it was read, and the router must go on with the next input.
func TestRouterDeadLetters(t *testing.T) {
	good := fixture(t, "ken_base_tree")
	mutate := func(f func(*codecs.RawRecord)) []byte {
		c := *good
		f(&c)
		return encode(t, &c)
	}
	tests := []struct {
		name, key string
		value     []byte
		kind      string
		reason    string
	}{
		{"empty message", good.Key, nil, KindEmpty, "empty"},
		{"huge message", good.Key, []byte(`{"pad":"` + strings.Repeat("x", 100<<10) + `"}`), KindTooLarge, "102410 bytes, more than the 98304"},
		{"huge message with a huge key", strings.Repeat("k", 90<<10), []byte(`{"pad":"` + strings.Repeat("x", 100<<10) + `"}`), KindTooLarge, "(92160 bytes)"},
		{"over the dead letter's bound, under the router's", good.Key, []byte(`{"pad":"` + strings.Repeat("x", 80<<10) + `"}`), KindSchema, "missing schema"},
		{"invalid UTF-8", good.Key, []byte("{\"schema\":1,\"key\":\"long_sword/base/l000A\",\"page\":\"tachi\xff.htm\"}"), KindUTF8, "not valid UTF-8: byte 0xff at offset 55"},
		{"truncated UTF-8 sequence", good.Key, append(encode(t, good)[:30], 0xe3, 0x81), KindUTF8, "not valid UTF-8: byte 0xe3 at offset 30"},
		{"an array", good.Key, []byte(`[{"schema":1}]`), KindShape, "a JSON array, not a JSON object"},
		{"a string", good.Key, []byte(`"long_sword/base/l000A"`), KindShape, "a JSON string, not a JSON object"},
		{"a number", good.Key, []byte(` 42`), KindShape, "a JSON number, not a JSON object"},
		{"null", good.Key, []byte(`null`), KindShape, "JSON null, not a JSON object"},
		{"a field of the wrong type", good.Key, []byte(`{"schema":"1","key":"long_sword/base/l000A"}`), KindShape, `field "schema" is a JSON string, want an integer`},
		{"a nested field of the wrong type", good.Key, []byte(`{"schema":1,"cells":[{"header":"Name","html":7}]}`), KindShape, `field "cells.0.html" is a JSON number, want a string`},
		{"cells not an array", good.Key, []byte(`{"schema":1,"cells":{"Name":"x"}}`), KindShape, `field "cells" is a JSON object, want an array`},
		{"malformed JSON", good.Key, []byte(`{"schema":1,"key":`), KindJSON, "malformed JSON"},
		{"malformed array", good.Key, []byte(`[{"schema":1}`), KindJSON, "malformed JSON"},
		{"not JSON at all", good.Key, []byte("<html>"), KindJSON, "malformed JSON"},
		{"the parser panics", good.Key, mutate(func(r *codecs.RawRecord) { r.RowID = "lPANIC" }), KindPanic,
			`message "long_sword/base/l000A": the parser panicked: assignment to entry in nil map`},
		{"unknown schema", good.Key, mutate(func(r *codecs.RawRecord) { r.Schema = 99 }), KindSchema, "schema 99"},
		{"no schema", good.Key, mutate(func(r *codecs.RawRecord) { r.Schema = 0 }), KindSchema, "missing schema"},
		{"missing type", good.Key, mutate(func(r *codecs.RawRecord) { r.WeaponType = "" }), KindType, "missing weapon_type"},
		{"unknown type", good.Key, mutate(func(r *codecs.RawRecord) { r.WeaponType = "chainsaw" }), KindType, `"chainsaw"`},
		{"missing key", "", mutate(func(r *codecs.RawRecord) { r.Key = "" }), KindEnvelope, "missing key"},
		{"missing row id", good.Key, mutate(func(r *codecs.RawRecord) { r.RowID = "" }), KindEnvelope, "row_id"},
		{"key not the message key", "other/key", encode(t, good), KindEnvelope, "not the message key"},
		{"unknown layout", good.Key, mutate(func(r *codecs.RawRecord) { r.Layout = "table9" }), KindLayout, `"table9"`},
		{"unknown page kind", good.Key, mutate(func(r *codecs.RawRecord) { r.PageKind = "beta" }), KindLayout, `"beta"`},
		{"attack not a number", good.Key, encode(t, withCell(t, good, "Attributes", "abc 0%")), KindParse, `attack "abc 0%"`},
		{"item without quantity", good.Key, encode(t, withCell(t, good, "Creation Mats", `<a href="../sozai/sozai.htm?00DA">Machalite Ore</a>`)), KindParse, "no quantity"},
		{"no name", good.Key, encode(t, withCell(t, good, "Name", "")), KindInvalid, "no name"},
		{"attack beyond int4", good.Key, encode(t, withCell(t, good, "Attributes", "3000000000 0%")), KindUnstorable, "attack 3000000000"},
		{"missing required column", good.Key, mutate(func(r *codecs.RawRecord) { r.Cells = r.Cells[:2] }), KindInvalid, "no attack/attributes column"},
	}
	u := newRouterUnderTest(t, panicOn("lPANIC"))
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			offset := u.tt.NewQueueTracker(u.input).Hwm()
			if tc.value == nil {
				u.tt.Consume(u.input, tc.key, nil)
			} else {
				u.tt.Consume(u.input, tc.key, tc.value)
			}
			dls := drain[*codecs.DeadLetter](t, u, u.names.DeadLetter())
			if len(dls) != i+1 {
				t.Fatalf("%d dead letters, want %d", len(dls), i+1)
			}
			d := dls[i]
			if d.Kind != tc.kind || !strings.Contains(d.Reason, tc.reason) {
				t.Fatalf("dead letter kind %q reason %q; want kind %q, reason containing %q", d.Kind, d.Reason, tc.kind, tc.reason)
			}
			kept, truncated := tc.value, false
			if len(kept) > codecs.MaxDeadLetterValue {
				kept, truncated = kept[:codecs.MaxDeadLetterValue], true
			}
			key := tc.key
			if len(key) > codecs.MaxDeadLetterKey {
				key = key[:codecs.MaxDeadLetterKey-len("…(cut)")] + "…(cut)"
			}
			sum := sha256.Sum256(tc.value)
			if !bytes.Equal(d.Value, kept) || d.Truncated != truncated || d.Size != len(tc.value) ||
				d.SHA256 != hex.EncodeToString(sum[:]) || d.Key != key || d.Source.Offset != offset ||
				d.Source.Topic != u.input || d.FailedAt.IsZero() || len(d.Reason) > codecs.MaxDeadLetterReason {
				t.Fatalf("dead letter: value %d bytes, truncated %v, size %d, sha256 %s, key %d bytes, source %+v, reason %d bytes; "+
					"want the input's first %d bytes (truncated %v) of %d, its SHA-256, key and offset %d",
					len(d.Value), d.Truncated, d.Size, d.SHA256, len(d.Key), d.Source, len(d.Reason), len(kept), truncated, len(tc.value), offset)
			}
		})
	}
	s := u.router.Stats()
	if s.DeadLetters != int64(len(tests)) || s.Forwarded != 0 || s.Read != s.Done() {
		t.Fatalf("stats %+v, want %d dead letters and nothing forwarded", s, len(tests))
	}
	for _, kind := range Kinds {
		if s.DeadLettersByKind[kind] == 0 {
			t.Errorf("no dead letter of kind %q counted", kind)
		}
	}
	// The router goes on after bad inputs.
	u.tt.Consume(u.input, good.Key, encode(t, good))
	if got := drain[*codecs.Weapon](t, u, u.names.Type(codecs.LongSword)); len(got) != 1 {
		t.Fatalf("after the bad inputs, a good one: %d weapons, want 1", len(got))
	}
}

// TestRouterFlagsQuality: an implausible value is stored as the site shows it, with a finding
// per value, counted by rule.
func TestRouterFlagsQuality(t *testing.T) {
	u := newRouterUnderTest(t)
	good := fixture(t, "ken_base_tree")
	odd := withCell(t, withCell(t, good, "Rarity", "99"), "Attributes", "480 250%<br>麻痺 102400")
	u.tt.Consume(u.input, odd.Key, encode(t, odd))
	got := drain[*codecs.Weapon](t, u, u.names.Type(codecs.LongSword))
	want := []codecs.Finding{{Field: "rarity", Value: "99", Rule: "rarity_range"},
		{Field: "affinity", Value: "250", Rule: "affinity_range"},
		{Field: "elements[0].value", Value: "102400", Rule: "element_range"}}
	if len(got) != 1 || got[0].Version != 1 || *got[0].Rarity != 99 || got[0].Elements[0].Value != 102400 ||
		!reflect.DeepEqual(got[0].Quality, want) {
		t.Fatalf("weapons %s; want version 1 with rarity 99, para 102400 and the findings %s", show(got), show(want))
	}
	s := u.router.Stats()
	if s.DeadLetters != 0 || s.Forwarded != 1 || s.FindingsByRule["rarity_range"] != 1 ||
		s.FindingsByRule["element_range"] != 1 || len(s.FindingsByRule) != 3 {
		t.Fatalf("stats %+v; want one forwarded, one finding of each rule", s)
	}
}

// TestRouterRoutesEachType sends a record of every weapon type, and a partner weapon: each must
// reach its own topic and no other.
func TestRouterRoutesEachType(t *testing.T) {
	u := newRouterUnderTest(t)
	base := fixture(t, "ken_base_tree")
	for _, wt := range codecs.WeaponTypes {
		r := *base
		r.WeaponType = wt
		r.Key = codecs.RecordKey(wt, r.PageKind, r.RowID, 1)
		u.tt.Consume(u.input, r.Key, encode(t, &r))
	}
	partner := fixture(t, "ken_partner")
	u.tt.Consume(u.input, partner.Key, encode(t, partner))
	for _, wt := range codecs.WeaponTypes {
		got := drain[*codecs.Weapon](t, u, u.names.Type(wt))
		if len(got) != 1 || got[0].WeaponType != wt || got[0].Key != codecs.RecordKey(wt, codecs.KindBase, base.RowID, 1) {
			t.Errorf("topic %s: %d weapons (%+v), want the one %s", u.names.Type(wt), len(got), got, wt)
		}
	}
	got := drain[*codecs.Weapon](t, u, u.names.Partner())
	if len(got) != 1 || got[0].Key != partner.Key || got[0].PageKind != codecs.KindPartner {
		t.Errorf("partner topic: %+v, want the partner weapon %s", got, partner.Key)
	}
	s := u.router.Stats()
	if s.Forwarded != int64(len(codecs.WeaponTypes)+1) || len(s.ByTopic) != len(codecs.WeaponTypes)+1 {
		t.Errorf("stats %+v, want one forwarded per topic", s)
	}
}

// TestClassifyDecode lists every error of codecs.DecodeRaw and the kind classifyDecode gives it.
func TestClassifyDecode(t *testing.T) {
	tests := map[string]string{
		"":                       KindEmpty,
		"{":                      KindJSON,
		`{"schema":7,"key":"k"}`: KindSchema,
		`{"schema":1}`:           KindEnvelope,
		`{"schema":1,"key":"k"}`: KindType,
		`{"schema":1,"key":"k","weapon_type":"bow"}`:       KindEnvelope,
		`{"schema":1,"key":"k","weapon_type":"boomerang"}`: KindType,
	}
	for in, want := range tests {
		_, err := codecs.DecodeRaw([]byte(in))
		if err == nil {
			t.Fatalf("DecodeRaw(%q) accepted it", in)
		}
		if got := classifyDecode(err); got != want {
			t.Errorf("classifyDecode(%v) = %q, want %q", err, got, want)
		}
	}
}
