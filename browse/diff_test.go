package browse

import (
	"slices"
	"testing"
)

func TestDiffRecords(t *testing.T) {
	for _, tc := range []struct {
		name      string
		prev, cur string
		fields    []string
		paths     []string
	}{
		{"first version", "", `{"name":"a"}`, nil, nil},
		{"where and when only", `{"name":"a","url":"file:///x","scraped_at":"1","version":1,"source":{"offset":1}}`,
			`{"name":"a","url":"http://y","scraped_at":"2","version":2,"source":{"offset":9}}`, nil, nil},
		{"inside an object", `{"extra":{"source":"Hunters' Festival","length":"Long"}}`,
			`{"extra":{"source":"Festival","length":"Long"}}`, []string{"extra"}, []string{"extra.source"}},
		{"inside a list", `{"elements":[{"kind":"poison","value":100}],"attack":5}`,
			`{"elements":[{"kind":"poison","value":102400}],"attack":5}`, []string{"elements"}, []string{"elements[0].value"}},
		{"added and removed", `{"quality":[{"rule":"r"}],"level":2}`, `{"slots":1,"level":2}`,
			[]string{"quality", "slots"}, []string{"quality", "slots"}},
		{"a list of another length", `{"upgrade_to":[1]}`, `{"upgrade_to":[1,2]}`, []string{"upgrade_to"}, []string{"upgrade_to"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var prev []byte
			if tc.prev != "" {
				prev = []byte(tc.prev)
			}
			changes, err := diffRecords(prev, []byte(tc.cur))
			if err != nil {
				t.Fatal(err)
			}
			var fields, paths []string
			for _, c := range changes {
				fields = append(fields, c.Field)
				paths = append(paths, c.Paths...)
			}
			if !slices.Equal(fields, tc.fields) || !slices.Equal(paths, tc.paths) {
				t.Errorf("fields %v paths %v, want %v %v", fields, paths, tc.fields, tc.paths)
			}
		})
	}
}
