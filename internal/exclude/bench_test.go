package exclude

import (
	"fmt"
	"slices"
	"testing"
)

// benchPatterns are 20 patterns of the kinds users write (wildcards, "**", directories,
// two exceptions).
var benchPatterns = []string{
	"*.log", "**/*.tmp", "**/node_modules", "cache", "logs/**", "build/*/out", "**/.git",
	"tmp", "var/run/*.pid", "data/*/scratch", "*.swp", "**/__pycache__", "dist/**", "*.bak",
	"sub/?.o", "media/thumbs", "**/*.lock", "!keep.log", "!logs/keep/**", "core.[0-9]*",
}

// benchPaths are 100k relative paths of depth 1 to 6.
func benchPaths() []string {
	dirs := []string{"src", "data", "web", "logs", "cache", "lib", "node_modules", "app", "x", "media"}
	files := []string{"a.go", "b.log", "c.tmp", "index.js", "d.txt", "e.lock", "f.bak", "g.o", "h.json", "core.1"}
	out := make([]string, 0, 100000)
	for i := 0; len(out) < 100000; i++ {
		p := ""
		for d, n := 0, i%6; d < n; d++ {
			p += dirs[(i/(d+1)+d*7)%len(dirs)] + fmt.Sprint((i>>d)%3) + "/"
		}
		out = append(out, p+files[i%len(files)])
	}
	return out
}

// BenchmarkMatch100k matches 100k paths against 20 patterns (one op = all 100k): in the
// generated order (siblings apart) and sorted (a walk's order: siblings in a row).
func BenchmarkMatch100k(b *testing.B) {
	paths := benchPaths()
	sorted := slices.Clone(paths)
	slices.Sort(sorted)
	for _, c := range []struct {
		name  string
		paths []string
	}{{"scattered", paths}, {"walk-order", sorted}} {
		b.Run(c.name, func(b *testing.B) {
			r, err := New(benchPatterns)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				for _, p := range c.paths {
					if r.Match(p) {
						n++
					}
				}
			}
			b.ReportMetric(float64(n)/float64(b.N), "excluded/op")
		})
	}
}
