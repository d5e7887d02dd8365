// Package house checks the rules of docs/DESIGN.md ("The house") that the compiler does
// not: which rooms may import which, and how large a production function, file and
// package may grow. It reads the module's own sources (go/parser); nothing runs.
package house

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/docker-maim/docker-maim/"

// Limits from issue 22 / DESIGN.md: production (non-_test.go) code only.
const (
	maxFuncLines    = 100
	maxFileLines    = 600
	maxPackageLines = 3500
)

// pkg is one package directory of the module: its production files and what they import
// of the module (relative paths such as "internal/api").
type pkg struct {
	files   map[string]*ast.File
	lines   map[string]int
	imports map[string]bool
}

func load(t *testing.T) (map[string]*pkg, *token.FileSet) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	pkgs := map[string]*pkg{}
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", "testdata", ".git", "extension":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		p := pkgs[rel]
		if p == nil {
			p = &pkg{files: map[string]*ast.File{}, lines: map[string]int{}, imports: map[string]bool{}}
			pkgs[rel] = p
		}
		p.files[path] = f
		p.lines[path] = strings.Count(string(src), "\n")
		for _, im := range f.Imports {
			ip, _ := strconv.Unquote(im.Path.Value)
			if strings.HasPrefix(ip, module) {
				p.imports[strings.TrimPrefix(ip, module)] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 || pkgs["internal/api"] == nil {
		t.Fatalf("read %d packages from %s: not the module's tree", len(pkgs), root)
	}
	return pkgs, fset
}

// deps is every module package p reaches through its imports.
func deps(pkgs map[string]*pkg, p string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(q string) {
		if pk := pkgs[q]; pk != nil {
			for im := range pk.imports {
				if !seen[im] {
					seen[im] = true
					walk(im)
				}
			}
		}
	}
	walk(p)
	return seen
}

func sorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestImportRules: the face imports only the vocabulary (and clihooks, its own part of the
// docker CLI's config.json, which touches no engine); the vocabulary imports nothing
// of ours; the pure rooms never reach the engine-side rooms; the shared rooms and the
// data rooms never reach up to an operation; the rooms an upgrade calls never call it.
func TestImportRules(t *testing.T) {
	pkgs, _ := load(t)
	only := map[string][]string{
		"internal/plugin":   {"internal/api", "internal/clihooks", "internal/plantext"},
		"internal/plantext": {"internal/api"},
		"internal/api":      {},
		"internal/clihooks": {},
		"internal/notify":   {"internal/api", "internal/redact"},
		"internal/schedule": {"internal/api"},
		"internal/crypt":    {"internal/api"},
	}
	for p, allowed := range only {
		for im := range pkgs[p].imports {
			ok := false
			for _, a := range allowed {
				ok = ok || im == a
			}
			if !ok {
				t.Errorf("%s imports %s; it may import only %v of ours", p, im, allowed)
			}
		}
	}
	engineSide := []string{"internal/volume", "internal/templates", "internal/snapshot", "internal/stack", "internal/helper", "internal/health", "internal/svchooks", "internal/dbdump", "internal/dbside", "internal/maibotgate"}
	pure := []string{"internal/config", "internal/composemerge", "internal/composefile", "internal/maibot", "internal/dbmajor", "internal/redact", "internal/archive", "internal/treeindex", "internal/seektar", "internal/diffrestore", "internal/fsaccess", "internal/exclude", "internal/zstdpar", "internal/progress", "internal/project"}
	for _, p := range pure {
		d := deps(pkgs, p)
		for _, e := range engineSide {
			if d[e] {
				t.Errorf("%s reaches %s: a pure room must not talk to the engine (deps: %v)", p, e, sorted(d))
			}
		}
	}
	operations := []string{"internal/upgrade", "internal/rollback", "internal/restore", "internal/retention", "internal/app", "internal/plugin"}
	below := []string{"internal/stack", "internal/journal", "internal/snapshot", "internal/volume", "internal/backup", "internal/health", "internal/templates", "internal/config", "internal/maibot", "internal/dbmajor", "internal/project", "internal/archive", "internal/svchooks", "internal/dbdump", "internal/dbside", "internal/maibotgate", "internal/replica"}
	for _, p := range below {
		d := deps(pkgs, p)
		for _, op := range operations {
			if d[op] {
				t.Errorf("%s reaches %s: a lower room must not reach up to an operation or a face", p, op)
			}
		}
	}
	for _, p := range []string{"internal/rollback", "internal/restore", "internal/retention"} {
		if deps(pkgs, p)["internal/upgrade"] {
			t.Errorf("%s reaches internal/upgrade: the upgrade calls it, never the reverse", p)
		}
	}
}

// TestSizes: no production function over maxFuncLines, no file over maxFileLines, no
// package over maxPackageLines.
func TestSizes(t *testing.T) {
	pkgs, fset := load(t)
	for name, p := range pkgs {
		total := 0
		for path, n := range p.lines {
			total += n
			if n > maxFileLines {
				t.Errorf("%s: %d lines (at most %d)", path, n, maxFileLines)
			}
			ast.Inspect(p.files[path], func(n ast.Node) bool {
				var body *ast.BlockStmt
				var what string
				switch x := n.(type) {
				case *ast.FuncDecl:
					body, what = x.Body, x.Name.Name
				case *ast.FuncLit:
					body, what = x.Body, "a function literal"
				}
				if body == nil {
					return true
				}
				from, to := fset.Position(n.Pos()).Line, fset.Position(n.End()).Line
				if l := to - from + 1; l > maxFuncLines {
					t.Errorf("%s:%d: %s is %d lines (at most %d)", path, from, what, l, maxFuncLines)
				}
				return true
			})
		}
		if total > maxPackageLines {
			t.Errorf("%s: %d production lines (at most %d)", name, total, maxPackageLines)
		}
	}
}
