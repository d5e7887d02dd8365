package config

import (
	"bytes"
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"

	"github.com/docker-maim/docker-maim/internal/redact"
)

// DiffContext is the number of unchanged lines Diff shows around each change, as
// `diff -u` and `git diff` do.
const DiffContext = udiff.DefaultContextLines

// Diff renders what changes from current to merged as a unified diff of the file name
// (relative to the project dir, with forward slashes): a "--- a/NAME" and "+++ b/NAME"
// header, then hunks "@@ -l,n +l,n @@" of "-" lines of current, "+" lines of merged and
// DiffContext lines of context, and "\ No newline at end of file" where a file's last
// line has none. Equal files give "". With showSecrets it is exactly what `diff -u`
// would print (it applies back with `patch -p1`).
//
// Unless showSecrets, secret values (see SecretKey; every value of a dotenv file) are
// printed as "<redacted: changed>" or "<redacted: unchanged>", telling whether the value
// differs between the two files. The redaction is made first, line by line of each file;
// the diff is computed on the real lines (so a changed secret shows as a changed line)
// and then printed with the redacted line of the same number in its place, context lines
// included: no line of either file is printed as it is.
//
// The diff is go-udiff's (the Go team's diff, from gopls): its line LCS bounds its
// search, so files of any size diff in about linear time; where two files differ in
// many places the hunks may not be the smallest possible, but applying them to current
// always gives merged.
func Diff(name string, current, merged []byte, f Format, showSecrets bool) string {
	if bytes.Equal(current, merged) {
		return ""
	}
	a, b := string(current), string(merged)
	name = strings.TrimPrefix(name, "/")
	u, err := udiff.ToUnifiedDiff("a/"+name, "b/"+name, a, udiff.Lines(a, b), DiffContext)
	if err != nil { // cannot happen: the edits are the library's own
		return Redacted + " (the diff of " + name + " could not be made: " + err.Error() + ")\n"
	}
	rawA, rawB := strings.SplitAfter(a, "\n"), strings.SplitAfter(b, "\n")
	shownA, shownB := rawA, rawB
	if !showSecrets {
		find := rememberFind()
		aSpans, aErr := secretSpans(current, f, find)
		bSpans, bErr := secretSpans(merged, f, find)
		av, bv := secretValues(aSpans), secretValues(bSpans)
		label := func(mine, other map[string]string) func(string) string {
			return func(id string) string {
				if v, ok := other[id]; ok && v == mine[id] {
					return "<redacted: unchanged>"
				}
				return "<redacted: changed>"
			}
		}
		shownA, shownB = redactedLines(current, aSpans, aErr, label(av, bv)), redactedLines(merged, bSpans, bErr, label(bv, av))
	}
	if !showLines(u.Hunks, rawA, rawB, shownA, shownB) { // cannot happen; never show a value
		return Redacted + " (the diff of a file with secrets)\n"
	}
	return u.String()
}

// showLines puts in each line of hunks the shown line of the same number (shownA[i] for
// line i of the old file, shownB[j] for line j of the new one, with raw's line ending).
// It first checks that the hunk's line is raw's line of that number, and reports false,
// leaving hunks unusable, when any is not or a shown file has another number of lines.
func showLines(hunks []*udiff.Hunk, rawA, rawB, shownA, shownB []string) bool {
	if len(shownA) != len(rawA) || len(shownB) != len(rawB) {
		return false
	}
	for _, h := range hunks {
		i, j := h.FromLine-1, h.ToLine-1
		for k, l := range h.Lines {
			raw, shown := rawA, shownA
			n := i
			if l.Kind == udiff.Insert {
				raw, shown, n = rawB, shownB, j
			}
			if n < 0 || n >= len(raw) || raw[n] != l.Content {
				return false
			}
			h.Lines[k].Content = withEnding(shown[n], raw[n])
			if l.Kind != udiff.Insert {
				i++
			}
			if l.Kind != udiff.Delete {
				j++
			}
		}
	}
	return true
}

// withEnding is shown with the line ending of raw: "\n", "\r\n" or none (the last line
// of a file without a final newline). shown may or may not carry raw's line ending.
func withEnding(shown, raw string) string {
	shown = strings.TrimSuffix(shown, "\n")
	switch {
	case strings.HasSuffix(raw, "\r\n"):
		return strings.TrimSuffix(shown, "\r") + "\r\n"
	case strings.HasSuffix(raw, "\n"):
		return shown + "\n"
	}
	return shown
}

// rememberFind is redact.Find remembering every answer it gave, for one diff: the
// detectors cost microseconds to a millisecond a value, the two files of a diff share
// most of their values, and redact's own memory is kept small for long-running callers.
// Its answers are redact.Find's, so the redaction is the same.
func rememberFind() func(string) [][2]int {
	seen := map[string][][2]int{}
	return func(s string) [][2]int {
		rs, ok := seen[s]
		if !ok {
			rs = redact.Find(s)
			seen[s] = rs
		}
		return rs
	}
}
