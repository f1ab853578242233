package structure

import (
	"fmt"
	"go/parser"
	"go/token"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The layers of the module, from the leaf up. A package may import its own layer's packages only
// where the table says so, and never a layer above its own.
//
//	layer         packages                              may import
//	leaf          codecs                                nothing of the module
//	plumbing      internal/*                            leaf, plumbing
//	schema        migrations                            leaf, plumbing
//	stage         scraper, processors, sink, browse,    leaf, plumbing, schema, its own subpackages
//	              deadletter, bundle (each with its
//	              subpackages)
//	orchestrator  reprocess                             every layer below: it re-derives the tables
//	                                                    by running the router and the sink
//	command       cmd/*                                 every layer but tests
//	tests         e2e                                   every layer
//
// So no stage imports another (browse does not import sink), codecs stays the leaf, and nothing
// in internal/*, migrations or a stage points back up at the orchestrator or a command. The rule
// holds for test files too: a stage's tests drive the stage alone (e2e is where stages meet).
type layer int

const (
	leaf layer = iota
	plumbing
	schema
	stage
	orchestrator
	command
	tests
)

func (l layer) String() string {
	return [...]string{"leaf", "plumbing", "schema", "stage", "orchestrator", "command", "tests"}[l]
}

// stages are the pipeline's stages by their folder.
var stages = []string{"scraper", "processors", "sink", "browse", "deadletter", "bundle"}

// orchestrates names the stages the orchestrator runs: reprocess re-derives the tables with the
// router and the sink, and has no business with the others.
var orchestrates = []string{"processors", "sink"}

// place is where a package sits: its layer and, for a stage, which stage.
type place struct {
	layer layer
	stage string
}

// placeOf places a package by its folder relative to the module root ("sink", "processors/weaponrow").
func placeOf(dir string) (place, bool) {
	top, _, _ := strings.Cut(dir, "/")
	switch {
	case top == "reprocess":
		return place{orchestrator, ""}, true
	case slices.Contains(stages, top):
		return place{stage, top}, true
	case top == "codecs":
		return place{leaf, ""}, true
	case top == "internal":
		return place{plumbing, ""}, true
	case top == "migrations":
		return place{schema, ""}, true
	case top == "cmd":
		return place{command, ""}, true
	case top == "e2e":
		return place{tests, ""}, true
	}
	return place{}, false
}

// allowed says whether a package placed at from may import one placed at to, and if not, why.
func allowed(from, to place) (bool, string) {
	switch {
	case from.layer == tests:
		return true, ""
	case from.layer == command:
		return to.layer != tests, "a command never imports the end-to-end tests"
	case from.layer == orchestrator && to.layer == stage:
		return slices.Contains(orchestrates, to.stage), "the orchestrator runs the router and the sink, no other stage"
	case from.layer == stage && to.layer == stage:
		if from.stage == to.stage {
			return true, ""
		}
		if from.stage == "browse" && to.stage == "sink" {
			return false, "browse reads the tables the sink writes, but their names come from migrations, never from sink"
		}
		return false, "a stage never imports another stage (they meet in cmd and e2e)"
	case to.layer > from.layer:
		return false, fmt.Sprintf("a back arrow: a %s package never imports a %s package", from.layer, to.layer)
	}
	return true, "" // the same layer (codecs' own subpackages, plumbing, schema) or one below
}

// edge is one import of the module's packages by another, by folder.
type edge struct{ from, to string }

// moduleImports returns, for production and for test files, the imports of module packages by
// module packages (folders relative to the root), each edge once.
func moduleImports(t *testing.T) (prod, test map[edge]bool) {
	t.Helper()
	module := modulePath(t)
	prod, test = map[edge]bool{}, map[edge]bool{}
	for _, f := range parseTree(t, token.NewFileSet(), parser.ImportsOnly) {
		for _, path := range importPaths(f.file) {
			to, ok := strings.CutPrefix(path, module+"/")
			if !ok || to == f.dir {
				continue
			}
			if f.test {
				test[edge{f.dir, to}] = true
			} else {
				prod[edge{f.dir, to}] = true
			}
		}
	}
	return prod, test
}

// TestNoBackArrows fails when a package imports one its layer may not (see the table above), in
// production or in test files, and when a package sits in no layer. With -v it logs the graph.
func TestNoBackArrows(t *testing.T) {
	prod, test := moduleImports(t)
	logGraph(t, prod, test)
	if len(prod) == 0 {
		t.Fatal("found no imports between the module's packages: is the root right?")
	}
	check := func(edges map[edge]bool, kind string) {
		for _, e := range sortedEdges(edges) {
			from, ok := placeOf(e.from)
			if !ok {
				t.Errorf("package %s sits in no layer: add it to the table of internal/structure", e.from)
				continue
			}
			to, ok := placeOf(e.to)
			if !ok {
				t.Errorf("package %s sits in no layer: add it to the table of internal/structure", e.to)
				continue
			}
			if ok, why := allowed(from, to); !ok {
				t.Errorf("%s imports %s (%s, %s -> %s): %s", e.from, e.to, kind, from.layer, to.layer, why)
			}
		}
	}
	check(prod, "production")
	check(test, "tests")
}

// TestLayerTable pins the table itself: the rules the issue asks for, pair by pair.
func TestLayerTable(t *testing.T) {
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"browse", "sink", false},
		{"sink", "processors", false},
		{"processors", "sink", false},
		{"scraper", "processors", false},
		{"sink", "reprocess", false},
		{"browse", "reprocess", false},
		{"reprocess", "processors", true},
		{"reprocess", "sink", true},
		{"reprocess", "migrations", true},
		{"reprocess", "browse", false},
		{"reprocess", "scraper", false},
		{"processors", "processors/weaponrow", true},
		{"processors/weaponrow", "codecs", true},
		{"codecs", "internal/observe", false},
		{"codecs", "migrations", false},
		{"internal/kafka", "sink", false},
		{"internal/observe", "cmd/mhfz", false},
		{"internal/testenv", "migrations", false},
		{"internal/kafka", "internal/observe", true},
		{"internal/kafka", "codecs", true},
		{"migrations", "codecs", true},
		{"migrations", "internal/startup", true},
		{"migrations", "sink", false},
		{"migrations", "cmd/mhfz", false},
		{"sink", "migrations", true},
		{"browse", "migrations", true},
		{"sink", "internal/kafka", true},
		{"sink", "cmd/mhfz", false},
		{"cmd/mhfz", "reprocess", true},
		{"cmd/mhfz", "e2e", false},
		{"e2e", "sink", true},
		{"deadletter", "processors", false},
		{"deadletter", "sink", false},
		{"deadletter", "migrations", true},
		{"deadletter", "internal/kafka", true},
		{"sink", "deadletter", false},
		{"reprocess", "deadletter", false},
		{"cmd/mhfz", "deadletter", true},
		{"e2e", "deadletter", true},
		// bundle writes the files browse serves: they meet in the folder, not in Go.
		{"bundle", "migrations", true},
		{"bundle", "browse", false},
		{"browse", "bundle", false},
		{"bundle", "sink", false},
		{"cmd/mhfz", "bundle", true},
		{"e2e", "bundle", true},
	} {
		from, ok1 := placeOf(c.from)
		to, ok2 := placeOf(c.to)
		if !ok1 || !ok2 {
			t.Errorf("%s -> %s: a package sits in no layer", c.from, c.to)
			continue
		}
		if got, why := allowed(from, to); got != c.ok {
			t.Errorf("%s -> %s allowed = %v, want %v (%s)", c.from, c.to, got, c.ok, why)
		}
	}
	if _, ok := placeOf("newthing"); ok {
		t.Error("a folder the table does not name got a layer")
	}
}

func sortedEdges(edges map[edge]bool) []edge {
	out := make([]edge, 0, len(edges))
	for e := range edges {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].from != out[j].from {
			return out[i].from < out[j].from
		}
		return out[i].to < out[j].to
	})
	return out
}

// logGraph logs each package's imports of the module's packages, with its layer; the imports
// only its tests make are listed after "tests:".
func logGraph(t *testing.T, prod, test map[edge]bool) {
	t.Helper()
	imports := map[string][]string{}
	testOnly := map[string][]string{}
	for _, e := range sortedEdges(prod) {
		imports[e.from] = append(imports[e.from], e.to)
	}
	for _, e := range sortedEdges(test) {
		if !prod[e] {
			testOnly[e.from] = append(testOnly[e.from], e.to)
		}
	}
	var pkgs []string
	for _, f := range parseTree(t, token.NewFileSet(), parser.PackageClauseOnly) {
		if !slices.Contains(pkgs, f.dir) {
			pkgs = append(pkgs, f.dir)
		}
	}
	sort.Slice(pkgs, func(i, j int) bool {
		pi, _ := placeOf(pkgs[i])
		pj, _ := placeOf(pkgs[j])
		if pi.layer != pj.layer {
			return pi.layer < pj.layer
		}
		return pkgs[i] < pkgs[j]
	})
	var b strings.Builder
	b.WriteString("the module's import graph (production imports; tests: what only the tests add):\n")
	for _, p := range pkgs {
		pl, _ := placeOf(p)
		fmt.Fprintf(&b, "  %-9s %-22s -> %s", pl.layer, p, strings.Join(imports[p], ", "))
		if len(testOnly[p]) > 0 {
			fmt.Fprintf(&b, "   tests: %s", strings.Join(testOnly[p], ", "))
		}
		b.WriteString("\n")
	}
	t.Log(b.String())
}
