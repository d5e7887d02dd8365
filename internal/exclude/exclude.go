// Package exclude owns the one rule for a backup's exclude patterns (Rules): which paths of a
// tree a backup leaves out and, so, which ones a restore leaves alone. archive's WriteTar,
// Extract and Measure and the engine's archive-API path of internal/volume all apply it.
package exclude

import (
	"path"
	"path/filepath"
	"strings"
)

// Rules apply exclude patterns as archive.WriteOptions documents them: filepath.Match
// against an entry's relative path ("a/b/c", no leading "./") and against its base name;
// "dir/**" keeps dir itself and excludes everything below it; a leading "./" or "/" and a
// trailing "/" are ignored. WriteTar, Extract and the engine's archive-API path of
// internal/volume all use it, so a restore leaves alone exactly what the backup left out.
type Rules struct {
	names []string // matched against the path and its base name
	below []string // "dir/**": matched against the ancestors
}

// New compiles patterns; nil when there are none.
func New(patterns []string) *Rules {
	var e Rules
	for _, p := range patterns {
		p = strings.TrimPrefix(filepath.ToSlash(p), "./")
		p = strings.TrimRight(strings.TrimLeft(p, "/"), "/")
		if p == "" {
			continue
		}
		if dir, ok := strings.CutSuffix(p, "/**"); ok {
			e.below = append(e.below, dir)
			continue
		}
		e.names = append(e.names, p)
	}
	if len(e.names) == 0 && len(e.below) == 0 {
		return nil
	}
	return &e
}

// Match reports whether rel itself is excluded: a name pattern matches it, or a "dir/**"
// pattern matches one of its ancestors. It does not look at the ancestors' names: a walk
// that does not enter an excluded directory needs no more.
func (e *Rules) Match(rel string) bool {
	if e == nil || rel == "" || rel == "." {
		return false
	}
	base := path.Base(rel)
	for _, p := range e.names {
		if ok, _ := path.Match(p, rel); ok {
			return true
		}
		if ok, _ := path.Match(p, base); ok {
			return true
		}
	}
	for dir := path.Dir(rel); dir != "." && dir != "/"; dir = path.Dir(dir) {
		for _, p := range e.below {
			if ok, _ := path.Match(p, dir); ok {
				return true
			}
		}
	}
	return false
}

// MatchTree reports whether rel is excluded by itself or lies in an excluded directory:
// what a backup with these patterns left out.
func (e *Rules) MatchTree(rel string) bool {
	if e == nil {
		return false
	}
	for p := rel; p != "." && p != "/" && p != ""; p = path.Dir(p) {
		if e.Match(p) {
			return true
		}
	}
	return false
}
