package codecs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	json "github.com/goccy/go-json"
)

func TestParsePageName(t *testing.T) {
	tests := []struct {
		page string
		typ  WeaponType
		kind PageKind
		err  string
	}{
		{"tachi.htm", LongSword, KindBase, ""},
		{"tachi_g.htm", LongSword, KindG, ""},
		{"heavy_s.htm", HeavyBowgun, KindRavi, ""},
		{"yumi_n.htm", Bow, KindRNGCat, ""},
		{"slaxe_sp.htm", SwitchAxeF, KindSP, ""},
		{"magspike_t.htm", MagnetSpike, KindTower, ""},
		{"taiken_partnya.htm", GreatSword, KindPartner, ""},
		{"buki.htm", "", "", `unknown weapon page prefix "buki"`},
		{"tachi_x.htm", "", "", `unknown page kind suffix "_x"`},
		{"style.css", "", "", "not a .htm page"},
	}
	for _, tc := range tests {
		typ, kind, err := ParsePageName(tc.page)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.page) {
				t.Errorf("%s: error %v, want one naming the page and %q", tc.page, err, tc.err)
			}
			continue
		}
		if err != nil || typ != tc.typ || kind != tc.kind {
			t.Errorf("%s: %q %q %v, want %q %q", tc.page, typ, kind, err, tc.typ, tc.kind)
		}
		if back := PageName(typ, kind); back != tc.page {
			t.Errorf("PageName(%q, %q) = %q, want %q", typ, kind, back, tc.page)
		}
	}
}

func TestRecordKeyKeepsRepeatedIDsApart(t *testing.T) {
	first := RecordKey(LongSword, KindG, "l3FEC50", 1)
	second := RecordKey(LongSword, KindG, "l3FEC50", 2)
	if first != "long_sword/g/l3FEC50" || second == first {
		t.Fatalf("keys %q and %q: want the plain key first and a distinct one for the repeat", first, second)
	}
}

func TestNamesPrefixEveryTopicAndGroup(t *testing.T) {
	for _, n := range []Names{{}, {Prefix: "t1."}} {
		all := append(n.WeaponTopics(), n.WeaponData(), n.DeadLetter())
		seen := map[Topic]bool{}
		for _, topic := range all {
			if !strings.HasPrefix(string(topic), n.Prefix) || seen[topic] {
				t.Errorf("prefix %q: topic %q is unprefixed or repeated", n.Prefix, topic)
			}
			seen[topic] = true
		}
		if len(all) != len(WeaponTypes)+3 {
			t.Errorf("prefix %q: %d topics, want one per type, partners, input and dead letters", n.Prefix, len(all))
		}
		if !strings.HasPrefix(string(n.RouterGroup()), n.Prefix) || !strings.HasPrefix(string(n.SinkConsumer()), n.Prefix) {
			t.Errorf("prefix %q: groups %q %q unprefixed", n.Prefix, n.RouterGroup(), n.SinkConsumer())
		}
	}
	n := Names{}
	if got, _ := n.Route(Hammer, KindPartner); got != PartnerTopic {
		t.Errorf("partner hammer routed to %q, want %q", got, PartnerTopic)
	}
	if got, _ := n.Route(Bow, KindG); got != "weapons.bow" {
		t.Errorf("G-rank bow routed to %q, want weapons.bow", got)
	}
	if _, err := n.Route("spear", KindBase); err == nil {
		t.Error("an unknown type was routed")
	}
}

func TestDecodeRawRejectsBadEnvelopes(t *testing.T) {
	tests := []struct {
		name, input, want string
	}{
		{"empty", ``, "empty message"},
		{"not json", `{"schema":`, "malformed JSON"},
		{"future schema", `{"schema":3,"key":"k","weapon_type":"bow","row_id":"l1"}`, "unknown schema version"},
		{"no key", `{"schema":1,"weapon_type":"bow","row_id":"l1"}`, "missing key"},
		{"no type", `{"schema":1,"key":"k","row_id":"l1"}`, "missing weapon_type"},
		{"unknown type", `{"schema":1,"key":"k","weapon_type":"spear","row_id":"l1"}`, `unknown weapon_type "spear"`},
		{"no row id", `{"schema":1,"key":"k","weapon_type":"bow"}`, "missing row_id"},
	}
	for _, tc := range tests {
		_, err := DecodeRaw([]byte(tc.input))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	_, err := DecodeRaw([]byte(`{"schema":9,"key":"k","weapon_type":"bow","row_id":"l1"}`))
	if !errors.Is(err, ErrUnknownSchema) {
		t.Errorf("a newer schema: %v, want ErrUnknownSchema", err)
	}
}

// TestDecodeRawSchema1: a record of schema 1, whose cells also carry the scraper's text, links,
// marks and sharpness bars, decodes to its cells as served; the interpreted fields are ignored.
func TestDecodeRawSchema1(t *testing.T) {
	old := `{"schema":1,"key":"bow/base/l1","weapon_type":"bow","row_id":"l1","cells":[{"header":"Name",` +
		`"text":"Hunter Bow","links":[{"text":"x","href":"#l2"}],"marks":[{"tag":"b","text":"GR"}],` +
		`"sharpness":[{"title":"t","segments":[{"colour":"r","length":5}]}],"id":"l1","colspan":2,` +
		`"html":"Hunter Bow<a href=\"#l2\">x</a>"}]}`
	r, err := DecodeRaw([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	want := RawCell{Header: "Name", ID: "l1", Colspan: 2, HTML: `Hunter Bow<a href="#l2">x</a>`}
	if r.Schema != 1 || len(r.Cells) != 1 || r.Cells[0] != want {
		t.Fatalf("schema 1 record decoded to %+v, want schema 1 and the cell %+v", r, want)
	}
}

func TestCodecsRoundTrip(t *testing.T) {
	raw := &RawRecord{Schema: RawSchemaVersion, Key: "bow/base/l1", WeaponType: Bow, RowID: "l1",
		Cells: []RawCell{{Header: "Name", HTML: "Hunter Bow"}}}
	data, err := RawCodec{}.Encode(raw)
	if err != nil {
		t.Fatal(err)
	}
	back, err := RawCodec{}.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := back.(*RawRecord).Cell("Name"); !ok || c.HTML != "Hunter Bow" {
		t.Fatalf("round trip lost the Name cell: %+v", back)
	}
	if _, err := (WeaponCodec{}).Encode(raw); err == nil {
		t.Error("the weapon codec encoded a raw record")
	}
	w := &Weapon{Schema: 1, Key: "bow/base/l1", Version: 2, WeaponType: Bow, Name: "Hunter Bow"}
	data, err = WeaponCodec{}.Encode(w)
	if err != nil {
		t.Fatal(err)
	}
	got, err := WeaponCodec{}.Decode(data)
	if err != nil || got.(*Weapon).Version != 2 {
		t.Fatalf("weapon round trip: %+v %v", got, err)
	}
	if _, err := DecodeWeapon([]byte(`{"schema":1,"key":"k","version":0,"weapon_type":"bow"}`)); err == nil {
		t.Error("a weapon with version 0 was accepted")
	}
}

// TestDeadLetterBounds: the dead letter of any input stays within its bounds, identifies the
// whole input by size and SHA-256, and goes through its codec.
func TestDeadLetterBounds(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name            string
		value           []byte
		key, reason     string
		truncated       bool
		keyCut, reasCut bool
	}{
		{"small", []byte(`{"schema":1}`), "k", "malformed", false, false, false},
		{"exactly the bound", bytes.Repeat([]byte("x"), MaxDeadLetterValue), "k", "too large", false, false, false},
		{"9.9 MB", bytes.Repeat([]byte("y"), 9_900_000), strings.Repeat("é", MaxDeadLetterKey), strings.Repeat("武器", MaxDeadLetterReason), true, true, true},
	}
	for _, tc := range tests {
		d := NewDeadLetter("too_large", tc.reason, tc.key, Source{Topic: "t", Offset: 7}, tc.value, at)
		sum := sha256.Sum256(tc.value)
		if d.Size != len(tc.value) || d.SHA256 != hex.EncodeToString(sum[:]) || d.Truncated != tc.truncated ||
			!bytes.HasPrefix(tc.value, d.Value) || len(d.Value) > MaxDeadLetterValue {
			t.Errorf("%s: size %d sha %s truncated %v value %d bytes; want %d, the input's SHA-256, %v, a prefix",
				tc.name, d.Size, d.SHA256, d.Truncated, len(d.Value), len(tc.value), tc.truncated)
		}
		if len(d.Key) > MaxDeadLetterKey || len(d.Reason) > MaxDeadLetterReason || !utf8.ValidString(d.Key) ||
			!utf8.ValidString(d.Reason) || (d.Key != tc.key) != tc.keyCut || (d.Reason != tc.reason) != tc.reasCut {
			t.Errorf("%s: key %d bytes, reason %d bytes: want within their bounds, cut on a rune boundary, cut only if over", tc.name, len(d.Key), len(d.Reason))
		}
		data, err := DeadLetterCodec{}.Encode(d)
		if err != nil || len(data) > 2*MaxDeadLetterValue {
			t.Fatalf("%s: encoded %d bytes (%v), want under %d", tc.name, len(data), err, 2*MaxDeadLetterValue)
		}
		back, err := DeadLetterCodec{}.Decode(data)
		if err != nil || back.(*DeadLetter).SHA256 != d.SHA256 || !bytes.Equal(back.(*DeadLetter).Value, d.Value) {
			t.Fatalf("%s: round trip %v", tc.name, err)
		}
	}
}

func TestDedupStateCodec(t *testing.T) {
	s := &DedupState{ContentHash: "h2", Version: 2, Source: Source{Topic: "t", Offset: 9},
		Recent: []VersionSource{{Version: 1, ContentHash: "h1", Source: Source{Topic: "t", Offset: 3}},
			{Version: 2, ContentHash: "h2", Source: Source{Topic: "t", Offset: 9}}}}
	data, err := DedupStateCodec{}.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DedupStateCodec{}.Decode(data)
	if err != nil || !reflect.DeepEqual(back, s) {
		t.Fatalf("round trip: %+v %v, want %+v", back, err, s)
	}
	if _, err := (DedupStateCodec{}).Decode(nil); err == nil || !strings.Contains(err.Error(), "DedupState: empty message") {
		t.Errorf("empty table value: %v, want an error naming DedupState", err)
	}
}

// TestRawCodecWritesHTMLAsIs: a cell's HTML is written as served ("<" and not "\u003c": a quarter
// of a raw record's bytes), and read back the same, as records written with escapes are.
func TestRawCodecWritesHTMLAsIs(t *testing.T) {
	html := `<a href="i.htm#k1" class="x">Tail &amp; Claw</a><br>x2`
	r := &RawRecord{Schema: RawSchemaVersion, Key: "k", WeaponType: WeaponTypes[0], RowID: "l1",
		Cells: []RawCell{{Header: "Materials", HTML: html}}}
	data, err := RawCodec{}.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`<a href=\"i.htm#k1\" class=\"x\">Tail &amp; Claw</a><br>`)) {
		t.Errorf("the HTML is not written as served: %s", data)
	}
	escaped := strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`).Replace(string(data))
	for _, d := range [][]byte{data, []byte(escaped)} {
		got, err := RawCodec{}.Decode(d)
		if err != nil {
			t.Fatal(err)
		}
		if c := got.(*RawRecord).Cells[0]; c.HTML != html {
			t.Errorf("read back %q, want %q", c.HTML, html)
		}
	}
}

// TestDedupStateBinary: the table's states are written in the binary form and read back as
// they were written; the JSON states of the builds before it still decode, to what their
// binary form decodes to; every truncation of a binary state is an error, never a panic.
func TestDedupStateBinary(t *testing.T) {
	hash := func(c string) string { return strings.Repeat(c, 64) }
	seen := time.Date(2025, 10, 22, 7, 1, 2, 345678901, time.FixedZone("", 9*3600))
	states := []*DedupState{
		{ContentHash: hash("a"), Version: 1, FirstSeen: seen, LastSeen: seen,
			Source: Source{Topic: "mhfz.weapon_data", Partition: 3, Offset: 123456789},
			Recent: []VersionSource{{Version: 1, ContentHash: hash("a"),
				Source: Source{Topic: "mhfz.weapon_data", Partition: 3, Offset: 123456789}}}},
		{ContentHash: "not hex", Version: 9, FirstSeen: seen.UTC(), LastSeen: seen.Add(time.Hour).UTC(),
			Source: Source{Topic: "t", Partition: 0, Offset: 0},
			Recent: []VersionSource{{Version: 8, ContentHash: hash("F"), Source: Source{Topic: "other", Offset: -1}},
				{Version: 9, ContentHash: "not hex", Source: Source{Topic: "t"}}}},
		{}, // zero times, no source, no recent versions: a state of the first builds
	}
	for i, s := range states {
		data, err := DedupStateCodec{}.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		if data[0] != dedupBinary {
			t.Fatalf("state %d: written as %q, want the binary form", i, data)
		}
		back, err := DedupStateCodec{}.Decode(data)
		if err != nil || !sameDedupState(back.(*DedupState), s) {
			t.Fatalf("state %d: round trip %+v %v, want %+v", i, back, err, s)
		}
		old, err := json.Marshal(s) // as JSONCodec wrote them
		if err != nil {
			t.Fatal(err)
		}
		fromJSON, err := DedupStateCodec{}.Decode(old)
		if err != nil || !reflect.DeepEqual(fromJSON, back) {
			t.Fatalf("state %d: the JSON form decodes to %+v %v, the binary one to %+v", i, fromJSON, err, back)
		}
		if len(data) >= len(old) {
			t.Errorf("state %d: %d bytes, the JSON took %d", i, len(data), len(old))
		}
		for n := 1; n < len(data); n++ {
			if _, err := (DedupStateCodec{}).Decode(data[:n]); !errors.Is(err, ErrMalformedState) {
				t.Fatalf("state %d cut to %d bytes: %v, want ErrMalformedState", i, n, err)
			}
		}
		if _, err := (DedupStateCodec{}).Decode(append(data, 0)); !errors.Is(err, ErrMalformedState) {
			t.Fatalf("state %d with a byte more: %v, want ErrMalformedState", i, err)
		}
	}
	if _, err := (DedupStateCodec{}).Decode([]byte("{")); !errors.Is(err, ErrMalformedJSON) {
		t.Errorf("a truncated JSON state: %v, want ErrMalformedJSON", err)
	}
}

// sameDedupState compares two states with their times as instants in the same zone offset.
func sameDedupState(a, b *DedupState) bool {
	sameTime := func(x, y time.Time) bool {
		_, ox := x.Zone()
		_, oy := y.Zone()
		return x.Equal(y) && ox == oy
	}
	if !sameTime(a.FirstSeen, b.FirstSeen) || !sameTime(a.LastSeen, b.LastSeen) {
		return false
	}
	a2, b2 := *a, *b
	a2.FirstSeen, a2.LastSeen, b2.FirstSeen, b2.LastSeen = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(a2, b2)
}

// BenchmarkDedupState: a state as the router writes one for a key's first version, in the
// binary form and in the JSON the builds before it wrote.
func BenchmarkDedupState(b *testing.B) {
	src := Source{Topic: "mhfz.weapon_data", Partition: 3, Offset: 123456789}
	h := strings.Repeat("ab", 32)
	now := time.Now().UTC()
	s := &DedupState{ContentHash: h, Version: 1, FirstSeen: now, LastSeen: now, Source: src,
		Recent: []VersionSource{{Version: 1, ContentHash: h, Source: src}}}
	old, _ := json.Marshal(s)
	bin, _ := DedupStateCodec{}.Encode(s)
	b.Run("encode/binary", func(b *testing.B) {
		b.ReportAllocs()
		b.ReportMetric(float64(len(bin)), "bytes")
		for b.Loop() {
			_, _ = DedupStateCodec{}.Encode(s)
		}
	})
	b.Run("encode/json", func(b *testing.B) {
		b.ReportAllocs()
		b.ReportMetric(float64(len(old)), "bytes")
		for b.Loop() {
			_, _ = json.MarshalWithOption(s, json.DisableHTMLEscape())
		}
	})
	b.Run("decode/binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = DedupStateCodec{}.Decode(bin)
		}
	})
	b.Run("decode/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = DedupStateCodec{}.Decode(old)
		}
	})
}
