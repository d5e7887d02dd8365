package exclude

import "testing"

// No pattern, or only patterns that clean to nothing, compile to nil Rules, and nil Rules
// exclude nothing.
func TestNewWithoutPatternsIsNil(t *testing.T) {
	for _, ps := range [][]string{nil, {}, {"", "/", "./", "//"}} {
		if r := New(ps); r != nil {
			t.Errorf("New(%q) = %+v, want nil", ps, r)
		}
	}
	var r *Rules
	if r.Match("a") || r.MatchTree("a/b") {
		t.Error("nil Rules excluded a path")
	}
}

// Match: a name pattern against the relative path and against its base name; "dir/**"
// excludes what lies below dir, never dir itself; "./", "/" and a trailing "/" are
// ignored; the root ("" or ".") is never excluded.
func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		rel      string
		want     bool
	}{
		// the base name
		{[]string{"*.log"}, "app.log", true},
		{[]string{"*.log"}, "sub/deep/app.log", true},
		{[]string{"*.log"}, "app.log.1", false},
		{[]string{"cache"}, "x/cache", true},
		// the whole relative path ("*" does not cross "/")
		{[]string{"sub/tmp"}, "sub/tmp", true},
		{[]string{"sub/tmp"}, "other/sub/tmp", false},
		{[]string{"sub/*.tmp"}, "sub/a.tmp", true},
		{[]string{"sub/*.tmp"}, "sub/x/a.tmp", false},
		// "dir/**": below dir, not dir
		{[]string{"logs/**"}, "logs", false},
		{[]string{"logs/**"}, "logs/a", true},
		{[]string{"logs/**"}, "logs/keep/d.log", true},
		{[]string{"logs/**"}, "logsx/a", false},
		{[]string{"logs/**"}, "x/logs/a", false},
		{[]string{"*/cache/**"}, "app/cache/x", true},
		// the prefixes and the trailing slash are ignored
		{[]string{"./sub/tmp/"}, "sub/tmp", true},
		{[]string{"/sub/tmp"}, "sub/tmp", true},
		{[]string{"./logs/**"}, "logs/a", true},
		// the root
		{[]string{"*"}, "", false},
		{[]string{"*"}, ".", false},
		// several patterns: any one excludes
		{[]string{"a", "b/**"}, "b/c", true},
		{[]string{"a", "b/**"}, "c", false},
	} {
		if got := New(tc.patterns).Match(tc.rel); got != tc.want {
			t.Errorf("%q Match(%q) = %v, want %v", tc.patterns, tc.rel, got, tc.want)
		}
	}
}

// MatchTree also excludes what lies in an excluded directory (what a walk never entered):
// Match does not look at the ancestors' names, MatchTree does.
func TestMatchTree(t *testing.T) {
	r := New([]string{"cache", "logs/**"})
	for rel, want := range map[string]bool{
		"cache":         true,
		"cache/x/y":     true,
		"a/cache/x":     true,
		"logs":          false,
		"logs/a/b":      true,
		"keep/file":     false,
		"":              false,
		"cachex/inside": false,
	} {
		if got := r.MatchTree(rel); got != want {
			t.Errorf("MatchTree(%q) = %v, want %v", rel, got, want)
		}
	}
	if r.Match("cache/x/y") {
		t.Error("Match looked at an ancestor's name")
	}
}
