package structure

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// root is the module's root, seen from this package's folder (where go test runs its tests).
const root = "../.."

// modulePath reads the module's import path from go.mod.
func modulePath(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatalf("read go.mod: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.TrimSpace(rest)
		}
	}
	t.Fatal("go.mod names no module")
	return ""
}

// sourceFile is one parsed Go file of the module, by its slash path from the root.
type sourceFile struct {
	path string // "sink/store.go"
	dir  string // "sink"
	test bool   // a _test.go file
	file *ast.File
}

// generated reports whether the file carries Go's "Code generated ... DO NOT EDIT." marker
// (counted the same way as /tmp/funcsize: any comment saying "Code generated").
func generated(f *ast.File) bool {
	for _, c := range f.Comments {
		if strings.Contains(c.Text(), "Code generated") {
			return true
		}
	}
	return false
}

// parseTree parses every Go file under the root, skipping what the go tool skips (vendor,
// testdata, folders starting with a dot or an underscore).
func parseTree(t *testing.T, fset *token.FileSet, mode parser.Mode) []sourceFile {
	t.Helper()
	var files []sourceFile
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "vendor" || name == "testdata" ||
				strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, mode)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		files = append(files, sourceFile{
			path: rel, dir: filepath.ToSlash(filepath.Dir(rel)),
			test: strings.HasSuffix(name, "_test.go"), file: f,
		})
		return nil
	})
	if err != nil {
		t.Fatalf("parse the tree: %v", err)
	}
	if len(files) == 0 {
		t.Fatal("found no Go files under the module root")
	}
	return files
}

// importPaths returns the quoted paths of a file's imports, unquoted.
func importPaths(f *ast.File) []string {
	var paths []string
	for _, spec := range f.Imports {
		paths = append(paths, strings.Trim(spec.Path.Value, `"`))
	}
	return paths
}
