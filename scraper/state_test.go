package scraper

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	s, err := LoadState(path, quietLog())
	if err != nil || s.Len() != 0 {
		t.Fatalf("missing file: %v, %d entries", err, s.Len())
	}
	s.Remember("http://x/a.htm", Validator{ETag: `"1"`})
	s.Remember("http://x/b.htm", Validator{LastModified: "Wed, 22 Oct 2025 00:00:00 GMT"})
	s.Remember("http://x/c.htm", Validator{ETag: `"3"`})
	s.Remember("http://x/c.htm", Validator{}) // forgotten
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	back, err := LoadState(path, quietLog())
	if err != nil || back.Validator("http://x/a.htm").ETag != `"1"` || back.Len() != 2 {
		t.Fatalf("reloaded: %v, %+v", err, back.urls)
	}
	// Saving again replaces the file and leaves no temporary file behind.
	back.Remember("http://x/a.htm", Validator{ETag: `"2"`})
	if err := back.Save(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != "state.json" {
		t.Errorf("the folder holds %v (%v), want only state.json", entries, err)
	}
	if again, _ := LoadState(path, quietLog()); again.Validator("http://x/a.htm").ETag != `"2"` {
		t.Errorf("the second save was not kept: %+v", again.urls)
	}
	never, err := LoadState("", quietLog())
	if err != nil || never.Save() != nil {
		t.Errorf("a state without a file: %v", err)
	}
}

func TestStateSaveFailureNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-folder", "state.json")
	s, err := LoadState(path, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	s.Remember("http://x/a.htm", Validator{ETag: `"1"`})
	if err := s.Save(); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("saving into a missing folder: %v, want an error naming the file", err)
	}
}

// TestCorruptStateFile: a state file that cannot be understood is a warning naming the file and
// the problem, and the scrape starts from an empty state instead of failing.
func TestCorruptStateFile(t *testing.T) {
	good := `{
  "http://x/a.htm": {"etag": "\"1\""},
  "http://x/b.htm": {"last_modified": "Wed, 22 Oct 2025 00:00:00 GMT"}
}`
	tests := []struct {
		name    string
		content string
		problem string // in the warning
	}{
		{"truncated", good[:len(good)/2], "truncated JSON"},
		{"cut after the first entry", good[:strings.Index(good, "},")+2], "truncated JSON"},
		{"empty", "", "empty file"},
		{"garbage", "\x00\x01\xffPK\x03\x04 not json at all", "not a JSON object"},
		{"an array", `["http://x/a.htm"]`, "not a JSON object"},
		{"a number as validator", `{"http://x/a.htm": 5}`, "not a JSON object"},
		{"unknown fields", `{"http://x/a.htm": {"hash": "abc"}}`, "unknown field"},
		{"empty validator", `{"http://x/a.htm": {}}`, "neither etag nor last_modified"},
		{"key not a URL", `{"a.htm": {"etag": "\"1\""}}`, "not an http(s) URL"},
		{"null", `null`, "null"},
		{"two objects", good + good, "data after the JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			logs, log := newLogBuffer()
			s, err := LoadState(path, log)
			if err != nil {
				t.Fatalf("a corrupt state file is an error: %v", err)
			}
			if s.Len() != 0 {
				t.Errorf("%d entries kept from a corrupt file", s.Len())
			}
			warn := regexp.MustCompile(`level=WARN .*file=` + regexp.QuoteMeta(path) + `.*problem=.*` + regexp.QuoteMeta(tc.problem))
			if len(logs.lines(warn)) != 1 {
				t.Errorf("want one warning naming the file and %q; the log:\n%s", tc.problem, logs)
			}
			// The next save replaces the corrupt file with a good one.
			s.Remember("http://x/a.htm", Validator{ETag: `"9"`})
			if err := s.Save(); err != nil {
				t.Fatal(err)
			}
			back, err := LoadState(path, log)
			if err != nil || back.Len() != 1 || back.Validator("http://x/a.htm").ETag != `"9"` {
				t.Errorf("after a save: %v, %+v", err, back.urls)
			}
		})
	}
	// A good file gives no warning.
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	logs, log := newLogBuffer()
	if s, err := LoadState(path, log); err != nil || s.Len() != 2 || logs.String() != "" {
		t.Errorf("a good file: %v, %d entries, log %q", err, s.Len(), logs)
	}
}

func TestStateUnreadableFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := os.Mkdir(path, 0o755); err != nil { // a folder where the file should be
		t.Fatal(err)
	}
	if _, err := LoadState(path, quietLog()); err == nil {
		t.Error("a state path that cannot be read: no error")
	}
}
