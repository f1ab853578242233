package testenv

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The snapshots of the site in ../shared/corpus.
const (
	Newest = "2025-10-22"
	Older  = "2024-11-21"
)

// CorpusDir returns ../shared/corpus beside the checkout (or $MHFZ_CORPUS).
func CorpusDir(t testing.TB) string {
	t.Helper()
	corpus, err := findCorpus()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("MHFZ_CORPUS") != "" {
		return corpus
	}
	if _, err := os.Stat(filepath.Join(corpus, "README.md")); err != nil {
		missing(t, "the corpus of real pages ("+corpus+", or set MHFZ_CORPUS)")
	}
	return corpus
}

// findCorpus returns where the corpus is expected: $MHFZ_CORPUS, or ../shared/corpus beside the
// checkout.
func findCorpus() (string, error) {
	if d := os.Getenv("MHFZ_CORPUS"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(dir), "shared", "corpus"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testenv: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// HasCorpus reports whether the corpus of real pages is there, for tests that use it when they
// can (fuzz seeds) and must not be skipped without it.
func HasCorpus() bool {
	corpus, err := findCorpus()
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(corpus, "README.md"))
	return err == nil
}

// Snapshot extracts a snapshot of the site once per machine (in the temporary folder, reused
// by later tests and runs) and returns the folder that holds its pages (…/buki).
func Snapshot(t testing.TB, snapshot string) string {
	t.Helper()
	archive := filepath.Join(CorpusDir(t), "ferias-buki-"+snapshot+".tar.xz")
	target := filepath.Join(os.TempDir(), "mhfz-corpus-"+snapshot)
	pages := filepath.Join(target, "buki")
	if _, err := os.Stat(filepath.Join(target, ".complete")); err == nil {
		return pages
	}
	// Extract beside the target and rename, so that concurrent test binaries never see half a
	// snapshot.
	tmp, err := os.MkdirTemp(os.TempDir(), "mhfz-corpus-extract-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if out, err := exec.Command("tar", "-xJf", archive, "-C", tmp).CombinedOutput(); err != nil {
		t.Fatalf("extract %s: %v\n%s", archive, err, out)
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, target); err != nil {
		if _, statErr := os.Stat(filepath.Join(target, ".complete")); statErr != nil {
			t.Fatalf("install extracted snapshot at %s: %v", target, err)
		}
	}
	return pages
}

// ManifestPage is one line of a snapshot's manifest.
type ManifestPage struct {
	Page       string
	Bytes      int64
	SHA256     string
	WeaponRows int
	HiddenRows int
	Tables     string
}

// Manifest reads a snapshot's manifest: per page, its size and its weapon-row counts.
func Manifest(t testing.TB, snapshot string) []ManifestPage {
	t.Helper()
	path := filepath.Join(CorpusDir(t), "ferias-buki-"+snapshot+".manifest.tsv")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pages []ManifestPage
	sc := bufio.NewScanner(f)
	for line := 0; sc.Scan(); line++ {
		if line == 0 {
			continue // header
		}
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) < 5 {
			t.Fatalf("%s line %d: %d fields, want at least 5", path, line+1, len(fields))
		}
		p := ManifestPage{Page: fields[0], SHA256: fields[2]}
		var errs [3]error
		p.Bytes, errs[0] = strconv.ParseInt(fields[1], 10, 64)
		p.WeaponRows, errs[1] = strconv.Atoi(fields[3])
		p.HiddenRows, errs[2] = strconv.Atoi(fields[4])
		for _, e := range errs {
			if e != nil {
				t.Fatalf("%s line %d: %v", path, line+1, e)
			}
		}
		if len(fields) > 5 {
			p.Tables = fields[5]
		}
		pages = append(pages, p)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(fmt.Errorf("read %s: %w", path, err))
	}
	return pages
}
