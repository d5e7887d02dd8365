// Package exclude owns the one rule for a backup's exclude patterns (Rules): which paths of a
// tree a backup leaves out and, so, which ones a restore leaves alone. archive's WriteTar,
// Extract and Measure and the engine's archive-API path of internal/volume all apply it.
//
// The patterns are .dockerignore patterns, matched by github.com/moby/patternmatcher (the
// matcher of docker's build context and buildkit), so they mean what they mean in a
// .dockerignore file; this package only normalises them as docker's ignorefile reader does
// and refuses the ones that cannot mean anything.
package exclude

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/moby/patternmatcher"
)

// Limits of a pattern list: more is refused (Validate), never truncated.
const (
	MaxPatterns   = 1000 // patterns in one list
	MaxPatternLen = 4096 // bytes of one pattern (PATH_MAX)
)

// Rules apply exclude patterns with .dockerignore semantics: each pattern is matched against
// a path relative to the source's root ("a/b/c", no leading "./"); "*" and "?" do not cross
// "/", "**" matches any number of directories; a path is excluded when the last pattern that
// matches it or one of its parent directories is not an exception ("!pattern"), so an
// exception re-includes what an earlier pattern excluded. Leading and trailing spaces, a
// leading "/" and "./" and a trailing "/" are dropped and the pattern is cleaned as
// docker's ignorefile reader does. WriteTar, Extract, Measure and the engine's archive-API
// path of internal/volume all use it, so a restore leaves alone exactly what the backup left
// out. Its methods are safe for concurrent use.
type Rules struct {
	mu sync.Mutex // patternmatcher compiles lazily and is not safe for concurrent use; the cache
	// one holds each pattern alone (without its "!"), exc whether it is an exception: Match
	// evaluates them in order as patternmatcher's MatchesOrParentMatches does, with what each matched
	// among a directory and its parents cached (dirs), since a walk asks of all the
	// entries of a directory in a row.
	one  []*patternmatcher.PatternMatcher
	exc  []bool
	dirs map[string][]byte
	// exceptions are the literal prefixes of the exception patterns (up to their first
	// wildcard or escape): what Prune checks before entering an excluded directory.
	exceptions []string
}

// normalize cleans one pattern as docker's ignorefile.ReadAll does (spaces trimmed, "!"
// kept, path.Clean, leading "/" dropped). It returns "" for a pattern that names nothing
// (empty, "/", "./"), and refuses an exception of nothing, a pattern leading outside the
// root ("..") and an oversized one.
func normalize(p string) (string, error) {
	if len(p) > MaxPatternLen {
		return "", fmt.Errorf("pattern of %d bytes: at most %d", len(p), MaxPatternLen)
	}
	p = strings.TrimSpace(p)
	neg := strings.HasPrefix(p, "!")
	if neg {
		p = strings.TrimSpace(p[1:])
	}
	if p != "" {
		p = strings.TrimLeft(path.Clean(filepath.ToSlash(p)), "/")
	}
	if p == "." {
		p = ""
	}
	switch {
	case p == "" && neg:
		return "", errors.New(`exception "!" names no path`)
	case p == "":
		return "", nil
	case p == ".." || strings.HasPrefix(p, "../"):
		return "", errors.New(`leads outside the source ("..": patterns are relative to each source's root)`)
	case neg:
		return "!" + p, nil
	}
	return p, nil
}

// Validate reports the first pattern New would refuse, naming it; nil when all are usable.
// The CLI calls it on --exclude before contacting the engine.
func Validate(patterns []string) error {
	_, err := New(patterns)
	return err
}

// New compiles patterns; nil Rules (which exclude nothing) when there are none, an error
// naming the first bad pattern (bad syntax, "..", too long, too many).
func New(patterns []string) (*Rules, error) {
	if len(patterns) > MaxPatterns {
		return nil, fmt.Errorf("%d exclude patterns: at most %d", len(patterns), MaxPatterns)
	}
	var clean, exc []string
	var r Rules
	for _, raw := range patterns {
		p, err := normalize(raw)
		if err != nil {
			return nil, fmt.Errorf("exclude pattern %q: %w", raw, err)
		}
		if p == "" {
			continue
		}
		body, neg := strings.CutPrefix(p, "!")
		// patternmatcher.New checks the syntax with filepath.Match but compiles its regular
		// expression only on the first match: compile it now, alone, so a bad pattern is
		// refused here and never silently matches nothing later.
		alone := body
		if strings.HasPrefix(alone, "!") {
			alone = `\` + alone // "!!x" excepts the name "!x": alone it must not be an exception
		}
		one, err := patternmatcher.New([]string{alone})
		if err == nil {
			_, err = one.MatchesOrParentMatches("x")
		}
		if err != nil {
			return nil, fmt.Errorf("exclude pattern %q: %w", raw, err)
		}
		if neg {
			exc = append(exc, literalPrefix(body))
		}
		clean = append(clean, filepath.FromSlash(p))
		r.one, r.exc = append(r.one, one), append(r.exc, neg)
	}
	if len(clean) == 0 {
		return nil, nil
	}
	if _, err := patternmatcher.New(clean); err != nil {
		return nil, fmt.Errorf("exclude patterns: %w", err)
	}
	r.exceptions, r.dirs = exc, map[string][]byte{}
	return &r, nil
}

// literalPrefix is p up to its first wildcard or escape: every path p matches starts with it.
func literalPrefix(p string) string {
	if i := strings.IndexAny(p, `*?[\`); i >= 0 {
		return p[:i]
	}
	return p
}

// Match reports whether rel (slash separated, relative to the root) is excluded: the last
// pattern matching rel or one of its parent directories is not an exception. The root (""
// or ".") is never excluded. It is exact for every path, wherever a walk found it.
func (e *Rules) Match(rel string) bool {
	if e == nil || rel == "" || rel == "." {
		return false
	}
	file := filepath.FromSlash(rel)
	dir := filepath.Dir(file)
	e.mu.Lock()
	defer e.mu.Unlock()
	matched := false
	for i, one := range e.one {
		if e.exc[i] != matched {
			continue // as MatchesOrParentMatches: an exception only after a match, and back
		}
		// The pattern alone, not an exception: the file itself only (no parent result),
		// then, when it does not match, its parents (cached per directory).
		//nolint:staticcheck // deprecated for several patterns' parent results; one pattern here
		m, err := one.MatchesUsingParentResult(file, false)
		if err == nil && !m && dir != "." {
			m, err = e.parent(dir, i)
		}
		// New compiled every pattern, so err cannot happen; were it to, excluded is the
		// answer that neither archives nor deletes the path.
		if err != nil {
			return true
		}
		if m {
			matched = !e.exc[i]
		}
	}
	return matched
}

// parent reports whether pattern i matches dir or one of dir's parents, cached per
// directory (0 not asked yet, 1 no, 2 yes). Called with e.mu held.
func (e *Rules) parent(dir string, i int) (bool, error) {
	m, ok := e.dirs[dir]
	if !ok {
		if len(e.dirs) >= 1024 {
			clear(e.dirs)
		}
		m = make([]byte, len(e.one))
		e.dirs[dir] = m
	}
	if m[i] == 0 {
		ok, err := e.one[i].MatchesOrParentMatches(dir)
		if err != nil {
			return false, err
		}
		m[i] = 1
		if ok {
			m[i] = 2
		}
	}
	return m[i] == 2, nil
}

// Prune reports whether the whole tree at rel is excluded: rel is excluded and no exception
// can re-include anything below it, so a walk need not enter it. When rel is excluded but
// Prune is false, a walk enters rel (without archiving rel itself) and asks Match of each
// path below. Exact: an exception can re-include a path below an excluded rel only by
// matching that path or one of its parents below rel (a pattern matching rel or above it
// decided rel too), and every path it matches starts with its literal prefix, which then
// is a prefix of rel+"/" or starts with it.
func (e *Rules) Prune(rel string) bool {
	if !e.Match(rel) {
		return false
	}
	dir := rel + "/"
	for _, lit := range e.exceptions {
		if strings.HasPrefix(dir, lit) || strings.HasPrefix(lit, dir) {
			return false
		}
	}
	return true
}

// Syntax names the pattern syntax Rules implement, as a backup's manifest records it
// beside its patterns (backup.Manifest.ExcludeSyntax); a manifest without it holds patterns
// of the matcher before (FromLegacy).
const Syntax = "dockerignore"

// FromLegacy translates patterns recorded by a docker-maim whose matcher was hand-written
// (filepath.Match against the relative path and against the base name, "dir/**" below
// dir) into .dockerignore patterns excluding the same paths, so that restoring an older
// backup keeps what it left out: a pattern without "/" matched the base name at any depth
// ("**/" is prefixed); "dir/**" and patterns with "/" mean the same; "!" was no exception
// (it is escaped); "**" inside a pattern was "*" (one name) and "[!...]" a negated class
// ("[^...]").
func FromLegacy(patterns []string) []string {
	var out []string
	for _, p := range patterns {
		p = strings.TrimPrefix(filepath.ToSlash(p), "./")
		p = strings.TrimRight(strings.TrimLeft(p, "/"), "/")
		switch {
		case p == "":
			continue
		case strings.HasPrefix(p, "!"):
			p = `\` + p
		}
		if dir, ok := strings.CutSuffix(p, "/**"); ok {
			p = legacyGlob(dir) + "/**"
		} else {
			p = legacyGlob(p)
		}
		if !strings.Contains(p, "/") {
			p = "**/" + p
		}
		out = append(out, p)
	}
	return out
}

// legacyGlob spells a filepath.Match glob in patternmatcher's syntax: "**" is "*", "[!" is "[^".
func legacyGlob(p string) string {
	p = strings.ReplaceAll(p, "[!", "[^")
	for strings.Contains(p, "**") {
		p = strings.ReplaceAll(p, "**", "*")
	}
	return p
}
