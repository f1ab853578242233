package browse_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/browse"
)

// botRow is a weapon row of the bots' tests: the columns they read.
type botRow struct {
	table, weaponType, kind, page, rowID, name string
	hidden                                     bool
	level, rarity                              *int
	materials, upgradeTo                       string // JSON, or "" for NULL
}

func intp(n int) *int { return &n }

// botRows are names as the site writes them: English, Japanese with the game's id in front
// (l1942 is "4219・…"), the same game weapon on a base and a tower page (l3190), the id 1 in
// each of the game's three spaces, and a level row.
var botRows = []botRow{
	{"long_sword", "long_sword", "base", "tachi.htm", "l000A", "Iron Katana", false, nil, intp(1),
		`{"creation": [[{"item_id": "00DA", "name": "Machalite Ore", "quantity": 2, "key": true}]]}`, `[{"row_id": "l000B", "name": "Iron Katana \"Grace\""}]`},
	{"long_sword", "long_sword", "base", "tachi.htm", "l000A2", "Iron Katana", true, intp(2), intp(1), "", ""},
	{"long_sword", "long_sword", "base", "tachi.htm", "l000B", `Iron Katana "Grace"`, false, nil, intp(1), "", ""},
	{"long_sword", "long_sword", "base", "tachi.htm", "l0010", "Black Katana", false, nil, intp(2), "", ""},
	{"long_sword", "long_sword", "base", "tachi.htm", "l0011", "Katana Prime", false, nil, intp(3), "", ""},
	{"long_sword", "long_sword", "base", "tachi.htm", "l0005", "Hellish Slasher", false, nil, intp(3), "", ""},
	{"long_sword", "long_sword", "base", "tachi.htm", "l1942", "4219・覇帝刀ケミカムトルム", false, nil, intp(7), "", ""},
	{"long_sword", "long_sword", "base", "tachi.htm", "l3190", "Blood Drunk", false, nil, intp(12), "", ""},
	{"long_sword", "long_sword", "tower", "tachi_t.htm", "l3190", "ブラッドドランク", false, nil, nil, "", ""},
	{"long_sword", "long_sword", "tower", "tachi_t.htm", "l31901", "ブラッドドランク", false, intp(1), nil, "", ""},
	{"long_sword", "long_sword", "g", "tachi_g.htm", "l000B50", `Iron Katana "Grace"`, false, intp(50), intp(8), "", ""},
	{"great_sword", "great_sword", "base", "taiken.htm", "l0001", "Iron Sword", false, nil, intp(1), "", ""},
	{"partner_weapon", "great_sword", "partner", "taiken_partnya.htm", "l0001", "Partner Iron Sword", false, nil, intp(1), "", ""},
	{"bow", "bow", "base", "yumi.htm", "l0001", "Hunter's Bow", false, nil, intp(1), "", ""},
}

// botsServer stores botRows in a fresh database and serves it as mhfz_reader.
func botsServer(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	owner, reader := migratedDB(t)
	conn, err := pgx.Connect(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for i, r := range botRows {
		var mats, up any
		if r.materials != "" {
			mats = r.materials
		}
		if r.upgradeTo != "" {
			up = r.upgradeTo
		}
		key := r.weaponType + "/" + r.kind + "/" + r.rowID
		layout := "ken"
		if r.weaponType == "bow" {
			layout = "yumi"
		}
		if _, err := conn.Exec(ctx, "INSERT INTO "+pgx.Identifier{r.table}.Sanitize()+` (key, version, content_hash, weapon_type,
			page_kind, layout, page, url, row_id, hidden, scraped_at, kafka_topic, kafka_partition, kafka_offset, name, level,
			rarity, attack, materials, upgrade_to) VALUES ($1, 1, 'h', $2, $3, $4, $5, 'u', $6, $7, now(), 't', 0, $8, $9, $10,
			$11, 100, $12, $13)`, key, r.weaponType, r.kind, layout, r.page, r.rowID, r.hidden, i, r.name, r.level, r.rarity,
			mats, up); err != nil {
			t.Fatalf("insert %s: %v", key, err)
		}
	}
	base, stop := startServer(t, testConfig(reader))
	serving(t, base, stop)
	return base
}

// getJSON gets path and decodes its answer into v (when not nil); it returns the status and
// the error message of an error's answer.
func getJSON(t *testing.T, base, path string, v any) (int, string) {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, base, path, resp, body)
	if resp.StatusCode != 200 {
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		return resp.StatusCode, e.Error
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, body)
		}
	}
	return resp.StatusCode, ""
}

// validate checks an answer against openapi.yaml: its request and its answer (a 200's, without
// fields=, which leaves out what the schemas require; an error's).
func validate(t *testing.T, base, path string, resp *http.Response, body []byte) {
	t.Helper()
	doc := loadOpenAPI(t)
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", base+path, nil)
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("GET %s is not in openapi.yaml: %v", path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route}
	if resp.StatusCode == 200 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("GET %s: the request does not match openapi.yaml: %v", path, err)
		}
	}
	if strings.Contains(path, "fields=") && resp.StatusCode == 200 {
		return
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(strings.NewReader(string(body)))}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("GET %s: the answer does not match openapi.yaml: %v", path, err)
	}
}

// TestSuggest: the names that begin with q first (English, Japanese without the game's id in
// front), then, from 3 characters, the others that have q (where it begins a word first), and
// only when none has it, those that look like it; the type filter; the Japanese name from the
// weapon's own name or from its tower page.
func TestSuggest(t *testing.T) {
	base := botsServer(t)
	for _, tc := range []struct {
		q, query string
		want     []string // key (match)
		nameJA   map[string]string
	}{
		{"iron", "", []string{"long_sword/base/l000A (prefix)", `long_sword/base/l000B (prefix)`, "long_sword/g/l000B50 (prefix)",
			"great_sword/base/l0001 (prefix)", "great_sword/partner/l0001 (substring)"}, nil},
		{"IRON", "&type=great_sword", []string{"great_sword/base/l0001 (prefix)", "great_sword/partner/l0001 (substring)"}, nil},
		{"iron", "&limit=2", []string{"long_sword/base/l000A (prefix)", "long_sword/base/l000B (prefix)"}, nil},
		{"katana", "", []string{"long_sword/base/l0011 (prefix)", "long_sword/base/l000A (substring)", "long_sword/base/l0010 (substring)",
			"long_sword/base/l000B (substring)", "long_sword/g/l000B50 (substring)"}, nil},
		{"ka", "", []string{"long_sword/base/l0011 (prefix)"}, nil},               // too short for the trigrams
		{"hellish slahser", "", []string{"long_sword/base/l0005 (similar)"}, nil}, // a typo: nothing has it
		{"katanna", "", []string{"long_sword/base/l000A (similar)", "long_sword/base/l0010 (similar)", "long_sword/base/l0011 (similar)",
			"long_sword/base/l000B (similar)", "long_sword/g/l000B50 (similar)"}, nil},
		{"slash", "", []string{"long_sword/base/l0005 (substring)"}, nil}, // found: no similar names after it
		{"覇帝刀", "", []string{"long_sword/base/l1942 (prefix)"}, map[string]string{"long_sword/base/l1942": "4219・覇帝刀ケミカムトルム"}},
		{"ブラッド", "", []string{"long_sword/tower/l3190 (prefix)"}, map[string]string{"long_sword/tower/l3190": "ブラッドドランク"}},
		{"blood", "&type=long_sword&type=bow", []string{"long_sword/base/l3190 (prefix)"}, map[string]string{"long_sword/base/l3190": "ブラッドドランク"}},
		{"blood", "&type=bow", nil, nil},
		{"hunter", "", []string{"bow/base/l0001 (prefix)"}, map[string]string{"bow/base/l0001": ""}},
	} {
		var got browse.SuggestAnswer
		path := "/api/suggest?q=" + url.QueryEscape(tc.q) + tc.query
		if status, msg := getJSON(t, base, path, &got); status != 200 {
			t.Fatalf("GET %s: %d %s", path, status, msg)
		}
		var keys []string
		for _, sg := range got.Suggestions {
			keys = append(keys, sg.Key+" ("+sg.Match+")")
			if ja, ok := tc.nameJA[sg.Key]; ok && (sg.NameJA == nil && ja != "" || sg.NameJA != nil && *sg.NameJA != ja) {
				t.Errorf("GET %s: %s has the Japanese name %v, want %q", path, sg.Key, deref(sg.NameJA), ja)
			}
			if sg.FeriasURL == "" || sg.GameID == nil || sg.GameIDSpace == "" {
				t.Errorf("GET %s: %s lacks its page, game id or space: %+v", path, sg.Key, sg)
			}
		}
		if !slices.Equal(keys, tc.want) {
			t.Errorf("GET %s:\n got %q\nwant %q", path, keys, tc.want)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestBotsBadInput: suggest, fields, expand and the game id refuse what they do not know with a
// 400 that says what is wrong (and the known values); an unknown game id is a 404.
func TestBotsBadInput(t *testing.T) {
	base := botsServer(t)
	for _, tc := range []struct {
		path   string
		status int
		says   string
	}{
		{"/api/suggest", 400, "q: required"},
		{"/api/suggest?q=a&limit=26", 400, "limit: 26 is outside 1..25"},
		{"/api/suggest?q=a&type=sword", 400, `type: unknown weapon type "sword"`},
		{"/api/suggest?q=a&sort=name", 400, `unknown parameter "sort"`},
		{"/api/weapons?q=iron&fields=key,power", 400, `fields: unknown field "power" (known: key, version, weapon_type`},
		{"/api/weapons?q=iron&fields=", 400, "fields: empty"},
		{"/api/weapons/long_sword/base/l000A?fields=weapon,nope", 400, `fields: unknown field "nope" (known: key, weapon, ferias_url, row_id, game_id, game_id_space, level_of, levels, upgrades, materials, history)`},
		{"/api/weapons/long_sword/base/l000A?expand=recipes", 400, `expand: unknown part "recipes" (known: materials, tree, none)`},
		{"/api/weapons/long_sword/base/l000A?expand=none,tree", 400, "expand: none with other parts"},
		{"/api/weapons/long_sword/base/l000A?fields=upgrades&expand=materials", 400, "fields: upgrades is the upgrade tree: add expand=tree"},
		{"/api/weapons/long_sword/base/l000A?fields=materials", 400, "fields: materials are the recipes' items: add expand=materials"},
		{"/api/weapons/by-game-id/x", 400, `id: "x" is not a game weapon id`},
		{"/api/weapons/by-game-id/65536", 400, `id: "65536" is not a game weapon id`},
		{"/api/weapons/by-game-id/1?space=gunner", 400, `space: unknown id space "gunner"`},
		{"/api/weapons/by-game-id/1?fields=nope", 400, `fields: unknown field "nope"`},
		{"/api/weapons/by-game-id/2", 404, "no weapon has the game id 2 (0x0002)"},
		{"/api/weapons/by-game-id/1?space=ranged&type=great_sword", 404, "no weapon has the game id 1 (0x0001) among space ranged, type great_sword"},
	} {
		status, msg := getJSON(t, base, tc.path, nil)
		if status != tc.status || !strings.Contains(msg, tc.says) {
			t.Errorf("GET %s: %d %q, want %d saying %q", tc.path, status, msg, tc.status, tc.says)
		}
	}
}

// TestFieldsAndExpand: fields= answers the members named, in their order; without expand the
// weapon route answers what it always did (the tree, no materials list); expand picks the parts.
func TestFieldsAndExpand(t *testing.T) {
	base := botsServer(t)
	for _, tc := range []struct {
		path    string
		members []string // of the weapon, or of each item of a search
	}{
		{"/api/weapons/long_sword/base/l000A", []string{"key", "weapon", "ferias_url", "row_id", "game_id", "game_id_space",
			"level_of", "levels", "upgrades", "history"}},
		{"/api/weapons/long_sword/base/l000A?expand=materials,tree", []string{"key", "weapon", "ferias_url", "row_id", "game_id",
			"game_id_space", "level_of", "levels", "upgrades", "materials", "history"}},
		{"/api/weapons/long_sword/base/l000A?expand=materials", []string{"key", "weapon", "ferias_url", "row_id", "game_id",
			"game_id_space", "level_of", "levels", "materials", "history"}},
		{"/api/weapons/long_sword/base/l000A?expand=none", []string{"key", "weapon", "ferias_url", "row_id", "game_id",
			"game_id_space", "level_of", "levels", "history"}},
		{"/api/weapons/long_sword/base/l000A?fields=game_id,key,ferias_url", []string{"game_id", "key", "ferias_url"}},
		{"/api/weapons/long_sword/base/l000A?fields=key,upgrades,materials&expand=tree,materials", []string{"key", "upgrades", "materials"}},
		{"/api/weapons?q=iron&fields=name,game_id,ferias_url", []string{"name", "game_id", "ferias_url"}},
		{"/api/weapons?q=iron", append(slices.Clone(browse.ExportColumns), "ferias_url", "game_id", "game_id_space")},
		{"/api/weapons/by-game-id/1?fields=key,game_id_space", []string{"key", "game_id_space"}},
	} {
		var raw json.RawMessage
		if status, msg := getJSON(t, base, tc.path, &raw); status != 200 {
			t.Fatalf("GET %s: %d %s", tc.path, status, msg)
		}
		var lists struct{ Items, Weapons []json.RawMessage }
		_ = json.Unmarshal(raw, &lists)
		if len(lists.Items) > 0 {
			raw = lists.Items[0]
		} else if len(lists.Weapons) > 0 {
			raw = lists.Weapons[0]
		}
		if got := orderedKeys(t, raw); !slices.Equal(got, tc.members) {
			t.Errorf("GET %s: members\n got %v\nwant %v", tc.path, got, tc.members)
		}
	}
	var wp browse.Weapon
	getJSON(t, base, "/api/weapons/long_sword/base/l000A?expand=materials,tree", &wp)
	wantMat := browse.MaterialItem{Recipe: "creation", ItemID: "00DA", Name: "Machalite Ore", Quantity: 2, KeyItem: true,
		ItemURL: "https://xl3lackout.github.io/MHFZ-Ferias-English-Project/sozai/sozai.htm?00DA", UsedBy: "/api/materials?item_id=00DA"}
	if wp.Materials == nil || len(*wp.Materials) != 1 || (*wp.Materials)[0] != wantMat {
		t.Errorf("the materials of long_sword/base/l000A: %+v, want [%+v]", wp.Materials, wantMat)
	}
	if len(wp.Upgrades.To) != 1 || wp.Upgrades.To[0].Key != "long_sword/base/l000B" || !wp.Upgrades.To[0].Found {
		t.Errorf("the tree of long_sword/base/l000A: %+v, want it to lead to long_sword/base/l000B", wp.Upgrades.To)
	}
	if wp.GameID == nil || *wp.GameID != 10 || wp.GameIDSpace != "melee" || wp.RowID != "l000A" ||
		wp.FeriasURL != browse.DefaultSiteURL+"tachi.htm#l000A" {
		t.Errorf("long_sword/base/l000A: game id %v %q, row id %q, page %q", wp.GameID, wp.GameIDSpace, wp.RowID, wp.FeriasURL)
	}
}

// orderedKeys are the members of a JSON object, in its order.
func orderedKeys(t *testing.T, obj json.RawMessage) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(obj)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", obj)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestGameIDLookup: every weapon whose row id encodes the game id, in each of the game's spaces
// (the id 1 is a great sword, a partner's great sword and a bow), narrowed by space or type; the
// same game weapon on two pages of its type; each with its page and id.
func TestGameIDLookup(t *testing.T) {
	base := botsServer(t)
	for _, tc := range []struct {
		path string
		want []string // key space game_id ferias_url
	}{
		{"/api/weapons/by-game-id/1", []string{
			"bow/base/l0001 ranged 1 " + browse.DefaultSiteURL + "yumi.htm#l0001",
			"great_sword/base/l0001 melee 1 " + browse.DefaultSiteURL + "taiken.htm#l0001",
			"great_sword/partner/l0001 partner 1 " + browse.DefaultSiteURL + "taiken_partnya.htm#l0001"}},
		{"/api/weapons/by-game-id/1?space=partner", []string{
			"great_sword/partner/l0001 partner 1 " + browse.DefaultSiteURL + "taiken_partnya.htm#l0001"}},
		{"/api/weapons/by-game-id/1?type=bow", []string{"bow/base/l0001 ranged 1 " + browse.DefaultSiteURL + "yumi.htm#l0001"}},
		{"/api/weapons/by-game-id/12688", []string{ // 0x3190, and not the tower page's row of its level 1
			"long_sword/base/l3190 melee 12688 " + browse.DefaultSiteURL + "tachi.htm#l3190",
			"long_sword/tower/l3190 melee 12688 " + browse.DefaultSiteURL + "tachi_t.htm#l3190"}},
		{"/api/weapons/by-game-id/11", []string{ // 0x000B: on the base page and, at level 50, on the G-rank page
			"long_sword/base/l000B melee 11 " + browse.DefaultSiteURL + "tachi.htm#l000B",
			"long_sword/g/l000B50 melee 11 " + browse.DefaultSiteURL + "tachi_g.htm#l000B50"}},
		{"/api/weapons/by-game-id/10", []string{ // 0x000A: the weapon, not its level row
			"long_sword/base/l000A melee 10 " + browse.DefaultSiteURL + "tachi.htm#l000A"}},
	} {
		var got browse.GameIDAnswer
		if status, msg := getJSON(t, base, tc.path, &got); status != 200 {
			t.Fatalf("GET %s: %d %s", tc.path, status, msg)
		}
		var keys []string
		for _, w := range got.Weapons {
			keys = append(keys, fmt.Sprintf("%s %s %d %s", w.Key, w.GameIDSpace, *w.GameID, w.FeriasURL))
		}
		if !slices.Equal(keys, tc.want) {
			t.Errorf("GET %s:\n got %q\nwant %q", tc.path, keys, tc.want)
		}
	}
	// A level row's page is its weapon's row: the site cannot scroll to a hidden row.
	var page struct{ Items []browse.APIItem }
	getJSON(t, base, "/api/weapons?id=l000A2", &page)
	if len(page.Items) != 1 || page.Items[0].FeriasURL != browse.DefaultSiteURL+"tachi.htm#l000A" || *page.Items[0].GameID != 10 {
		t.Errorf("the level row l000A2: %+v, want the page of l000A and the game id 10", page.Items)
	}
}
