package upgrade

import (
	"strings"
	"testing"
)

func TestLineDiff(t *testing.T) {
	if d := lineDiff("a\nb\n", "a\nb\n"); d != "" {
		t.Errorf("equal: %q", d)
	}
	for _, c := range []struct{ a, b, want string }{
		{"a\nb\nc", "a\nB\nc", "-b\n+B\n"},
		{"a\nc", "a\nb\nc", "+b\n"},
		{"a\nb\nc", "a\nc", "-b\n"},
		{"", "x", "-\n+x\n"},
		{"a", "a\nb", "+b\n"},
		{"a\nb", "a", "-b\n"},
		{"x\na", "a", "-x\n"},
		{"a\nb\nc\nd", "a\nX\nc\nY", "-b\n+X\n-d\n+Y\n"},
		{"k = 1\n[s]\nv = 2\n", "k = 1\n[s]\nv = 3\nw = 4\n", "-v = 2\n+v = 3\n+w = 4\n"},
	} {
		if got := lineDiff(c.a, c.b); got != c.want {
			t.Errorf("lineDiff(%q, %q) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
	big := strings.Repeat("x\n", 2100)
	if got := lineDiff(big, big+"y"); got != "(files too large to diff)" {
		t.Errorf("large files: %q", got)
	}
}
