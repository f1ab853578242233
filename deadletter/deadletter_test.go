package deadletter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// seed writes a mix of dead letters of both sources: three of the topic (two re-drivable, one
// truncated) and three of the table (two re-drivable, one of lost records).
func seed(t *testing.T, f *fixture) (topicIDs, tableIDs []string) {
	t.Helper()
	topicIDs = f.produceDeadLetters(t, []deadLetter{
		{kind: "parse", key: "great_sword|base|a1|1", value: []byte(`{"schema":1,"key":"great_sword|base|a1|1","cells":["x"]}`), at: t0},
		{kind: "json", key: "bow|g|b2|1", value: []byte("{\"schema\":1,\x01 broken"), at: t0.Add(time.Hour)},
		{kind: "parse", key: "lance|sp|c3|1", value: []byte(`{"schema":1}`), at: t0.Add(2 * time.Hour), truncated: true},
	})
	tableIDs = f.insertSinkRows(t, []sinkRow{
		{topic: f.names.Type(codecs.Bow), partition: 1, offset: 7, key: "bow|g|w1|1", value: []byte(`{"key":"bow|g|w1|1","attack":99999999999}`), at: t0.Add(30 * time.Minute)},
		{topic: f.names.Partner(), partition: 3, offset: 2, key: "tonfa|partner|w2|1", value: []byte(`{"key":"tonfa|partner|w2|1"}`), at: t0.Add(90 * time.Minute)},
		{topic: f.names.Type(codecs.Lance), partition: 0, offset: 40, at: t0.Add(3 * time.Hour)},
	})
	return topicIDs, tableIDs
}

func ids(ls []*Letter) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.ID
	}
	return out
}

func TestListFiltersAndOutput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	topicIDs, tableIDs := seed(t, f)
	ctx := context.Background()
	all := []string{topicIDs[0], tableIDs[0], topicIDs[1], tableIDs[1], topicIDs[2], tableIDs[2]} // by time
	for _, c := range []struct {
		name   string
		filter Filter
		want   []string
	}{
		{"everything, oldest first", Filter{}, all},
		{"the topic's", Filter{Source: SourceTopic}, topicIDs},
		{"the table's", Filter{Source: SourceTable}, tableIDs},
		{"a kind", Filter{Kinds: []string{"parse"}}, []string{topicIDs[0], topicIDs[2]}},
		{"kinds of both", Filter{Kinds: []string{"json", KindLost}}, []string{topicIDs[1], tableIDs[2]}},
		{"a key", Filter{Key: "tonfa|partner|w2|1"}, []string{tableIDs[1]}},
		{"a time range", Filter{Since: t0.Add(30 * time.Minute), Until: t0.Add(2 * time.Hour)}, []string{tableIDs[0], topicIDs[1], tableIDs[1]}},
		{"nothing", Filter{Key: "nope"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			ls, err := f.tool(t, c.filter).List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(ls); !slices.Equal(got, c.want) {
				t.Errorf("got %q\nwant %q", got, c.want)
			}
		})
	}
	ls, err := f.tool(t, Filter{}).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if err := WriteTable(&table, ls); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	if len(lines) != 7 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("table:\n%s", table.String())
	}
	for i, id := range all {
		if !strings.HasPrefix(lines[i+1], id+" ") {
			t.Errorf("line %d of the table is %q, want dead letter %s", i+1, lines[i+1], id)
		}
	}
	if !strings.Contains(lines[5], "cannot") || !strings.Contains(lines[6], "cannot") || !strings.Contains(lines[1], " no ") {
		t.Errorf("the table does not say which cannot be re-driven:\n%s", table.String())
	}
	var jl bytes.Buffer
	if err := WriteJSONLines(&jl, ls); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&jl)
	for i := 0; ; i++ {
		var l Letter
		if err := dec.Decode(&l); err != nil {
			if i != len(all) {
				t.Errorf("%d JSON lines (%v), want %d", i, err, len(all))
			}
			break
		}
		if l.ID != all[i] || l.Source == "" || l.Kind == "" || l.Time.IsZero() || l.Reason == "" {
			t.Errorf("JSON line %d: %+v", i, l)
		}
	}
}

func TestShow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	topicIDs, tableIDs := seed(t, f)
	tool := f.tool(t, Filter{})
	for _, c := range []struct {
		id   string
		want []string
	}{
		{topicIDs[0], []string{"kind:      parse", `"great_sword|base|a1|1"`, "target:    " + string(f.names.WeaponData()),
			"parse: what is wrong with great_sword|base|a1|1", "bytes (56):\n  {\n    \"schema\": 1,"}},
		{topicIDs[1], []string{"kind:      json", `"{\"schema\":1,\x01 broken"`}},
		{topicIDs[2], []string{"cannot:    only the first 12 of its 120 bytes were kept"}},
		{tableIDs[0], []string{"source:    table", "target:    " + string(f.names.Type(codecs.Bow)), "\"attack\": 99999999999"}},
		{tableIDs[2], []string{"kind:      lost", "cannot:    no bytes"}},
	} {
		l, err := tool.Show(context.Background(), c.id)
		if err != nil {
			t.Fatalf("show %s: %v", c.id, err)
		}
		var out bytes.Buffer
		if err := WriteShow(&out, l); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("show %s lacks %q:\n%s", c.id, w, out.String())
			}
		}
	}
	if _, err := tool.Show(context.Background(), string(f.names.DeadLetter())+"/0/999"); !errors.Is(err, ErrNotFound) {
		t.Errorf("show of an unknown dead letter: %v, want ErrNotFound", err)
	}
	if _, err := tool.Show(context.Background(), "nonsense"); err == nil {
		t.Error("show of a malformed id: no error")
	}
}
