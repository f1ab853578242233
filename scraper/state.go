package scraper

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/renameio/v2"
)

// Validator is what the server said about a page's version: sent back in a conditional GET
// so that an unchanged page is not downloaded again.
type Validator struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

// Empty reports whether there is nothing to send.
func (v Validator) Empty() bool { return v.ETag == "" && v.LastModified == "" }

// State remembers the validators of the pages between runs, in a JSON file. A page's
// validator is remembered only after its records were emitted (Remember), so a page whose
// records were lost is downloaded again next time. Safe for concurrent use.
type State struct {
	path string
	mu   sync.Mutex
	urls map[string]Validator
}

// LoadState reads the state file at path; a missing file is an empty state. An empty path is a
// state that is never saved (every run downloads every page).
//
// A file that cannot be understood (truncated, not JSON, JSON of another shape) is logged as a
// warning naming it and the problem, and the state starts empty: the scrape downloads every page
// again, which costs bandwidth but loses nothing, where refusing to start would crash-loop the
// service until someone deletes the file. The next successful save replaces it. A file that
// cannot be read at all (permissions, I/O) is an error: saving would fail the same way.
func LoadState(path string, log *slog.Logger) (*State, error) {
	s := &State{path: path, urls: map[string]Validator{}}
	if path == "" {
		return s, nil
	}
	if log == nil {
		log = slog.Default()
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load scrape state: %w", err)
	}
	urls, err := decodeState(data)
	if err != nil {
		log.Warn("scrape state file unreadable: starting with an empty state, every page is downloaded again",
			"file", path, "problem", err.Error(), "bytes", len(data))
		return s, nil
	}
	s.urls = urls
	return s, nil
}

// decodeState reads the state file's JSON strictly: one object of URL -> validator, nothing
// after it, no unknown fields, no empty validator and no key that is not an http(s) URL.
func decodeState(data []byte) (map[string]Validator, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var urls map[string]Validator
	if err := dec.Decode(&urls); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty file")
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("truncated JSON: %w", err)
		}
		return nil, fmt.Errorf("not a JSON object of URL -> {etag, last_modified}: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("data after the JSON object at byte %d", dec.InputOffset())
	}
	if urls == nil {
		return nil, errors.New("null instead of a JSON object")
	}
	for u, v := range urls {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return nil, fmt.Errorf("key %q is not an http(s) URL", u)
		}
		if v.Empty() {
			return nil, fmt.Errorf("URL %s has neither etag nor last_modified", u)
		}
	}
	return urls, nil
}

// Validator returns what is remembered for a URL.
func (s *State) Validator(url string) Validator {
	if s == nil {
		return Validator{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.urls[url]
}

// Remember records a URL's validator (or forgets it, if v is empty).
func (s *State) Remember(url string, v Validator) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v.Empty() {
		delete(s.urls, url)
		return
	}
	s.urls[url] = v
}

// Len is the number of remembered URLs.
func (s *State) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.urls)
}

// Save writes the state file atomically and durably: renameio writes a temporary file beside
// it, fsyncs it and renames it over the old one, so that a crash leaves either the old or the new
// file, never half of one; the folder is then fsynced too, so that the rename itself survives a
// power loss (renameio does not do that part).
func (s *State) Save() error {
	if s == nil || s.path == "" {
		return nil
	}
	s.mu.Lock()
	data, err := json.MarshalIndent(s.urls, "", "  ")
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("save scrape state: %w", err)
	}
	dir := filepath.Dir(s.path)
	if err := renameio.WriteFile(s.path, append(data, '\n'), 0o644, renameio.WithTempDir(dir)); err != nil {
		return fmt.Errorf("save scrape state %s: %w", s.path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("save scrape state %s: %w", s.path, err)
	}
	return nil
}

// syncDir fsyncs a folder, which makes the renames done in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open folder to sync: %w", err)
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return d.Close()
}
