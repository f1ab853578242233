package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/antchfx/htmlquery"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/browse"
	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
	"github.com/mhfz/mhfz-pipeline/sink"
)

// serveSubset: the serve tests load the long swords, the switch axes (whose Apophis Axe rows
// change in value and in quality between the snapshots) and the partner weapons (their own
// table) of both snapshots: every page kind, about a sixth of the corpus.
func inServeSubset(key string) bool {
	return strings.HasPrefix(key, "long_sword/") || strings.HasPrefix(key, "switch_axe_f/") || strings.Contains(key, "/partner/")
}

// current is what the test expects the database to hold of one weapon, computed from the pages
// with the processor's parser (not read back from the database).
type current struct {
	w        *codecs.Weapon
	versions int               // versions it must have: one more for each change of content
	hashes   []string          // content hash of each version
	records  []json.RawMessage // the weapon of each version as JSON
}

// servedDB loads the subset of the older, then the newer snapshot through the real router and
// sink, and returns the expected current weapons by key, the keys the second scrape gave a new
// version, and the database as mhfz_reader.
func servedDB(t *testing.T, ctx context.Context) (expected map[string]*current, second map[string]bool, readerURL string) {
	d := newDeployment(t, ctx, "serve")
	live := d.start(ctx, nil, "serve")
	expected = map[string]*current{}
	for i, snapshot := range []string{testenv.Older, testenv.Newest} {
		var recs []snapshotRecord
		changed := map[string]bool{}
		// The second scrape must be the newer one, as the changes feed orders scrapes by their
		// time: snapshotRecords reads the older snapshot before the newest.
		for _, rec := range snapshotRecords(t, snapshot) {
			if !inServeSubset(rec.key) {
				continue
			}
			recs = append(recs, rec)
			if rec.exp.hash == "" {
				continue // a dead letter: no version
			}
			c := expected[rec.key]
			if c == nil {
				c = &current{}
				expected[rec.key] = c
			}
			if n := len(c.hashes); n == 0 || c.hashes[n-1] != rec.exp.hash {
				raw, err := codecs.DecodeRaw(rec.value)
				if err != nil {
					t.Fatal(err)
				}
				if c.w, err = interpret(raw); err != nil {
					t.Fatal(err)
				}
				b, _ := json.Marshal(c.w)
				c.hashes, c.records = append(c.hashes, rec.exp.hash), append(c.records, b)
				changed[rec.key] = true
			}
		}
		if i == 1 {
			second = changed
		}
		d.emit(recs)
		d.waitStored(ctx, live)
		t.Logf("scrape %d (%s): %d raw records of the subset stored, %d new versions", i+1, snapshot, len(recs), len(changed))
	}
	live.halt(t)
	u, err := url.Parse(d.url)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(migrations.ReaderRole) // scripts/testenv's server trusts loopback connections
	return expected, second, u.String()
}

// TestServe loads the older, then the newer snapshot (a subset: see inServeSubset) through the
// real pipeline and checks the API and, in headless Chromium, the web page, as mhfz_reader.
func TestServe(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: runs the pipeline over two snapshots")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	expected, second, readerURL := servedDB(t, ctx)
	base := startServe(t, ctx, readerURL)
	api := newAPIClient(t, base)

	t.Run("search by English name", func(t *testing.T) { checkNameSearch(t, api, expected, "Iron Katana") })
	t.Run("search by Japanese name", func(t *testing.T) { checkNameSearch(t, api, expected, "覇帝刀") })
	t.Run("search by id", func(t *testing.T) { checkIDSearch(t, api, expected) })
	t.Run("history of a changed long sword", func(t *testing.T) { checkHistory(t, api, expected) })
	t.Run("upgrade tree", func(t *testing.T) { checkUpgradeTree(t, api, expected) })
	t.Run("levels", func(t *testing.T) { checkLevels(t, api, expected) })
	t.Run("changes of the second scrape", func(t *testing.T) { checkChanges(t, api, second) })
	t.Run("materials", func(t *testing.T) { checkMaterials(t, api, expected) })
	t.Run("exports", func(t *testing.T) { checkExports(t, api) })
	t.Run("searches against the tables", func(t *testing.T) { checkSearchesAgainstTables(t, ctx, api, readerURL) })
	t.Run("browser", func(t *testing.T) { checkBrowser(t, base) })
}

// startServe runs browse's server over the database at dbURL (as mhfz_reader) on a free port
// until the test ends, and returns its base URL once it serves: it has waited for the database
// and checked that the role can read the tables. Each option changes the configuration.
func startServe(t testing.TB, ctx context.Context, dbURL string, options ...func(*browse.Config)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := browse.DefaultConfig()
	cfg.DatabaseURL, cfg.Logger, cfg.Listener = dbURL, testLogger(t, "serve"), ln
	for _, o := range options {
		o(&cfg)
	}
	s, err := browse.New(cfg)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stop := sync.OnceValue(func() error { cancel(); return <-done })
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	base := "http://" + ln.Addr().String()
	resp, err := http.Get(base + "/api/openapi.yaml") // waits in the listener's queue until Run serves
	if err != nil {
		t.Fatalf("the server does not serve (mhfz_reader cannot read the tables?): %v; Run: %v", err, stop())
	}
	resp.Body.Close()
	return base
}

// apiClient gets the API's answers and checks each against openapi.yaml.
type apiClient struct {
	t      *testing.T
	base   string
	router routers.Router
}

func newAPIClient(t *testing.T, base string) *apiClient {
	doc, err := openapi3.NewLoader().LoadFromData(browse.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &apiClient{t: t, base: base, router: router}
}

// get returns the body of GET path; the status must be 200 and the answer as documented.
func (c *apiClient) get(t *testing.T, path string) []byte {
	t.Helper()
	resp, err := http.Get(c.base + path)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	req, _ := http.NewRequest("GET", c.base+path, nil)
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("GET %s is not in openapi.yaml: %v", path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		t.Errorf("GET %s: the request does not match openapi.yaml: %v", path, err)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" {
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
			Header: resp.Header, Body: io.NopCloser(bytes.NewReader(body))}
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("GET %s: the answer does not match openapi.yaml: %v", path, clipErr(err))
		}
	}
	return body
}

func clipErr(err error) string {
	s := err.Error()
	if len(s) > 1500 {
		return s[:1500] + "…"
	}
	return s
}

func (c *apiClient) json(t *testing.T, path string, v any) {
	t.Helper()
	if err := json.Unmarshal(c.get(t, path), v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// searchAll follows the pages of a search and returns every item.
func (c *apiClient) searchAll(t *testing.T, query url.Values) []browse.Item {
	t.Helper()
	return c.searchPaged(t, query, 200)
}

// searchPaged follows the pages of limit items of a search and returns every item.
func (c *apiClient) searchPaged(t *testing.T, query url.Values, limit int) []browse.Item {
	t.Helper()
	var all []browse.Item
	after := ""
	for {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("limit", strconv.Itoa(limit))
		if after != "" {
			q.Set("after", after)
		}
		var page browse.SearchPage
		c.json(t, "/api/weapons?"+q.Encode(), &page)
		all = append(all, page.Items...)
		if page.Next == nil {
			return all
		}
		after = *page.Next
	}
}

func keysOf(items []browse.Item) []string {
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	slices.Sort(keys)
	return keys
}

func checkNameSearch(t *testing.T, api *apiClient, expected map[string]*current, q string) {
	var want []string
	for key, c := range expected {
		if !c.w.Hidden && strings.Contains(strings.ToLower(c.w.Name), strings.ToLower(q)) {
			want = append(want, key)
		}
	}
	slices.Sort(want)
	got := keysOf(api.searchAll(t, url.Values{"q": {q}}))
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("q=%s: %d weapons %v, want the %d whose name has it %v", q, len(got), head(got), len(want), head(want))
	}
	t.Logf("q=%s: the %d weapons whose name has it, e.g. %s", q, len(got), expected[got[0]].w.Name)
}

func head(s []string) []string { return s[:min(len(s), 8)] }

func checkIDSearch(t *testing.T, api *apiClient, expected map[string]*current) {
	for _, id := range []string{"l000A", "219c", "L219C5", "03E9"} {
		var want []string
		for key, c := range expected {
			if u := strings.ToUpper(c.w.RowID); u == strings.ToUpper(id) || u == "L"+strings.ToUpper(id) {
				want = append(want, key)
			}
		}
		slices.Sort(want)
		got := keysOf(api.searchAll(t, url.Values{"id": {id}}))
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("id=%s: %v, want %v", id, got, want)
		}
	}
	// The search box takes ids too.
	if got := keysOf(api.searchAll(t, url.Values{"q": {"l03E9"}, "type": {"long_sword"}})); !slices.Contains(got, "long_sword/base/l03E9") {
		t.Errorf("q=l03E9: %v, want long_sword/base/l03E9 among them", got)
	}
}

// checkHistory: the history of every long sword that changed between the snapshots shows
// exactly the fields that differ between the two parsed versions.
func checkHistory(t *testing.T, api *apiClient, expected map[string]*current) {
	var changed []string
	for key, c := range expected {
		if strings.HasPrefix(key, "long_sword/") && len(c.records) == 2 {
			changed = append(changed, key)
		}
	}
	slices.Sort(changed)
	if len(changed) < 100 {
		t.Fatalf("%d long swords changed between the snapshots; the corpus has thousands", len(changed))
	}
	sample := []string{"long_sword/base/l03E9"} // its source was renamed (README)
	for i := 0; i < len(changed); i += len(changed) / 25 {
		sample = append(sample, changed[i])
	}
	for _, key := range sample {
		var w browse.Weapon
		api.json(t, "/api/weapons/"+key, &w)
		if len(w.History) != 2 {
			t.Errorf("%s: %d versions, want 2", key, len(w.History))
			continue
		}
		want := changedFields(t, expected[key].records[0], expected[key].records[1])
		var got []string
		for _, c := range w.History[1].Changes {
			got = append(got, c.Field)
		}
		if len(w.History[0].Changes) != 0 || !slices.Equal(got, want) {
			t.Errorf("%s: history shows %v changed, the pages %v", key, got, want)
		}
	}
	var w browse.Weapon
	api.json(t, "/api/weapons/long_sword/base/l03E9", &w)
	c := w.History[1].Changes[0]
	if c.Field != "extra" || !slices.Equal(c.Paths, []string{"extra.source"}) || !strings.Contains(string(c.After), `"Festival"`) {
		t.Errorf("long_sword/base/l03E9: change %+v, want extra.source renamed to Festival", c)
	}
	t.Logf("%d changed long swords, %d histories checked; l03E9: %s → %s", len(changed), len(sample), c.Before, c.After)
}

// changedFields are the columns of a weapon's table whose content differs between two weapon
// records, computed from the records the test interpreted from the pages: the record's fields,
// each named as the sink's table names it (the recipes are one column, materials; rank is
// rank_system and rank_level), but those that say where and when it was read.
func changedFields(t *testing.T, a, b []byte) []string {
	var ma, mb map[string]json.RawMessage
	var wa, wb codecs.Weapon
	if json.Unmarshal(a, &ma) != nil || json.Unmarshal(b, &mb) != nil || json.Unmarshal(a, &wa) != nil || json.Unmarshal(b, &wb) != nil {
		t.Fatal("decode a record")
	}
	skip := map[string]bool{"schema": true, "key": true, "version": true, "content_hash": true, "scraped_at": true, "source": true, "url": true}
	set := map[string]bool{}
	for _, m := range []map[string]json.RawMessage{ma, mb} {
		for k := range m {
			if skip[k] || bytes.Equal(ma[k], mb[k]) {
				continue
			}
			switch k {
			case "creation", "upgrade", "g_creation_100", "g_creation_60":
				set["materials"] = true
			case "rank":
				var ra, rb codecs.Rank
				if wa.Rank != nil {
					ra = *wa.Rank
				}
				if wb.Rank != nil {
					rb = *wb.Rank
				}
				set["rank_system"] = ra.System != rb.System
				set["rank_level"] = !reflect.DeepEqual(ra.Level, rb.Level)
			default:
				set[k] = true
			}
		}
	}
	var out []string
	for k, changed := range set {
		if changed {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// checkUpgradeTree: the upgrade links of weapons, as the API resolves them, are those of their
// rows on the page (read here with an HTML parser from the newer snapshot), one level further too.
func checkUpgradeTree(t *testing.T, api *apiClient, expected map[string]*current) {
	doc, err := htmlquery.LoadDoc(filepath.Join(testenv.Snapshot(t, testenv.Newest), "tachi.htm"))
	if err != nil {
		t.Fatal(err)
	}
	links := func(rowID string) (from, to []string) {
		td := htmlquery.FindOne(doc, `//td[@id="`+rowID+`"]`)
		if td == nil {
			t.Fatalf("tachi.htm has no row %s", rowID)
		}
		for _, a := range htmlquery.Find(td, "./div/a") {
			href := htmlquery.SelectAttr(a, "href")
			page, row, _ := strings.Cut(href, "#")
			if page == "" {
				page = "tachi.htm"
			}
			typ, kind, err := codecs.ParsePageName(page)
			if err != nil {
				t.Fatal(err)
			}
			key := codecs.RecordKey(typ, kind, row, 1)
			switch text := strings.TrimSpace(htmlquery.InnerText(a)); {
			case strings.HasSuffix(text, "←"):
				from = append(from, key)
			case strings.HasPrefix(text, "→"):
				to = append(to, key)
			}
		}
		return from, to
	}
	nodeKeys := func(nodes []*browse.Node) []string {
		var out []string
		for _, n := range nodes {
			out = append(out, n.Key)
		}
		return out
	}
	checked := 0
	for _, row := range []string{"l000B", "l000A", "l03E9", "l0010", "l0118", "l001F"} {
		var w browse.Weapon
		api.json(t, "/api/weapons/long_sword/base/"+row, &w)
		from, to := links(row)
		if got := nodeKeys(w.Upgrades.From); !slices.Equal(got, from) {
			t.Errorf("%s comes from %v, its page says %v", row, got, from)
		}
		if got := nodeKeys(w.Upgrades.To); !slices.Equal(got, to) {
			t.Errorf("%s leads to %v, its page says %v", row, got, to)
		}
		for _, n := range w.Upgrades.To {
			if !strings.HasPrefix(n.Key, "long_sword/base/") {
				continue
			}
			if !n.Found || n.Weapon == nil || n.Weapon.Name != expected[n.Key].w.Name {
				t.Errorf("%s → %s: not resolved to its weapon (%+v)", row, n.Key, n.Weapon)
				continue
			}
			_, further := links(lastSegment(n.Key))
			if got := nodeKeys(n.Next); !slices.Equal(got, further) {
				t.Errorf("%s → %s leads to %v, its page says %v", row, n.Key, got, further)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no upgrade followed")
	}
}

func lastSegment(key string) string { return key[strings.LastIndexByte(key, '/')+1:] }

// checkLevels: a G-rank weapon's levels are its hidden rows, grouped under it.
func checkLevels(t *testing.T, api *apiClient, expected map[string]*current) {
	var want []string
	for key, c := range expected {
		if strings.HasPrefix(key, "long_sword/g/l219C") && c.w.Name == expected["long_sword/g/l219C"].w.Name {
			want = append(want, key)
		}
	}
	slices.Sort(want)
	for _, key := range []string{"long_sword/g/l219C", "long_sword/g/l219C5"} {
		var w browse.Weapon
		api.json(t, "/api/weapons/"+key, &w)
		var got []string
		for _, l := range w.Levels {
			got = append(got, l.Key)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) || w.Levels[0].Key != "long_sword/g/l219C" {
			t.Errorf("%s: levels %v, want %v (its own row first)", key, head(got), head(want))
		}
	}
	var w browse.Weapon
	api.json(t, "/api/weapons/long_sword/g/l219C5", &w)
	if w.LevelOf == nil || w.LevelOf.Key != "long_sword/g/l219C" || !strings.HasSuffix(w.FeriasURL, "tachi_g.htm#l219C") {
		t.Errorf("l219C5: level_of %+v, ferias_url %s: want its weapon l219C", w.LevelOf, w.FeriasURL)
	}
}

// checkChanges: the changes feed of the second scrape lists exactly the keys that got a new
// version from it, each with what changed.
func checkChanges(t *testing.T, api *apiClient, second map[string]bool) {
	var scrapes struct{ Scrapes []browse.Scrape }
	api.json(t, "/api/changes", &scrapes)
	if len(scrapes.Scrapes) != 2 {
		t.Fatalf("%d scrapes, want 2: %+v", len(scrapes.Scrapes), scrapes.Scrapes)
	}
	newest := scrapes.Scrapes[0]
	got := map[string]bool{}
	after := ""
	withChanges := 0
	for {
		path := "/api/changes/" + newest.ScrapedAt.Format(time.RFC3339Nano) + "?limit=200"
		if after != "" {
			path += "&after=" + url.QueryEscape(after)
		}
		var page browse.ChangesPage
		api.json(t, path, &page)
		for _, v := range page.Versions {
			got[v.Key] = true
			if v.Version > 1 && len(v.Changes) > 0 {
				withChanges++
			}
		}
		if page.Next == nil {
			break
		}
		after = *page.Next
	}
	var missing, extra []string
	for k := range second {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !second[k] {
			extra = append(extra, k)
		}
	}
	if len(missing)+len(extra) > 0 || int64(len(got)) != newest.Versions {
		t.Fatalf("changes of the second scrape: %d keys (summary %d), want %d; missing %v, not expected %v",
			len(got), newest.Versions, len(second), head(missing), head(extra))
	}
	if withChanges == 0 {
		t.Error("no changed version says what changed")
	}
	t.Logf("second scrape: %d new versions (%d new rows, %d changed), all listed", len(got), newest.New, newest.Changed)
}

func checkMaterials(t *testing.T, api *apiClient, expected map[string]*current) {
	const item = "19F3" // Kut-Ku Bone
	var want []string
	weapons := 0 // not counting level rows
	for key, c := range expected {
		for _, list := range [][][]codecs.Material{c.w.Creation, c.w.Upgrade, c.w.GCreation100, c.w.GCreation60} {
			if slices.ContainsFunc(list, func(alt []codecs.Material) bool {
				return slices.ContainsFunc(alt, func(m codecs.Material) bool { return m.ItemID == item })
			}) {
				want = append(want, key)
				if !c.w.Hidden {
					weapons++
				}
				break
			}
		}
	}
	slices.Sort(want)
	var got []string
	after := ""
	for {
		var page browse.MaterialPage
		api.json(t, "/api/materials?item_id="+item+"&limit=200&after="+url.QueryEscape(after), &page)
		for _, w := range page.Weapons {
			got = append(got, w.Key)
			if len(w.Uses) == 0 {
				t.Errorf("%s: listed without its use of %s", w.Key, item)
			}
		}
		if page.Next == nil {
			break
		}
		after = *page.Next
	}
	slices.Sort(got)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("weapons using %s: %d %v, want %d %v", item, len(got), head(got), len(want), head(want))
	}
	var items struct{ Items []browse.ItemCount }
	api.json(t, "/api/items?q=kut-ku+bone", &items)
	if len(items.Items) == 0 || items.Items[0].ItemID != item || items.Items[0].Rows != int64(weapons) {
		t.Errorf("items named like kut-ku bone: %+v, want %s first, used by %d weapons", items.Items, item, weapons)
	}
	var byName browse.MaterialPage
	api.json(t, "/api/materials?name=KUT-KU+BONE&limit=200", &byName)
	if len(byName.Weapons) != min(len(want), 200) || byName.Weapons[0].Key != got[0] {
		t.Errorf("weapons using the item named KUT-KU BONE: %d, want the %d using %s", len(byName.Weapons), min(len(want), 200), item)
	}
}

// checkExports: the CSV and JSON Lines exports of a search hold its results, in its order.
func checkExports(t *testing.T, api *apiClient) {
	query := url.Values{"type": {"long_sword"}, "kind": {"g"}, "levels": {"true"}, "sort": {"-attack"}}
	items := api.searchAll(t, query)
	if len(items) < 1000 {
		t.Fatalf("%d results; the G-rank long swords with their levels are thousands", len(items))
	}
	rows, err := csv.NewReader(bytes.NewReader(api.get(t, "/api/export.csv?"+query.Encode()))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], browse.ExportColumns) || len(rows)-1 != len(items) {
		t.Fatalf("CSV: header %v and %d rows, want %v and %d", rows[0], len(rows)-1, browse.ExportColumns, len(items))
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	for i, it := range items {
		r := rows[i+1]
		if r[col["key"]] != it.Key || r[col["name"]] != it.Name || r[col["attack"]] != csvInt(it.Attack) {
			t.Fatalf("CSV row %d: %v, search result %+v", i+1, r[:9], it)
		}
	}
	lines := bytes.Split(bytes.TrimSpace(api.get(t, "/api/export.jsonl?"+query.Encode())), []byte("\n"))
	if len(lines) != len(items) {
		t.Fatalf("JSON Lines: %d lines, want %d", len(lines), len(items))
	}
	for i, it := range items {
		want, _ := json.Marshal(it)
		var got browse.Item
		if err := json.Unmarshal(lines[i], &got); err != nil {
			t.Fatal(err)
		}
		again, _ := json.Marshal(got)
		if !bytes.Equal(again, want) {
			t.Fatalf("JSON Lines line %d: %s, search result %s", i+1, lines[i], want)
		}
	}
	t.Logf("exports of %d rows equal the search", len(items))
}

func csvInt(p *int32) string {
	if p == nil {
		return ""
	}
	return fmt.Sprint(*p)
}

// screenshots is where the browser tests keep their screenshots (MHFZ_TEST_SCREENSHOTS, else a
// folder in the temporary folder, said in the log): test output, not committed.
func screenshots(t *testing.T) string {
	dir := os.Getenv("MHFZ_TEST_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "mhfz-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// TestReaderReadsAfterReprocessSwitch: a re-processing replaces the weapon tables by tables
// created in mhfz_rebuild and re-creates their views; mhfz_reader must still read every table,
// view and history function after the switch, and the search indexes of 00008 and 00010 and
// weapon_latest's triggers must have come along with the tables.
func TestReaderReadsAfterReprocessSwitch(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dbURL := testenv.DatabaseURL(t)
	db, err := migrations.Open(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := migrations.NewProvider(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(dbURL)
	u.User = url.User(migrations.ReaderRole)
	// The switch as mhfz reprocess makes it, as mhfz_rebuilder: the tables it moves in are its own.
	rebuilder := *u
	rebuilder.User = url.User(migrations.RebuilderRole)
	reader, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close(ctx)
	readAll := func(when string) {
		for _, table := range migrations.WeaponTables() {
			for _, q := range []string{"SELECT count(*) FROM " + table, "SELECT count(*) FROM " + table + "_current",
				"SELECT count(*) FROM " + table + "_history('x')"} {
				var n int
				if err := reader.QueryRow(ctx, q).Scan(&n); err != nil {
					t.Errorf("%s, as %s: %s: %v", when, migrations.ReaderRole, q, err)
				}
			}
		}
		var inserted bool
		_, err := reader.Exec(ctx, "DELETE FROM long_sword")
		if err == nil {
			inserted = true
		}
		if inserted {
			t.Errorf("%s: %s could delete from long_sword", when, migrations.ReaderRole)
		}
	}
	readAll("before a re-processing")
	for round := 1; round <= 2; round++ {
		rb, err := sink.NewRebuild(ctx, rebuilder.String(), "live", "rebuild")
		if err != nil {
			t.Fatal(err)
		}
		if err := rb.Prepare(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := rb.Switch(ctx); err != nil {
			t.Fatal(err)
		}
		rb.Close()
		readAll(fmt.Sprintf("after re-processing %d", round))
		// The sink writes the switched tables as before: the switch granted mhfz_writer again.
		var missing []string
		if err := reader.QueryRow(ctx, `SELECT coalesce(array_agg(t), '{}') FROM unnest(mhfz_weapon_tables() || ARRAY['weapon_latest']) t
			WHERE NOT has_table_privilege($1, 'public.' || t, 'INSERT')`, migrations.WriterRole).Scan(&missing); err != nil || len(missing) > 0 {
			t.Errorf("after re-processing %d: %s cannot insert into %v (%v)", round, migrations.WriterRole, missing, err)
		}
	}
	var trgm int
	if err := reader.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND indexdef LIKE '%gin_trgm_ops%'`).Scan(&trgm); err != nil {
		t.Fatal(err)
	}
	if want := len(migrations.WeaponTables()) + 1; trgm != want {
		t.Errorf("%d trigram indexes after the switches, want %d (materials of every table, weapon_latest's names)", trgm, want)
	}
	checkLatestAfterSwitch(t, ctx, db, reader)
}

// checkLatestAfterSwitch: after switches, weapon_latest has its indexes, every weapon table its
// triggers, and a row inserted into a (switched) table reaches public's weapon_latest, which
// mhfz_reader reads.
func checkLatestAfterSwitch(t *testing.T, ctx context.Context, owner *sql.DB, reader *pgx.Conn) {
	var indexes, triggers int
	if err := reader.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND tablename = $1`,
		migrations.LatestTable).Scan(&indexes); err != nil {
		t.Fatal(err)
	}
	if indexes != 10 {
		t.Errorf("%s has %d indexes after the switches, want the 10 of migration 00010", migrations.LatestTable, indexes)
	}
	if err := reader.QueryRow(ctx, `SELECT count(*) FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND g.tgname LIKE 'weapon_latest_%'`).Scan(&triggers); err != nil {
		t.Fatal(err)
	}
	if want := 4 * len(migrations.WeaponTables()); triggers != want {
		t.Errorf("%d triggers of weapon_latest on the weapon tables after the switches, want %d", triggers, want)
	}
	if _, err := owner.ExecContext(ctx, `INSERT INTO long_sword (key, version, content_hash, weapon_type, page_kind,
		layout, page, url, row_id, hidden, scraped_at, kafka_topic, kafka_partition, kafka_offset, name)
		VALUES ('long_sword/base/l0001', 1, 'h', 'long_sword', 'base', 'blademaster', 'x.htm', 'u', 'l0001', false,
		now(), 't', 0, 0, 'Switched Katana')`); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := reader.QueryRow(ctx, `SELECT name FROM weapon_latest WHERE key = 'long_sword/base/l0001'`).Scan(&name); err != nil {
		t.Errorf("a row inserted after the switches is not in public's %s: %v", migrations.LatestTable, err)
	}
}

// checkSearchesAgainstTables compares searches, followed page by page, with the same search
// written in SQL on the <table>_current views (the latest version of every key, by DISTINCT ON):
// the same weapons in the same order, whatever the path a search takes (weapon_latest, or the
// weapon tables for the level rows).
func checkSearchesAgainstTables(t *testing.T, ctx context.Context, api *apiClient, readerURL string) {
	conn, err := pgx.Connect(ctx, readerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var views []string
	for _, table := range migrations.WeaponTables() {
		views = append(views, `SELECT key, name, weapon_type, page_kind, hidden, row_id, level, rarity, g_rank, attack,
			affinity, element_value, status_value, defense, slots, price, elements, quality FROM `+
			pgx.Identifier{table + "_current"}.Sanitize())
	}
	const visible = "NOT hidden"
	for _, tc := range []struct{ query, where, order string }{
		{"", visible, "name"},
		{"kind=g&sort=-affinity", visible + " AND page_kind = 'g'", "affinity DESC"},
		{"type=long_sword&sort=-attack", visible + " AND weapon_type = 'long_sword'", "attack DESC"},
		{"type=hammer&sort=attack", visible + " AND weapon_type = 'hammer'", "attack"},
		{"type=long_sword&slots_min=2&sort=-attack", visible + " AND weapon_type = 'long_sword' AND slots >= 2", "attack DESC"},
		{"element=fire&element_min=300", visible + ` AND jsonb_path_exists(elements, '$[*] ? (@.kind == "fire" && @.value >= 300)')`, "name"},
		{"element=poison&sort=-status", visible + ` AND elements @> '[{"kind": "poison"}]'`, "status_value DESC"},
		{"type=switch_axe_f&rarity_min=5&sort=-rarity", visible + " AND weapon_type = 'switch_axe_f' AND rarity >= 5", "rarity DESC"},
		{"q=ka", visible + " AND name ILIKE '%ka%'", "name"},
		{"q=ea", visible + " AND (name ILIKE '%ea%' OR upper(row_id) IN ('EA', 'LEA'))", "name"},
		{"q=KATANA&sort=-element", visible + " AND name ILIKE '%katana%'", "element_value DESC"},
		{"q=刀", visible + " AND name LIKE '%刀%'", "name"},
		{"q=sword&kind=g&kind=sp&sort=-g_rank", visible + " AND name ILIKE '%sword%' AND page_kind IN ('g', 'sp')", "g_rank DESC"},
		{"kind=partner&sort=type", visible + " AND page_kind = 'partner'", "weapon_type"},
		{"flagged=true&sort=-price", visible + " AND quality IS NOT NULL", "price DESC"},
		{"sort=-defense&attack_min=200&attack_max=900", visible + " AND attack BETWEEN 200 AND 900", "defense DESC"},
		{"type=switch_axe_f&levels=true&sort=-attack", "weapon_type = 'switch_axe_f'", "attack DESC"},
		{"q=ka&levels=true&sort=level", "name ILIKE '%ka%'", "level"},
	} {
		rows, err := conn.Query(ctx, fmt.Sprintf("SELECT key FROM (%s) c WHERE %s ORDER BY %s NULLS LAST, key",
			strings.Join(views, " UNION ALL "), tc.where, tc.order))
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		want, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		query, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		got := api.searchPaged(t, query, 37) // many pages: the cursors are followed
		keys := make([]string, len(got))
		for i, it := range got {
			keys[i] = it.Key
		}
		if len(want) == 0 || !slices.Equal(keys, want) {
			t.Errorf("%s: %d weapons %v, want the %d of the tables %v", tc.query, len(keys), head(keys), len(want), head(want))
		} else {
			t.Logf("%s: the %d weapons of the tables, in their order", tc.query, len(keys))
		}
	}
}
