package browse

import (
	_ "embed"
	"fmt"
	"net/http"

	json "github.com/goccy/go-json"
	"gopkg.in/yaml.v3"
)

// OpenAPI is the OpenAPI document of the JSON API.
//
//go:embed openapi.yaml
var OpenAPI []byte

// openAPIJSON is the same document as JSON, converted once.
func openAPIJSON() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(OpenAPI, &doc); err != nil {
		return nil, fmt.Errorf("browse: openapi.yaml: %w", err)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("browse: openapi.yaml as JSON: %w", err)
	}
	return b, nil
}

func (s *Server) apiOpenAPIYAML(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	_, _ = w.Write(OpenAPI)
	return nil
}

func (s *Server) apiOpenAPIJSON(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(s.openAPIJSON)
	return nil
}
