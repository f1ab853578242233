package sink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// copyFields is the fields of r's row as the sink's COPY sends them: appendCopy's bytes for r
// alone without the COPY's header, the row's field count and the trailer.
func copyFields(r *record) ([]byte, error) {
	cols := tableColumns(r.table)
	data, err := appendCopy(nil, []*record{r}, cols)
	if err != nil {
		return nil, err
	}
	return data[len(copySignature)+8+2 : len(data)-2], nil
}

// sparseWeapon is a weapon with what the pages may leave out left out, and values at the edges
// of their encodings: no numbers, no element, no rank, no lists, a time before 2000 with
// microseconds, text beyond ASCII.
func sparseWeapon(t codecs.WeaponType, kind codecs.PageKind) *codecs.Weapon {
	return &codecs.Weapon{Schema: codecs.WeaponSchemaVersion, Key: codecs.RecordKey(t, kind, "sparse", 1),
		Version: math.MaxInt32 + 7, ContentHash: strings.Repeat("ab", 32), WeaponType: t, PageKind: kind,
		Layout: codecs.LayoutBlademaster, Page: codecs.PageName(t, kind), RowID: "sparse", Hidden: true,
		ScrapedAt: time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, time.FixedZone("JST", 9*3600)),
		Name:      "ジェネシス・ネオ", Affinity: ptr(-30), ZenithSkill: "Zenith skill: 剛撃+5"}
}

// TestBinaryCopyAsPgx checks that the sink's COPY sends, for every column of every table, the
// bytes pgx sends for the same values (copyEncoder: pgx's encoding with the OIDs of the real
// schema's columns, which TestSchemaMatchesColumns checks), on the synthetic corpus and on
// sparse weapons of every table.
func TestBinaryCopyAsPgx(t *testing.T) {
	names := codecs.Names{Prefix: "copy."}
	msgs, _ := synthMessages(t, names, 0, 600)
	for _, wt := range codecs.WeaponTypes {
		msgs = append(msgs, weaponMessage(t, names, sparseWeapon(wt, codecs.KindG)))
	}
	msgs = append(msgs, weaponMessage(t, names, sparseWeapon(codecs.Bow, codecs.KindPartner)))
	s := &Sink{tables: topicTables(names)}
	pgx := newCopyEncoder()
	tables := map[string]bool{}
	for i, m := range msgs {
		r := s.decode(&sarama.ConsumerMessage{Topic: m.topic, Partition: int32(i % 3), Offset: int64(i), Key: []byte(m.key), Value: m.value})
		if !r.storable() {
			t.Fatalf("message %d: %s", i, r.reason)
		}
		got, err := copyFields(r)
		if err != nil {
			t.Fatalf("%s: %v", r.weapon.Key, err)
		}
		if err := pgx.encode(r.table, []*record{r}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pgx.buf) {
			t.Errorf("%s in %s: the sink's COPY sends\n%q\npgx sends\n%q", r.weapon.Key, r.table, got, pgx.buf)
		}
		tables[r.table] = true
	}
	if len(tables) != len(codecs.WeaponTypes)+1 {
		t.Errorf("rows of %d tables compared, want all %d", len(tables), len(codecs.WeaponTypes)+1)
	}
}

// TestCopyRefusesWhatItCannotEncode checks that a value beyond its column's type, or of a type
// the COPY has no encoding for, fails the COPY as a row's fault (the batch is then cut down to
// the row), naming the record and the column.
func TestCopyRefusesWhatItCannotEncode(t *testing.T) {
	names := codecs.Names{Prefix: "copy."}
	m := weaponMessage(t, names, synthWeapon(3))
	s := &Sink{tables: topicTables(names)}
	r := s.decode(&sarama.ConsumerMessage{Topic: m.topic, Partition: 2, Offset: 41, Key: []byte(m.key), Value: m.value})
	if !r.storable() {
		t.Fatal(r.reason)
	}
	cols := tableColumns(r.table)
	attack := *r.weapon.Attack
	cases := []struct {
		name   string
		cols   []column
		change func()
		column string
		reason string
	}{
		{"an attack beyond integer", cols, func() { *r.weapon.Attack = math.MaxInt32 + 1 }, "attack", "out of range for type integer"},
		{"an attack below integer", cols, func() { *r.weapon.Attack = math.MinInt32 - 1 }, "attack", "out of range for type integer"},
		{"a value of no known type", []column{{name: "weight", value: func(*record) any { return 1.5 }}}, func() {},
			"weight", "no binary COPY encoding for a value of type float64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.change()
			defer func() { *r.weapon.Attack = attack }()
			_, err := appendCopy(nil, []*record{r}, c.cols)
			var valueErr *copyValueError
			if !errors.As(err, &valueErr) || !copyRejected(err) {
				t.Fatalf("got %v, want a *copyValueError that copyRejected takes for a row's fault", err)
			}
			for _, want := range []string{r.pos.String(), "column " + c.column, c.reason} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// TestCopyValuesAsPgx checks single values the corpus may not hold against pgx's encoding.
func TestCopyValuesAsPgx(t *testing.T) {
	pgx := newCopyEncoder()
	when := time.Date(2262, 4, 11, 23, 47, 16, 854_775_000, time.UTC)
	cases := []struct {
		oid uint32
		v   any
	}{
		{pgtype.TextArrayOID, []string{}},
		{pgtype.TextArrayOID, []string{"", "青"}},
		{pgtype.TextArrayOID, []string(nil)},
		{pgtype.Int4OID, int32(math.MinInt32)},
		{pgtype.Int4OID, intRef{ptr(math.MaxInt32)}},
		{pgtype.Int4OID, intRef{}},
		{pgtype.BoolOID, false},
		{pgtype.TimestamptzOID, timeRef{&when}},
		{pgtype.TimestamptzOID, timeRef{&time.Time{}}},
		{pgtype.JSONBOID, []byte(`{"creation":[]}`)},
		{pgtype.TextOID, textRef{ptr("")}},
		{pgtype.TextOID, nil},
	}
	for _, c := range cases {
		got, err := appendCopyValue(nil, c.v)
		if err != nil {
			t.Fatalf("%#v: %v", c.v, err)
		}
		want := binary.BigEndian.AppendUint32(nil, math.MaxUint32) // NULL unless pgx writes a value
		if value, err := pgx.types.Encode(c.oid, pgtype.BinaryFormatCode, c.v, want[4:]); err != nil {
			t.Fatal(err)
		} else if value != nil {
			want = binary.BigEndian.AppendUint32(nil, uint32(len(value)))
			want = append(want, value...)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%#v: the sink's COPY sends %q, pgx %q", c.v, got, want)
		}
	}
}

// TestCopyBuffersOutliveTheCollector checks that a COPY's buffer is there for the next one
// after collections (a sync.Pool loses it within two), and what the store does not keep.
func TestCopyBuffersOutliveTheCollector(t *testing.T) {
	var bufs copyBuffers
	if got := bufs.get(); got != nil {
		t.Fatalf("a new store's buffer: %d bytes of capacity, want none", cap(got))
	}
	kept := append(bufs.get(), make([]byte, 1<<20)...)
	bufs.put(kept)
	runtime.GC()
	runtime.GC()
	got := bufs.get()
	if len(got) != 0 || cap(got) != cap(kept) || &got[:1][0] != &kept[0] {
		t.Fatalf("after two collections: a buffer of %d bytes, capacity %d; want the kept one, empty (capacity %d)",
			len(got), cap(got), cap(kept))
	}
	tests := []struct {
		name string
		put  [][]byte
		want int // buffers kept
	}{
		{"none of no capacity", [][]byte{nil, {}}, 0},
		{"none beyond the largest", [][]byte{make([]byte, 0, maxCopyBuffer+1)}, 0},
		{"the largest", [][]byte{make([]byte, 0, maxCopyBuffer)}, 1},
		{"no more than the most", buffers(maxCopyBuffers+3, 64), maxCopyBuffers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var bufs copyBuffers
			for _, b := range tt.put {
				bufs.put(b)
			}
			n := 0
			for bufs.get() != nil {
				n++
			}
			if n != tt.want {
				t.Errorf("kept %d buffers, want %d", n, tt.want)
			}
		})
	}
}

// buffers is n empty buffers of the given capacity.
func buffers(n, capacity int) [][]byte {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, 0, capacity)
	}
	return bufs
}
