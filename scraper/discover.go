package scraper

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"path"

	"github.com/antchfx/htmlquery"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// IndexPages are the site's indexes of weapon pages: the weapons and the partner weapons.
var IndexPages = []string{"buki.htm", "buki_partnya.htm"}

// Plan is the list of pages a scrape will read, as discovery found them.
type Plan struct {
	// Linked are the pages the indexes (or a listing of the folder) name: one missing is a failure.
	Linked []string
	// Guessed are the other page kinds of every weapon type found: one missing is just absent.
	Guessed []string
	// Disallowed are the index pages the site's robots.txt forbids: not read.
	Disallowed []string
}

// Discover reads the index pages and plans the scrape: every weapon page they link to, then,
// for every weapon type found, every page kind (the index links only some of them). A Lister
// (a local folder) adds its own weapon pages. An index page the site does not have, or that
// its robots.txt forbids, is skipped; one that cannot be read fails the discovery.
func Discover(ctx context.Context, f Fetcher) (Plan, error) {
	d := discovery{seen: map[string]bool{}, types: map[codecs.WeaponType]bool{}}
	found, err := d.readIndexes(ctx, f)
	if err != nil {
		return d.plan, err
	}
	if l, ok := f.(Lister); ok {
		names, err := l.WeaponPages(ctx)
		if err != nil {
			return d.plan, fmt.Errorf("discover weapon pages: %w", err)
		}
		d.addLinked(names)
	} else if found == 0 && len(d.plan.Disallowed) > 0 {
		return d.plan, fmt.Errorf("discover weapon pages: none of the index pages %v can be read: robots.txt disallows %v",
			IndexPages, d.plan.Disallowed)
	} else if found == 0 {
		return d.plan, fmt.Errorf("discover weapon pages: none of the index pages %v exists", IndexPages)
	}
	for _, t := range codecs.WeaponTypes { // in the index's order, for a stable plan
		if !d.types[t] {
			continue
		}
		for _, kind := range []codecs.PageKind{codecs.KindBase, codecs.KindG, codecs.KindRavi,
			codecs.KindRNGCat, codecs.KindSP, codecs.KindTower, codecs.KindPartner} {
			d.add(codecs.PageName(t, kind), false)
		}
	}
	return d.plan, nil
}

// discovery is a plan in the making: the pages planned, and the weapon types found.
type discovery struct {
	plan  Plan
	seen  map[string]bool
	types map[codecs.WeaponType]bool
}

// add plans a page, once.
func (d *discovery) add(name string, linked bool) {
	if d.seen[name] {
		return
	}
	d.seen[name] = true
	if linked {
		d.plan.Linked = append(d.plan.Linked, name)
	} else {
		d.plan.Guessed = append(d.plan.Guessed, name)
	}
}

// addLinked plans pages named by an index or a listing, and notes their weapon types.
func (d *discovery) addLinked(names []string) {
	for _, name := range names {
		t, _, _ := codecs.ParsePageName(name)
		d.types[t] = true
		d.add(name, true)
	}
}

// readIndexes plans the pages the index pages link to, and returns how many index pages were
// read.
func (d *discovery) readIndexes(ctx context.Context, f Fetcher) (found int, err error) {
	for _, index := range IndexPages {
		page, err := f.Fetch(ctx, index)
		if err != nil {
			return found, fmt.Errorf("discover weapon pages: %w", err)
		}
		if page.Status == Disallowed {
			d.plan.Disallowed = append(d.plan.Disallowed, index)
			continue
		}
		if page.Status != Fetched {
			continue
		}
		found++
		names, err := indexLinks(page.Body)
		if err != nil {
			return found, fmt.Errorf("discover weapon pages: index %s: %w", index, err)
		}
		d.addLinked(names)
	}
	return found, nil
}

// indexLinks returns the weapon pages an index page links to, in order, each once: links in
// the same folder whose names are weapon page names (fragments and queries dropped).
func indexLinks(body []byte) ([]string, error) {
	doc, err := htmlquery.Parse(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parse index: %w", err)
	}
	var names []string
	seen := map[string]bool{}
	for _, a := range htmlquery.Find(doc, "//a[@href]") {
		name, ok := samefolderPage(htmlquery.SelectAttr(a, "href"))
		if ok && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names, nil
}

// samefolderPage reads a link as the name of a weapon page in the same folder.
func samefolderPage(href string) (string, bool) {
	u, err := url.Parse(href)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Path == "" {
		return "", false
	}
	name := path.Clean(u.Path)
	if path.Base(name) != name {
		return "", false
	}
	if _, _, err := codecs.ParsePageName(name); err != nil {
		return "", false
	}
	return name, true
}
