package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/processors"
	"github.com/mhfz/mhfz-pipeline/processors/weaponrow"
)

// brokerMaxMessage is the largest message the test broker takes (message.max.bytes of
// scripts/testenv's server.properties): the poison test sends values just under it.
const brokerMaxMessage = 10 << 20

// poison is one input of the poison test: its bytes, and the dead letter it must make (kind ""
// for a good record, which must be routed).
type poison struct {
	name   string
	key    string
	value  []byte
	kind   string
	reason string
}

// TestProcessorPoisonOnOnePartition sends poison records to one partition of weapon_data (6.5 MB
// and 9.9 MB values, a record that makes the parser panic, invalid UTF-8, JSON of the wrong
// shape), with good records between and after them on the same partition, to a router running on
// the real broker. Every bad record must be on the dead-letter topic with its reason, size and
// SHA-256, every good one routed, and the router must never stop (its Run returns no error).
func TestProcessorPoisonOnOnePartition(t *testing.T) {
	t.Parallel()
	e := newRouterEnv(t)
	allowLargeMessages(t, e)
	inputs := poisonInputs(t)

	const partition = 2
	e.produceTo(partition, inputs)

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	parse := func(raw *codecs.RawRecord) (*codecs.Weapon, error) {
		if raw.RowID == "lPANIC" {
			var notes []string
			_ = notes[len(raw.Cells)] // index out of range, as a parser bug would
		}
		return weaponrow.Parse(raw)
	}
	cfg := e.routerConfig()
	cfg.Logger, cfg.Parse = quiet, parse
	run := e.runRouter(cfg)
	r := run.router
	deadline := time.Now().Add(2 * time.Minute)
	for r.Stats().Done() < int64(len(inputs)) {
		select {
		case err := <-run.done:
			t.Fatalf("the router stopped after %+v: %v", r.Stats(), err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the router handled %+v of %d inputs in 2 minutes", r.Stats(), len(inputs))
		}
	}
	run.cancel()
	if err := <-run.done; err != nil {
		t.Fatalf("the router's Run returned %v, want nil: it must never stop on a bad input", err)
	}
	checkPoison(t, e, inputs, r.Stats())
}

// checkPoison checks the dead-letter and weapon topics against the inputs.
func checkPoison(t *testing.T, e *routerEnv, inputs []poison, s processors.Snapshot) {
	dls := e.deadLetters()
	routed := map[string]bool{}
	for _, w := range e.weapons() {
		routed[w.key] = true
	}
	var bad, good int
	for _, in := range inputs {
		if in.kind == "" {
			good++
			if !routed[in.key] {
				t.Errorf("good record %s (%s) was not routed", in.key, in.name)
			}
			continue
		}
		if bad >= len(dls) {
			t.Errorf("%s: no dead letter (%d on the topic)", in.name, len(dls))
			continue
		}
		d := dls[bad] // one partition: in order
		bad++
		sum := sha256.Sum256(in.value)
		kept := min(len(in.value), codecs.MaxDeadLetterValue)
		if d.Kind != in.kind || !strings.Contains(d.Reason, in.reason) || d.Size != len(in.value) ||
			d.SHA256 != hex.EncodeToString(sum[:]) || string(d.Value) != string(in.value[:kept]) ||
			d.Truncated != (len(in.value) > kept) || d.Source.Topic != string(e.names.WeaponData()) {
			t.Errorf("%s: dead letter kind %q, reason %q, size %d, truncated %v; want kind %q, a reason with %q, size %d, "+
				"the first %d bytes and the SHA-256 of the input", in.name, d.Kind, d.Reason, d.Size, d.Truncated,
				in.kind, in.reason, len(in.value), kept)
		}
	}
	if len(dls) != bad || s.DeadLetters != int64(bad) || s.Forwarded != int64(good) || s.Read != int64(len(inputs)) {
		t.Errorf("%d dead letters on the topic, stats %+v; want %d dead letters and %d forwarded of %d read",
			len(dls), s, bad, good, len(inputs))
	}
}

// poisonInputs are the inputs of the poison test, in the order they are sent.
func poisonInputs(t *testing.T) []poison {
	good := func(name string) poison {
		b, err := os.ReadFile(filepath.Join("..", "processors", "weaponrow", "testdata", "raw", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := codecs.DecodeRaw(b)
		if err != nil {
			t.Fatal(err)
		}
		value, err := json.Marshal(raw) // compact, as the scraper emits it
		if err != nil {
			t.Fatal(err)
		}
		return poison{name: name, key: raw.Key, value: value}
	}
	replace := func(p poison, old, new string) []byte {
		if !strings.Contains(string(p.value), old) {
			t.Fatalf("%s has no %q", p.name, old)
		}
		return []byte(strings.Replace(string(p.value), old, new, 1))
	}
	tree := good("ken_base_tree")
	huge := func(size int) []byte { // a raw record whose one cell holds size bytes of text
		text := make([]byte, size/2)
		if _, err := rand.Read(text); err != nil {
			t.Fatal(err)
		}
		return []byte(`{"schema":1,"key":"` + tree.key + `","weapon_type":"long_sword","row_id":"l000A","cells":[{"header":"Name","html":"` +
			hex.EncodeToString(text) + `"}]}`)
	}
	panics := replace(tree, `"row_id":"l000A"`, `"row_id":"lPANIC"`)
	badUTF8 := replace(tree, "Iron Katana", "Iron \xff\xfeKatana")
	return []poison{
		good("bow_base"),
		{"6.5 MB value", tree.key, huge(6_500_000), processors.KindTooLarge, "bytes, more than the 1048576"},
		{"the parser panics", tree.key, panics, processors.KindPanic, "the parser panicked: runtime error: index out of range"},
		good("gun_base_defense"),
		{"9.9 MB value", tree.key, huge(9_900_000), processors.KindTooLarge, "bytes, more than the 1048576"},
		{"invalid UTF-8", tree.key, badUTF8, processors.KindUTF8,
			"not valid UTF-8: byte 0xff at offset " + strconv.Itoa(strings.Index(string(badUTF8), "\xff"))},
		{"an array", tree.key, []byte(`[` + string(tree.value) + `]`), processors.KindShape, "a JSON array, not a JSON object"},
		{"a string", tree.key, []byte(`"ken_base_tree"`), processors.KindShape, "a JSON string, not a JSON object"},
		{"a number", tree.key, []byte(`1e3`), processors.KindShape, "a JSON number, not a JSON object"},
		{"a field of the wrong type", tree.key, replace(tree, `"schema":1`, `"schema":[1]`),
			processors.KindShape, `field "schema" is a JSON array, want an integer`},
		tree,
		good("horn_notes"),
	}
}

// allowLargeMessages checks that the broker and weapon_data take messages up to brokerMaxMessage
// and sets the topic's max.message.bytes to it.
func allowLargeMessages(t *testing.T, e *routerEnv) {
	admin, err := sarama.NewClusterAdmin(e.brokers, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	topic := string(e.names.WeaponData())
	limit := strconv.Itoa(brokerMaxMessage)
	if err := admin.AlterConfig(sarama.TopicResource, topic, map[string]*string{"max.message.bytes": &limit}, false); err != nil {
		t.Fatalf("set max.message.bytes of %s: %v", topic, err)
	}
	entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic,
		ConfigNames: []string{"max.message.bytes"}})
	if err != nil || len(entries) != 1 || entries[0].Value != limit {
		t.Fatalf("max.message.bytes of %s: %+v (%v), want %s (scripts/testenv's broker: message.max.bytes)", topic, entries, err, limit)
	}
}

// produceTo writes the inputs, in order, to one partition of weapon_data, uncompressed (so that
// the large values are large on the broker too), and returns their offsets.
func (e *routerEnv) produceTo(partition int32, inputs []poison) []int64 {
	cfg := *e.cfg
	cfg.Producer.MaxMessageBytes = brokerMaxMessage
	cfg.Producer.Compression = sarama.CompressionNone
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	producer, err := sarama.NewSyncProducer(e.brokers, &cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	defer producer.Close()
	offsets := make([]int64, len(inputs))
	for i, in := range inputs {
		msg := &sarama.ProducerMessage{Topic: string(e.names.WeaponData()), Partition: partition,
			Key: sarama.StringEncoder(in.key), Value: sarama.ByteEncoder(in.value)}
		if _, offsets[i], err = producer.SendMessage(msg); err != nil {
			e.t.Fatalf("send %s (%d bytes): %v", in.name, len(in.value), err)
		}
	}
	e.t.Logf("%d inputs sent to %s/%d", len(inputs), e.names.WeaponData(), partition)
	return offsets
}
