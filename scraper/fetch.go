package scraper

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// FetchStatus says what fetching a page gave.
type FetchStatus int

const (
	// Fetched: the page's body was read.
	Fetched FetchStatus = iota
	// Unchanged: the page has not changed since the last run (HTTP 304); no body.
	Unchanged
	// Absent: the site has no such page (HTTP 404 or 410, or no such file).
	Absent
	// Disallowed: the site's robots.txt forbids the page to us; it was not fetched.
	Disallowed
)

func (s FetchStatus) String() string {
	switch s {
	case Fetched:
		return "fetched"
	case Unchanged:
		return "unchanged"
	case Absent:
		return "absent"
	case Disallowed:
		return "disallowed"
	}
	return fmt.Sprintf("FetchStatus(%d)", int(s))
}

// Page is a fetched page.
type Page struct {
	Name   string // "tachi_g.htm"
	URL    string
	Status FetchStatus
	Body   []byte
	// Validator is what a conditional GET of the page will send next time (HTTP only); it is
	// remembered only once the page's records are safely emitted (see State).
	Validator Validator
}

// Fetcher reads the pages of the site's buki/ folder by name. An error is a failure after the
// fetcher's own retries; an absent page is not an error.
type Fetcher interface {
	Fetch(ctx context.Context, name string) (Page, error)
}

// Preparer is a Fetcher with something to do before each scrape: an HTTP fetcher reads the
// site's robots.txt. An error stops the scrape before anything is fetched.
type Preparer interface {
	Prepare(ctx context.Context) error
}

// Lister is a Fetcher that can also list its pages (a local folder): the scrape adds them to
// those it discovers through the index.
type Lister interface {
	WeaponPages(ctx context.Context) ([]string, error)
}

// DirFetcher reads the pages of a local copy of the buki/ folder.
type DirFetcher struct {
	dir string
	abs string
}

// NewDirFetcher checks that dir is a folder and returns a fetcher reading from it.
func NewDirFetcher(dir string) (*DirFetcher, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("source folder: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("source folder %s: not a folder", dir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("source folder %s: %w", dir, err)
	}
	return &DirFetcher{dir: dir, abs: abs}, nil
}

// Fetch reads one page; a missing file is Absent.
func (d *DirFetcher) Fetch(ctx context.Context, name string) (Page, error) {
	p := Page{Name: name, URL: "file://" + filepath.ToSlash(filepath.Join(d.abs, name))}
	if err := ctx.Err(); err != nil {
		return p, err
	}
	body, err := os.ReadFile(filepath.Join(d.dir, filepath.Base(name)))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.Status = Absent
		return p, nil
	case err != nil:
		return p, fmt.Errorf("read page %s: %w", name, err)
	}
	p.Body = body
	return p, nil
}

// WeaponPages lists the folder's weapon pages.
func (d *DirFetcher) WeaponPages(ctx context.Context) ([]string, error) {
	return WeaponPagesIn(d.dir)
}

// WeaponPagesIn lists the weapon pages of a folder, sorted by name.
func WeaponPagesIn(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list weapon pages: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".htm") {
			continue
		}
		if _, _, err := codecs.ParsePageName(e.Name()); err == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}
