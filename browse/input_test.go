package browse_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBadInput: what a client gets wrong is a 4xx whose message says what is wrong, before any
// query; an unreachable database is a 503 that says so and shows no error of the driver.
func TestBadInput(t *testing.T) {
	srv := httptest.NewServer(offlineHandler(t))
	defer srv.Close()
	long := strings.Repeat("a", 10*1024)
	for _, tc := range []struct {
		path   string
		status int
		says   string
	}{
		{"/api/weapons?q=" + long, 400, "q: 10240 characters, at most 100"},
		{"/api/weapons?limit=1000", 400, "limit: 1000 is more than 200"},
		{"/api/weapons?limit=0", 400, "limit: 0, at least 1"},
		{"/api/weapons?limit=ten", 400, `limit: "ten" is not a whole number`},
		{"/api/weapons?rarity_min=x", 400, `rarity_min: "x" is not a whole number`},
		{"/api/weapons?slots_min=9", 400, "slots_min: 9 is outside 0..3"},
		{"/api/weapons?type=sword", 400, `type: unknown weapon type "sword"`},
		{"/api/weapons?kind=z", 400, `kind: unknown page kind "z"`},
		{"/api/weapons?element=Fire!", 400, "element: \"fire!\" is not an element"},
		{"/api/weapons?element_min=5", 400, "element_min needs element"},
		{"/api/weapons?sort=power", 400, `sort: unknown order "power"`},
		{"/api/weapons?after=%%%", 400, "the query string does not parse"},
		{"/api/weapons?after=bm90IGEgY3Vyc29y", 400, "after: not a cursor"},
		{"/api/weapons?rarty_min=3", 400, `unknown parameter "rarty_min"`},
		{"/api/weapons?q=%ff%fe", 400, "q: not valid UTF-8"},
		{"/api/weapons?id=hello!", 400, `id: "hello!" is not a row id`},
		{"/api/weapons/sword/g/l1", 404, `no weapon "sword/g/l1"`},
		{"/api/weapons/long_sword/x/l1", 404, `no weapon "long_sword/x/l1"`},
		{"/api/materials", 400, "give item_id"},
		{"/api/materials?item_id=zz!", 400, `item_id: "ZZ!" is not an item id`},
		{"/api/items", 400, "q: give a part of an item's name"},
		{"/api/changes/yesterday", 400, `scraped_at: "yesterday" is not a time`},
		{"/api/changes?limit=3", 400, "this route takes none"},
		{"/api/nothing", 404, "no API route GET /api/nothing"},
		{"/api/weapons?q=katana", 503, "the database is not available"},
		{"/weapons/sword/g/l1", 404, "no weapon"},
		{"/nothing", 404, "no page /nothing"},
	} {
		t.Run(tc.path[:min(len(tc.path), 40)], func(t *testing.T) {
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			msg := string(body)
			if strings.HasPrefix(tc.path, "/api/") {
				var e struct{ Error string }
				if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
					t.Fatalf("not a JSON error: %s", body)
				}
				msg = e.Error
			}
			if !strings.Contains(msg, tc.says) {
				t.Errorf("message %q does not say %q", clipped(msg), tc.says)
			}
			for _, leak := range []string{"dial", "SQLSTATE", "pgx", "goroutine", ".go:"} {
				if strings.Contains(msg, leak) {
					t.Errorf("the message shows %q: %s", leak, clipped(msg))
				}
			}
		})
	}
}

func clipped(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
