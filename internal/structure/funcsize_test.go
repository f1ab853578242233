package structure

import (
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"testing"
)

// The largest a production function may grow: it fits a screen and a reader can follow its paths.
const (
	maxLines = 60
	maxCyclo = 15
)

// knownOversize lists the functions ("file:Func") allowed over the limits: none. The test fails
// for an entry that no longer offends, so a list, if one is ever needed again, only shrinks.
var knownOversize = map[string]bool{}

// funcSize is one function's length in lines (from "func" to the closing brace) and its
// cyclomatic complexity.
type funcSize struct {
	key          string // "sink/sink.go:Sink.Run"
	line         int
	lines, cyclo int
}

// cyclomatic counts 1 plus one per if, for, range, non-default case, select case, && and ||,
// as gocyclo does and as /tmp/funcsize does (the tool the numbers came from).
func cyclomatic(body *ast.BlockStmt) int {
	cyclo := 1
	ast.Inspect(body, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.IfStmt, *ast.ForStmt, *ast.RangeStmt, *ast.CommClause:
			cyclo++
		case *ast.CaseClause:
			if x.List != nil {
				cyclo++
			}
		case *ast.BinaryExpr:
			if x.Op == token.LAND || x.Op == token.LOR {
				cyclo++
			}
		}
		return true
	})
	return cyclo
}

// funcName is a function's name, prefixed with its receiver's type for a method ("Sink.Run").
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}

// productionFuncs measures every function with a body in the module's non-test, non-generated files.
func productionFuncs(t *testing.T) []funcSize {
	t.Helper()
	fset := token.NewFileSet()
	var out []funcSize
	for _, f := range parseTree(t, fset, parser.ParseComments) {
		if f.test || generated(f.file) {
			continue
		}
		for _, decl := range f.file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			start, end := fset.Position(fn.Pos()), fset.Position(fn.End())
			out = append(out, funcSize{
				key: f.path + ":" + funcName(fn), line: start.Line,
				lines: end.Line - start.Line + 1, cyclo: cyclomatic(fn.Body),
			})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].lines > out[j].lines })
	return out
}

// TestFunctionSize: no production function over maxLines lines or over maxCyclo in cyclomatic
// complexity, but those of knownOversize, each of which must still be over (else drop it from the list).
func TestFunctionSize(t *testing.T) {
	funcs := productionFuncs(t)
	if len(funcs) < 100 {
		t.Fatalf("measured %d functions: is the root right?", len(funcs))
	}
	offends := map[string]bool{}
	for _, f := range funcs {
		if f.lines <= maxLines && f.cyclo <= maxCyclo {
			continue
		}
		offends[f.key] = true
		if knownOversize[f.key] {
			t.Logf("known: %s (line %d): %d lines, complexity %d", f.key, f.line, f.lines, f.cyclo)
			continue
		}
		t.Errorf("%s (line %d): %d lines, complexity %d; at most %d lines and complexity %d",
			f.key, f.line, f.lines, f.cyclo, maxLines, maxCyclo)
	}
	for key := range knownOversize {
		if !offends[key] {
			t.Errorf("%s is in knownOversize but no longer over the limits (or gone): remove it from the list", key)
		}
	}
	for _, f := range funcs[:min(10, len(funcs))] {
		t.Logf("largest: %4d lines, complexity %2d  %s", f.lines, f.cyclo, f.key)
	}
}

// TestCyclomatic pins the count on small functions, the same as /tmp/funcsize's.
func TestCyclomatic(t *testing.T) {
	for _, c := range []struct {
		src  string
		want int
	}{
		{"func f() {}", 1},
		{"func f(a, b bool) { if a && b || a {} }", 4},
		{"func f(xs []int) { for range xs {}; for i := 0; i < 1; i++ {} }", 3},
		{"func f(x int) { switch x { case 1, 2: ; case 3: ; default: } }", 3},
		{"func f(c chan int) { select { case <-c: ; default: } }", 3},
		{"func f() { g := func(a bool) { if a {} }; _ = g }", 2},
	} {
		file, err := parser.ParseFile(token.NewFileSet(), "f.go", "package p\n"+c.src, 0)
		if err != nil {
			t.Fatal(err)
		}
		fn := file.Decls[0].(*ast.FuncDecl)
		if got := cyclomatic(fn.Body); got != c.want {
			t.Errorf("%s: complexity %d, want %d", c.src, got, c.want)
		}
	}
}
