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

func TestReadDir(t *testing.T) {
	dir := siteDir(t)
	var keys []string
	sum, err := ReadDir(context.Background(), dir, func(r *codecs.RawRecord) error {
		keys = append(keys, r.Key)
		if !strings.HasPrefix(r.URL, "file://") || !strings.HasSuffix(r.URL, "/"+r.Page) {
			t.Errorf("record %s: url %q", r.Key, r.URL)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Pages != 6 || sum.Rows != fixtureSiteRows || len(keys) != fixtureSiteRows || sum.Failures() != 0 {
		t.Errorf("pages %d rows %d records %d failures %v", sum.Pages, sum.Rows, len(keys), sum.FailedPages)
	}
	if !reflect.DeepEqual(sum.EmptyPages, []string{"taiken_partnya.htm"}) {
		t.Errorf("empty pages %v, want the partner page with an empty tbody", sum.EmptyPages)
	}
	// Pages in name order, rows in page order.
	if keys[0] != "heavy_bowgun/base/l0100" || keys[len(keys)-1] != "great_sword/base/l0701" {
		t.Errorf("order: first %s, last %s", keys[0], keys[len(keys)-1])
	}
	for _, workers := range []int{2, 3} {
		var again []string
		if _, err := ReadDirParallel(context.Background(), dir, workers, func(r *codecs.RawRecord) error {
			again = append(again, r.Key)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(again, keys) {
			t.Errorf("%d workers: a different order", workers)
		}
	}
}

func TestReadDirErrors(t *testing.T) {
	if _, err := ReadDir(context.Background(), filepath.Join(t.TempDir(), "missing"), func(*codecs.RawRecord) error { return nil }); err == nil {
		t.Error("a missing folder: no error")
	}
	boom := errors.New("stop")
	if _, err := ReadDirParallel(context.Background(), siteDir(t), 2, func(*codecs.RawRecord) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("callback error: got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadDir(ctx, siteDir(t), func(*codecs.RawRecord) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
}
