package weaponrow

import (
	"reflect"
	"testing"
)

// TestReadBars: the sharpness bars of a cell's HTML, read as the scraper read them into schema-1
// records.
func TestReadBars(t *testing.T) {
	two := `<ul title="005150"><li class="r s12"><li class="o s8"><li class="y s17"></li></ul>` +
		`<ul><li class="r s12"><li class="o s8"><li class="y s22"><li class="g s8"></li></ul><small>Normal Shot LV1</small>`
	for _, tc := range []struct {
		name, html string
		want       []bar
	}{
		{"two bars, the first titled", two, []bar{
			{title: "005150", segs: []barSegment{{"r", 12}, {"o", 8}, {"y", 17}}},
			{segs: []barSegment{{"r", 12}, {"o", 8}, {"y", 22}, {"g", 8}}}}},
		{"no bar", "Norm ：9/9/<u>12</u><br>Clust：2/2", nil},
		{"a list without segments is no bar", `<ul title="x"><li>text</li></ul>`, nil},
		{"a class that is not a segment is skipped", `<UL><li class="r s12"><li class="g big"><li class="zz s3"><li class="b s1234567890"></ul>`,
			[]bar{{segs: []barSegment{{"r", 12}, {"zz", 3}}}}},
		{"unquoted, spaced, escaped, self-closed", `<ul title=a&amp;b><li class='  w   s7 '/><li class=p></ul>`,
			[]bar{{title: "a&b", segs: []barSegment{{"w", 7}}}}},
		{"an unclosed list ends with the cell", `<ul><li class="s s2">`, []bar{{segs: []barSegment{{"s", 2}}}}},
		{"a list opened inside an open one replaces it", `<ul title="lost"><li class="r s1"><ul><li class="g s2"></ul>`,
			[]bar{{segs: []barSegment{{"g", 2}}}}},
		{"comments are no tags", `<!--<ul><li class="r s1"></ul>--><ul><li class="y s3"></ul>`,
			[]bar{{segs: []barSegment{{"y", 3}}}}},
		{"a truncated tag ends the cell", `<ul><li class="r s1"><li class="g s`, []bar{{segs: []barSegment{{"r", 1}}}}},
	} {
		if got := readBars(tc.html); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
