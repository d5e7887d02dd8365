package exclude

import (
	"slices"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
)

func mustNew(t *testing.T, patterns []string) *Rules {
	t.Helper()
	r, err := New(patterns)
	if err != nil {
		t.Fatalf("New(%q): %v", patterns, err)
	}
	return r
}

// No pattern, or only patterns that clean to nothing, compile to nil Rules, and nil Rules
// exclude nothing.
func TestNewWithoutPatternsIsNil(t *testing.T) {
	for _, ps := range [][]string{nil, {}, {"", "/", "./", "//", "  ", "."}} {
		if r := mustNew(t, ps); r != nil {
			t.Errorf("New(%q) = %+v, want nil", ps, r)
		}
	}
	var r *Rules
	if r.Match("a") || r.Prune("a/b") {
		t.Error("nil Rules excluded a path")
	}
}

// Match: .dockerignore semantics. Cases whose result differs from the hand-written matcher
// this package had before (which also matched every pattern against the base name) are
// marked "changed"; the README lists them.
func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		rel      string
		want     bool
	}{
		// relative to the root: "*.log" is a root-level pattern, "**/*.log" any depth
		{[]string{"*.log"}, "app.log", true},
		{[]string{"*.log"}, "sub/deep/app.log", false}, // changed: was true (base name)
		{[]string{"**/*.log"}, "sub/deep/app.log", true},
		{[]string{"**/*.log"}, "app.log", true},
		{[]string{"*.log"}, "app.log.1", false},
		{[]string{"cache"}, "x/cache", false}, // changed: was true (base name)
		{[]string{"**/cache"}, "x/cache", true},
		{[]string{"cache"}, "cache", true},
		// the whole relative path ("*" does not cross "/")
		{[]string{"sub/tmp"}, "sub/tmp", true},
		{[]string{"sub/tmp"}, "other/sub/tmp", false},
		{[]string{"sub/*.tmp"}, "sub/a.tmp", true},
		{[]string{"sub/*.tmp"}, "sub/x/a.tmp", false},
		{[]string{"sub/?.tmp"}, "sub/a.tmp", true},
		{[]string{"sub/[ab].tmp"}, "sub/c.tmp", false},
		// a matched directory excludes what lies below it
		{[]string{"sub/tmp"}, "sub/tmp/x/y", true},
		{[]string{"cache"}, "cache/x/y", true},
		// "dir/**": below dir, not dir
		{[]string{"logs/**"}, "logs", false},
		{[]string{"logs/**"}, "logs/a", true},
		{[]string{"logs/**"}, "logs/keep/d.log", true},
		{[]string{"logs/**"}, "logsx/a", false},
		{[]string{"logs/**"}, "x/logs/a", false},
		{[]string{"*/cache/**"}, "app/cache/x", true},
		// "**/node_modules": at any depth, with everything below it
		{[]string{"**/node_modules"}, "node_modules", true},
		{[]string{"**/node_modules"}, "web/app/node_modules", true},
		{[]string{"**/node_modules"}, "web/app/node_modules/x/index.js", true},
		{[]string{"**/node_modules"}, "web/node_modules_x", false},
		// exceptions: the last matching pattern wins
		{[]string{"*.log", "!keep.log"}, "keep.log", false},
		{[]string{"*.log", "!keep.log"}, "app.log", true},
		{[]string{"!keep.log", "*.log"}, "keep.log", true},
		{[]string{"logs", "!logs/keep"}, "logs/keep", false},
		{[]string{"logs", "!logs/keep"}, "logs/keep/x", false},
		{[]string{"logs", "!logs/keep"}, "logs/other", true},
		{[]string{"logs", "!logs/keep"}, "logs", true},
		{[]string{"logs", "!logs/keep", "logs/keep/tmp"}, "logs/keep/tmp/a", true},
		// normalised as docker's ignorefile: "./", leading "/", trailing "/", spaces, "x/../"
		{[]string{"./sub/tmp/"}, "sub/tmp", true},
		{[]string{"/sub/tmp"}, "sub/tmp", true},
		{[]string{"//sub//tmp"}, "sub/tmp", true},
		{[]string{" sub/tmp "}, "sub/tmp", true},
		{[]string{"./logs/**"}, "logs/a", true},
		{[]string{"a/../b"}, "b", true},
		{[]string{"/../b"}, "b", true},
		{[]string{"! /logs/keep/", "logs"}, "logs/keep", true},
		{[]string{"logs", "! /logs/keep/"}, "logs/keep", false},
		// the root
		{[]string{"*"}, "", false},
		{[]string{"*"}, ".", false},
		{[]string{"**"}, "", false},
		// several patterns: any one excludes
		{[]string{"a", "b/**"}, "b/c", true},
		{[]string{"a", "b/**"}, "c", false},
	} {
		if got := mustNew(t, tc.patterns).Match(tc.rel); got != tc.want {
			t.Errorf("%q Match(%q) = %v, want %v", tc.patterns, tc.rel, got, tc.want)
		}
	}
}

// Prune: an excluded directory is skipped whole unless an exception may re-include
// something below it; then the walk enters it and Match decides each path.
func TestPrune(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		rel      string
		want     bool
	}{
		{[]string{"cache"}, "cache", true},
		{[]string{"cache"}, "keep", false}, // not excluded at all
		{[]string{"**/node_modules"}, "a/node_modules", true},
		{[]string{"logs", "!logs/keep"}, "logs", false},
		{[]string{"logs", "!logs/keep"}, "logs/other", true},
		{[]string{"logs", "!logs/keep/a"}, "logs/keep", false},
		{[]string{"logs", "!logs/ke*"}, "logs", false},
		{[]string{"logs", "!logs/ke*"}, "logs/x", true},
		{[]string{"logs", "!l*"}, "logs/x", false},
		{[]string{"logs", "!**/keep"}, "logs", false}, // a leading "**" may match anywhere
		{[]string{"logs", "!other"}, "logs", true},
		{[]string{"logs", "!logsx/a"}, "logs", true},
		{[]string{"*.log", "!keep.log"}, "a.log", true},
	} {
		if got := mustNew(t, tc.patterns).Prune(tc.rel); got != tc.want {
			t.Errorf("%q Prune(%q) = %v, want %v", tc.patterns, tc.rel, got, tc.want)
		}
	}
}

// Prune is exact: below a pruned directory, Match excludes every path (brute force over a
// small tree and pattern lists with exceptions).
func TestPruneNeverHidesAnException(t *testing.T) {
	paths := []string{"a", "a/b", "a/b/c", "a/b/c/d.log", "a/keep", "a/keep/x", "a/x.log",
		"b", "b/a", "b/a/keep", "keep", "keep/a", "x.log", "a/b/keep.log"}
	lists := [][]string{
		{"a", "!a/keep"}, {"a", "!a/b/c"}, {"**/*.log", "!a/b/**"}, {"a/**", "!**/keep"},
		{"a", "!a/k*"}, {"*", "!keep"}, {"a", "b", "!b/a/keep", "a/b"}, {"a", "!a/b/keep.log"},
	}
	for _, ps := range lists {
		r := mustNew(t, ps)
		for _, d := range paths {
			if !r.Prune(d) {
				continue
			}
			for _, p := range paths {
				if strings.HasPrefix(p, d+"/") && !r.Match(p) {
					t.Errorf("%q: Prune(%q) but %q below it is re-included", ps, d, p)
				}
			}
		}
	}
}

// Refused patterns: bad syntax, ".." leading outside the root, "!" alone, hostile sizes.
// Each error names the pattern.
func TestNewRefuses(t *testing.T) {
	for _, ps := range [][]string{
		{"["}, {"a/[b"}, {`a\`},
		{".."}, {"../x"}, {"a/../../x"}, {"!../x"},
		{"!"}, {"! "}, {"!/"},
		{strings.Repeat("a", MaxPatternLen+1)},
		make([]string, MaxPatterns+1),
	} {
		r, err := New(ps)
		if err == nil {
			t.Errorf("New(%.40q) = %v, want an error", ps, r)
			continue
		}
		if len(ps) == 1 && !strings.Contains(err.Error(), ps[0]) {
			t.Errorf("New(%q): error %q does not name the pattern", ps, err)
		}
		if Validate(ps) == nil {
			t.Errorf("Validate(%.40q) accepted what New refuses", ps)
		}
	}
}

// Hostile but valid patterns stay linear (patternmatcher compiles to RE2 regular
// expressions): a long chain of "**" and "*" against a deep path answers, and rightly.
func TestHostilePatterns(t *testing.T) {
	deep := strings.Repeat("a/", 500) + "b"
	for _, tc := range []struct {
		pattern string
		want    bool
	}{
		{strings.Repeat("**/", 300) + "b", true},
		{strings.Repeat("*a", 1000) + "x", false},
		{strings.Repeat("?", 2000), false},
		{strings.Repeat("a/", 500) + "b", true},
	} {
		r := mustNew(t, []string{tc.pattern})
		if got := r.Match(deep); got != tc.want {
			t.Errorf("%.30q... Match(deep) = %v, want %v", tc.pattern, got, tc.want)
		}
	}
	if err := Validate([]string{strings.Repeat("[a]", 1300)}); err != nil {
		t.Errorf("a valid 3900-byte pattern refused: %v", err)
	}
}

// FromLegacy: the patterns of an older backup, translated, exclude what the hand-written
// matcher excluded (its own tests' tables, with its MatchTree meaning: what a backup left
// out), so restoring such a backup keeps exactly that.
func TestFromLegacyAgrees(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		rel      string
		want     bool
	}{
		{[]string{"*.log"}, "app.log", true},
		{[]string{"*.log"}, "sub/deep/app.log", true},
		{[]string{"*.log"}, "app.log.1", false},
		{[]string{"cache"}, "x/cache", true},
		{[]string{"cache"}, "cache/x/y", true},
		{[]string{"cache"}, "a/cache/x", true},
		{[]string{"cache"}, "cachex/inside", false},
		{[]string{"sub/tmp"}, "sub/tmp", true},
		{[]string{"sub/tmp"}, "other/sub/tmp", false},
		{[]string{"sub/*.tmp"}, "sub/a.tmp", true},
		{[]string{"sub/*.tmp"}, "sub/x/a.tmp", false},
		{[]string{"logs/**"}, "logs", false},
		{[]string{"logs/**"}, "logs/a", true},
		{[]string{"logs/**"}, "logs/keep/d.log", true},
		{[]string{"logs/**"}, "logsx/a", false},
		{[]string{"logs/**"}, "x/logs/a", false},
		{[]string{"*/cache/**"}, "app/cache/x", true},
		{[]string{"./sub/tmp/"}, "sub/tmp", true},
		{[]string{"/sub/tmp"}, "sub/tmp", true},
		{[]string{"./logs/**"}, "logs/a", true},
		{[]string{"*"}, "", false},
		{[]string{"a", "b/**"}, "b/c", true},
		{[]string{"a", "b/**"}, "c", false},
		// "**" inside was "*", "[!...]" a negation
		{[]string{"a/**/b"}, "a/x/b", true},
		{[]string{"a/**/b"}, "a/x/y/b", false},
		{[]string{"a/**/b/**"}, "a/x/b/c", true},
		{[]string{"[!x].txt"}, "y.txt", true},
		{[]string{"[!x].txt"}, "x.txt", false},
		// "!" had no meaning: a literal name
		{[]string{"!x"}, "d/!x", true},
		{[]string{"*", "!x"}, "x", true},
	} {
		r := mustNew(t, FromLegacy(tc.patterns))
		if got := r.Match(tc.rel); got != tc.want {
			t.Errorf("legacy %q (%q) Match(%q) = %v, want %v", tc.patterns, FromLegacy(tc.patterns), tc.rel, got, tc.want)
		}
	}
	if got := FromLegacy([]string{"", "/", "./"}); got != nil {
		t.Errorf("FromLegacy of empty patterns = %q", got)
	}
}

// Match is patternmatcher's MatchesOrParentMatches exactly, whatever the order paths are
// asked in (its per-directory cache): every pattern list below against every path, in walk
// order, reversed and interleaved.
func TestMatchIsPatternmatcher(t *testing.T) {
	paths := []string{"a", "!a", "!a/x", "a/b", "a/b/c", "a/b/c/d.log", "a/keep", "a/keep/x", "a/x.log", "b",
		"b/a", "b/a/keep", "keep", "keep/a", "x.log", "a/b/keep.log", "node_modules/m", "w/node_modules/m/n"}
	lists := [][]string{
		{"a", "!a/keep"}, {"a", "!a/b/c"}, {"**/*.log", "!a/b/**"}, {"a/**", "!**/keep"}, {"*.log", "!x.log"},
		{"a", "!a/k*", "a/keep/x"}, {"*", "!keep", "keep/a"}, {"!a", "a/b", "!a/b/c", "**/d.log"},
		{"**/node_modules", "!w/node_modules/m"}, {"**/*.log", "!a", "a/x.log"}, {"a/?/c", "b/[ab]"},
		{"*", "!!a", "!keep"},
	}
	for _, ps := range lists {
		pm, err := patternmatcher.New(ps)
		if err != nil {
			t.Fatal(err)
		}
		r := mustNew(t, ps)
		order := append(append(slices.Clone(paths), paths...), paths...)
		slices.Reverse(order[len(paths) : 2*len(paths)])
		for i := 2 * len(paths); i+1 < len(order); i += 2 {
			order[i], order[i+1] = order[i+1], order[i]
		}
		for _, p := range order {
			want, _ := pm.MatchesOrParentMatches(p)
			if got := r.Match(p); got != want {
				t.Errorf("%q Match(%q) = %v, patternmatcher says %v", ps, p, got, want)
			}
		}
	}
}
