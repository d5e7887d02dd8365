package fsaccess

import (
	"reflect"
	"testing"
)

// EscapeError says what was refused and why: the path outside the directory, or the link on
// the way and where it leads.
func TestEscapeErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  EscapeError
		want string
	}{
		{EscapeError{Path: "/etc/passwd", Dir: "/proj"},
			"archive: /etc/passwd is not beneath /proj: refusing to read or write it"},
		{EscapeError{Path: "/proj/conf/a.toml", Link: "/proj/conf", Target: "/home", Dir: "/proj"},
			"archive: /proj/conf/a.toml leads outside /proj (symlink /proj/conf -> /home): refusing to read or write through it"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%+v:\n got %s\nwant %s", tc.err, got, tc.want)
		}
	}
}

// splitPath keeps a path's non-empty components other than ".": ".." is kept for the walk.
func TestSplitPath(t *testing.T) {
	for p, want := range map[string][]string{
		"a/b/c":     {"a", "b", "c"},
		"/a//b/./c": {"a", "b", "c"},
		"../a/":     {"..", "a"},
		".":         nil,
		"":          nil,
	} {
		if got := splitPath(p); !reflect.DeepEqual(got, want) {
			t.Errorf("splitPath(%q) = %q, want %q", p, got, want)
		}
	}
}
