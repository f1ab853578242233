package scraper

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
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
func LoadState(path string) (*State, error) {
	s := &State{path: path, urls: map[string]Validator{}}
	if path == "" {
		return s, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load scrape state: %w", err)
	}
	if err := json.Unmarshal(data, &s.urls); err != nil {
		return nil, fmt.Errorf("load scrape state %s: malformed JSON (delete it to start afresh): %w", path, err)
	}
	if s.urls == nil {
		s.urls = map[string]Validator{}
	}
	return s, nil
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

// Save writes the state file (through a temporary file and a rename, so that a crash never
// leaves half a file).
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
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".scrape-state-*")
	if err != nil {
		return fmt.Errorf("save scrape state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("save scrape state %s: %w", s.path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save scrape state %s: %w", s.path, err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("save scrape state %s: %w", s.path, err)
	}
	return nil
}
