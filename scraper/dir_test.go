package scraper

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// siteDir writes the fixture site into a folder, with a file that is not a weapon page.
func siteDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range fixtureSite(t) {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "style.css"), []byte("body{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestScrapeFolder: the --source path (a DirFetcher through the scraper) reads every weapon
// page of the folder, with file:// URLs, and no other file.
func TestScrapeFolder(t *testing.T) {
	f, err := NewDirFetcher(siteDir(t))
	if err != nil {
		t.Fatal(err)
	}
	res, recs := scrapeAll(t, f, 3)
	if res.Pages != 6 || res.Rows != fixtureSiteRows || len(recs) != fixtureSiteRows || res.Failures() != 0 {
		t.Errorf("pages %d rows %d records %d failures %v", res.Pages, res.Rows, len(recs), res.FailedPages)
	}
	if res.Absent != 15 || res.Disallowed != 0 {
		t.Errorf("absent %d disallowed %d, want the 15 guessed pages absent and none disallowed", res.Absent, res.Disallowed)
	}
	if _, ok := any(f).(Preparer); ok {
		t.Error("a folder has no robots.txt to read, yet its fetcher prepares scrapes")
	}
	if !reflect.DeepEqual(res.EmptyPages, []string{"taiken_partnya.htm"}) {
		t.Errorf("empty pages %v, want the partner page with an empty tbody", res.EmptyPages)
	}
	for key, r := range recs {
		if !strings.HasPrefix(r.URL, "file://") || !strings.HasSuffix(r.URL, "/"+r.Page) {
			t.Errorf("record %s: url %q", key, r.URL)
		}
	}
	if recs["long_sword/tower/l3000"] == nil || recs["great_sword/base/l0701"] == nil {
		t.Error("a page of the folder that no index links to was not read")
	}
	if len(res.Validators) != 0 {
		t.Errorf("validators %v: a folder has none", res.Validators)
	}
}

func TestScrapeFolderErrors(t *testing.T) {
	if _, err := NewDirFetcher(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing folder: no error")
	}
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDirFetcher(notDir); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("a file as the folder: %v", err)
	}
	f, err := NewDirFetcher(siteDir(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := newTestScraper(f, 2)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("stop")
	if _, err := s.Scrape(context.Background(), func(*codecs.RawRecord) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("callback error: got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Scrape(ctx, func(*codecs.RawRecord) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
}
