package scraper

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// ReadDir parses every weapon page of a local copy of the site's buki/ folder (no network,
// no Kafka), page by page in a stable order, calling fn for every raw record.
//
// The pages are the folder's .htm files whose names are weapon page names; the index pages and
// anything else are left alone. A page that cannot be read is a failed page of the summary.
func ReadDir(ctx context.Context, dir string, fn func(*codecs.RawRecord) error) (Summary, error) {
	return ReadDirParallel(ctx, dir, 1, fn)
}

// ReadDirParallel is ReadDir with the pages parsed by up to workers goroutines. fn is still
// called from one goroutine at a time, in ReadDir's order.
func ReadDirParallel(ctx context.Context, dir string, workers int, fn func(*codecs.RawRecord) error) (Summary, error) {
	if workers < 1 {
		return Summary{}, fmt.Errorf("read %s: workers must be at least 1, got %d", dir, workers)
	}
	names, err := WeaponPagesIn(dir)
	if err != nil {
		return Summary{}, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Summary{}, fmt.Errorf("read %s: %w", dir, err)
	}
	now := time.Now().UTC()
	parse := func(name string) pageOutput {
		info := PageInfo{Name: name, URL: "file://" + filepath.ToSlash(filepath.Join(abs, name)), ScrapedAt: now}
		body, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return pageOutput{res: PageResult{Page: name, Issues: []Issue{{Kind: IssueFetch, Page: name,
				RowIndex: -1, Detail: err.Error()}}}}
		}
		return collectPage(info, body)
	}
	var sum Summary
	err = inOrder(ctx, names, workers, parse, func(out pageOutput) error {
		for _, r := range out.records {
			if err := fn(r); err != nil {
				return err
			}
		}
		sum.Add(out.res)
		return out.err
	})
	return sum, err
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

// pageOutput is one parsed page with its records, held until its turn comes.
type pageOutput struct {
	res     PageResult
	records []*codecs.RawRecord
	err     error
}

func collectPage(info PageInfo, body []byte) pageOutput {
	var out pageOutput
	out.res, out.err = ParsePage(info, body, func(r *codecs.RawRecord) error {
		out.records = append(out.records, r)
		return nil
	})
	return out
}

// inOrder runs work on every item with up to workers goroutines and hands the results to
// deliver one at a time, in the items' order. At most 2*workers results wait at once.
func inOrder[T, R any](ctx context.Context, items []T, workers int, work func(T) R, deliver func(R) error) error {
	if workers == 1 {
		for _, it := range items {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := deliver(work(it)); err != nil {
				return err
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slots := make(chan chan R, 2*workers)
	sem := make(chan struct{}, workers)
	go func() {
		defer close(slots)
		for _, it := range items {
			slot := make(chan R, 1)
			select {
			case slots <- slot:
			case <-ctx.Done():
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				defer func() { <-sem }()
				slot <- work(it)
			}()
		}
	}()
	for slot := range slots {
		var r R
		select {
		case r = <-slot:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := deliver(r); err != nil {
			return err
		}
	}
	return ctx.Err()
}
