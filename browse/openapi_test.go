package browse_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mhfz/mhfz-pipeline/browse"
)

// offlineURL is a database that is never reached.
const offlineURL = "postgres://nobody@127.0.0.1:1/none?connect_timeout=1"

// testConfig is the default configuration with a quiet logger and this database.
func testConfig(dbURL string) browse.Config {
	cfg := browse.DefaultConfig()
	cfg.DatabaseURL, cfg.Logger = dbURL, slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// offlineServer is a server whose database is never reached.
func offlineServer(t *testing.T) *browse.Server {
	t.Helper()
	s, err := browse.New(testConfig(offlineURL))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// offlineHandler is what offlineServer serves (without Run: it would wait for the database).
func offlineHandler(t *testing.T) http.Handler {
	return browse.Handler(t, offlineServer(t))
}

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(browse.OpenAPI)
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// TestOpenAPIMatchesTheRoutes keeps openapi.yaml in step with the server: every route is
// documented with exactly the query parameters it accepts, and nothing else is documented.
func TestOpenAPIMatchesTheRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	s := offlineServer(t)
	served := map[string]bool{}
	for _, r := range s.APIRoutes() {
		served[r.Method+" "+r.Path] = true
		item := doc.Paths.Find(r.Path)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("%s %s is served but not in openapi.yaml", r.Method, r.Path)
			continue
		}
		op := item.GetOperation(r.Method)
		var documented []string
		for _, p := range op.Parameters {
			if p.Value.In == openapi3.ParameterInQuery {
				documented = append(documented, p.Value.Name)
			}
		}
		got, want := slices.Sorted(slices.Values(documented)), slices.Sorted(slices.Values(r.Params))
		if !slices.Equal(got, want) {
			t.Errorf("%s %s: openapi.yaml documents the query parameters %v, the server accepts %v", r.Method, r.Path, got, want)
		}
		codes := []string{"200"}
		if r.Path != "/api/health" { // cached, and rate-limited
			codes = append(codes, "304", "429")
		}
		for _, code := range codes {
			if op.Responses.Value(code) == nil {
				t.Errorf("%s %s: no %s response documented", r.Method, r.Path, code)
			}
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !served[method+" "+path] {
				t.Errorf("openapi.yaml documents %s %s, which the server does not serve", method, path)
			}
		}
	}
}

// TestOpenAPIServed: the document is served as YAML and as JSON, the same document.
func TestOpenAPIServed(t *testing.T) {
	srv := httptest.NewServer(offlineHandler(t))
	defer srv.Close()
	for _, path := range []string{"/api/openapi.yaml", "/api/openapi.json"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		doc, err := openapi3.NewLoader().LoadFromData(body)
		if err != nil {
			t.Fatalf("%s does not load: %v", path, err)
		}
		if doc.Paths.Find("/api/weapons") == nil || !strings.Contains(doc.Info.Title, "MHFZ") {
			t.Errorf("%s is not the API's document", path)
		}
	}
}
