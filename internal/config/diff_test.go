package config

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// providersConfig is a model_config-like TOML file of 10-line tables, 50,000 lines for
// 5,000 tables: table t starts at line 10t+1 with [providerTTTT], then api_key (a
// secret), name, base_url and k1..k6.
func providersConfig(tables int) []string {
	var lines []string
	for t := range tables {
		lines = append(lines, fmt.Sprintf("[provider%04d]", t), fmt.Sprintf("api_key = \"sk-%04d-secret\"", t),
			fmt.Sprintf("name = \"p%d\"", t), fmt.Sprintf("base_url = \"https://p%d.example\"", t))
		for k := 1; k <= 6; k++ {
			lines = append(lines, fmt.Sprintf("k%d = %d", k, t))
		}
	}
	return lines
}

// largeChange is a 50,000-line config and the same with four changes far apart: a name
// (line 13), a line added after line 25004, line 40005 removed, an api_key (line 49992).
func largeChange() (cur, merged []byte) {
	lines := providersConfig(5000)
	cur = []byte(strings.Join(lines, "\n") + "\n")
	lines[12] = `name = "renamed"`
	lines[49991] = `api_key = "sk-4999-rotated"`
	lines = append(lines[:40004], lines[40005:]...)
	lines = append(lines[:25004], append([]string{"timeout = 30"}, lines[25004:]...)...)
	return cur, []byte(strings.Join(lines, "\n") + "\n")
}

var hunkHeader = regexp.MustCompile(`(?m)^@@ .* @@$`)

// TestDiffLarge: a 50,000-line file with four changes gives four hunks of three lines of
// context each, at the right lines, secrets redacted (context lines too), and nothing
// else: no cut-off for size.
func TestDiffLarge(t *testing.T) {
	cur, merged := largeChange()
	d := Diff("config/model_config.toml", cur, merged, TOML, false)
	wantNoSecrets(t, "the large diff", d, "sk-")
	if got, want := hunkHeader.FindAllString(d, -1), []string{
		"@@ -10,7 +10,7 @@", "@@ -25002,6 +25002,7 @@", "@@ -40002,7 +40003,6 @@", "@@ -49989,7 +49989,7 @@",
	}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("hunks %q, want %q:\n%s", got, want, d)
	}
	want := `--- a/config/model_config.toml
+++ b/config/model_config.toml
@@ -10,7 +10,7 @@
 k6 = 0
 [provider0001]
 api_key = <redacted: unchanged>
-name = "p1"
+name = "renamed"
 base_url = "https://p1.example"
 k1 = 1
 k2 = 1
@@ -25002,6 +25002,7 @@
 api_key = <redacted: unchanged>
 name = "p2500"
 base_url = "https://p2500.example"
+timeout = 30
 k1 = 2500
 k2 = 2500
 k3 = 2500
@@ -40002,7 +40003,6 @@
 api_key = <redacted: unchanged>
 name = "p4000"
 base_url = "https://p4000.example"
-k1 = 4000
 k2 = 4000
 k3 = 4000
 k4 = 4000
@@ -49989,7 +49989,7 @@
 k5 = 4998
 k6 = 4998
 [provider4999]
-api_key = <redacted: changed>
+api_key = <redacted: changed>
 name = "p4999"
 base_url = "https://p4999.example"
 k1 = 4999
`
	if d != want {
		t.Errorf("the large diff:\n%s\nwant:\n%s", d, want)
	}
	shown := Diff("config/model_config.toml", cur, merged, TOML, true)
	if !strings.Contains(shown, "\n-api_key = \"sk-4999-secret\"\n+api_key = \"sk-4999-rotated\"\n") {
		t.Errorf("with showSecrets the key change is not shown:\n%s", shown)
	}
	wantApplies(t, "config/model_config.toml", cur, merged, shown)
}

// TestDiffIdentical: equal files give no diff, whatever their size, format or secrets.
func TestDiffIdentical(t *testing.T) {
	cur, _ := largeChange()
	for _, c := range []struct {
		f    Format
		data string
	}{{TOML, string(cur)}, {Dotenv, "TOKEN=abc\r\nHOST=x\r\n"}, {YAML, ""}, {JSON, "{\"api_key\": \"sk-1\"}"}} {
		for _, show := range []bool{false, true} {
			if d := Diff("f", []byte(c.data), []byte(c.data), c.f, show); d != "" {
				t.Errorf("%s, showSecrets %v: diff of equal files %q", c.f, show, d)
			}
		}
	}
}

// TestDiffCRLF: a file with CRLF line endings keeps them in the diff's lines (as `diff -u`
// prints them), redacted lines included; a change of line endings changes every line.
func TestDiffCRLF(t *testing.T) {
	if d, want := Diff("f", []byte("a\r\nb\r\nc\r\n"), []byte("a\r\nB\r\nc\r\n"), TOML, true),
		"--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\r\n-b\r\n+B\r\n c\r\n"; d != want {
		t.Errorf("diff %q, want %q", d, want)
	}
	cur, merged := "# keys\r\nTOKEN=abc\r\nHOST=x\r\nNAME=bot\r\n", "# keys\r\nTOKEN=def\r\nHOST=x\r\nNAME=bot\r\n"
	d := Diff(".env", []byte(cur), []byte(merged), Dotenv, false)
	wantNoSecrets(t, "the CRLF .env diff", d, "abc", "def", "=x", "bot")
	if want := "--- a/.env\n+++ b/.env\n@@ -1,4 +1,4 @@\n # keys\r\n-TOKEN=<redacted: changed>\r\n+TOKEN=<redacted: changed>\r\n" +
		" HOST=<redacted: unchanged>\r\n NAME=<redacted: unchanged>\r\n"; d != want {
		t.Errorf("diff %q, want %q", d, want)
	}
	lf := "a\nb\n"
	if d, want := Diff("f", []byte(lf), []byte("a\r\nb\r\n"), TOML, true), "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-a\n-b\n+a\r\n+b\r\n"; d != want {
		t.Errorf("LF to CRLF: diff %q, want %q", d, want)
	}
}

// TestDiffAppliesBack: with showSecrets the diff is a patch that turns the old file into
// the new one (checked by a strict reading of its hunks, and by the system's `patch
// -p1` when there is one): line endings, missing final newlines, empty files, and many
// changes close together (hunks that share context).
func TestDiffAppliesBack(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 7))
	base := providersConfig(200)
	edited := append([]string(nil), base...)
	for range 150 {
		i := rng.IntN(len(edited))
		switch rng.IntN(3) {
		case 0:
			edited[i] = fmt.Sprintf("changed = %d", rng.Int())
		case 1:
			edited = append(edited[:i], edited[i+1:]...)
		default:
			edited = append(edited[:i], append([]string{fmt.Sprintf("added = %d", rng.Int())}, edited[i:]...)...)
		}
	}
	for _, c := range []struct{ name, a, b string }{
		{"crlf", "a\r\nb\r\nc\r\nd\r\n", "a\r\nb\r\nC\r\nd\r\ne\r\n"},
		{"lf-to-crlf", "a\nb\n", "a\r\nb\r\n"},
		{"newline-added", "a\nb", "a\nb\n"},
		{"newline-removed", "a\nb\n", "a\nc"},
		{"both-without", "x\ny\nz", "x\nY\nz"},
		{"from-empty", "", "a\nb\n"},
		{"to-empty", "a\nb\n", ""},
		{"many-changes", strings.Join(base, "\n") + "\n", strings.Join(edited, "\n") + "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := Diff("cfg/file.toml", []byte(c.a), []byte(c.b), TOML, true)
			if d == "" {
				t.Fatal("no diff")
			}
			wantApplies(t, "cfg/file.toml", []byte(c.a), []byte(c.b), d)
		})
	}
}

// wantApplies checks that the unified diff d turns cur into merged: by applyHunks, and by
// GNU patch when it is installed.
func wantApplies(t *testing.T, name string, cur, merged []byte, d string) {
	t.Helper()
	got, err := applyHunks(string(cur), d)
	if err != nil {
		t.Fatalf("the diff does not apply: %v\n%s", err, d)
	}
	if got != string(merged) {
		t.Errorf("the diff applied gives %q, want %q", got, merged)
	}
	patch, err := exec.LookPath("patch")
	if err != nil {
		t.Log("no patch command: checked by applyHunks only")
		return
	}
	dir := t.TempDir()
	file := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, cur, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(patch, "-p1", "--batch", "--silent", "--no-backup-if-mismatch", "--reject-file=-")
	cmd.Dir, cmd.Stdin = dir, strings.NewReader(d)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("patch -p1: %v\n%s\nthe diff:\n%s", err, out, d)
	}
	patched, err := os.ReadFile(file)
	if os.IsNotExist(err) && len(merged) == 0 { // patch removes a file the diff empties
		patched, err = nil, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if string(patched) != string(merged) {
		t.Errorf("patch -p1 gives %q, want %q", patched, merged)
	}
}

var hunkRange = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@\n$`)

// applyHunks applies the unified diff d to old strictly: every context and removed line
// must be old's line at that place, every hunk's counts and start lines must match its
// lines, and "\ No newline at end of file" takes the newline off the line before it.
func applyHunks(old, d string) (string, error) {
	lines := strings.SplitAfter(d, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "--- a/") || !strings.HasPrefix(lines[1], "+++ b/") {
		return "", fmt.Errorf("no --- a/ +++ b/ header")
	}
	src := strings.SplitAfter(old, "\n")
	if src[len(src)-1] == "" {
		src = src[:len(src)-1]
	}
	var out []string
	pos, newLine := 0, 0 // lines of old consumed, lines of the result written
	for k := 2; k < len(lines) && lines[k] != ""; {
		m := hunkRange.FindStringSubmatch(lines[k])
		if m == nil {
			return "", fmt.Errorf("line %d: not a hunk header: %q", k+1, lines[k])
		}
		num := func(s string) int {
			if s == "" {
				return 1
			}
			n, _ := strconv.Atoi(s)
			return n
		}
		from, fromN, to, toN := num(m[1]), num(m[2]), num(m[3]), num(m[4])
		start := from - 1
		if fromN == 0 {
			start = from
		}
		if start < pos || start > len(src) {
			return "", fmt.Errorf("hunk %q starts at line %d, already at %d", lines[k], start+1, pos+1)
		}
		out, newLine = append(out, src[pos:start]...), newLine+start-pos
		pos = start
		if want := to - 1; toN == 0 && newLine != to || toN > 0 && newLine != want {
			return "", fmt.Errorf("hunk %q: the new file is at line %d", lines[k], newLine+1)
		}
		var ops []string // "-x\n", " x\n", "+x\n", their newline dropped by a "\" line
		for k++; k < len(lines) && lines[k] != "" && lines[k][0] != '@'; k++ {
			switch l := lines[k]; l[0] {
			case ' ', '-', '+':
				ops = append(ops, l)
			case '\\':
				if len(ops) == 0 || l != "\\ No newline at end of file\n" {
					return "", fmt.Errorf("line %d: %q", k+1, l)
				}
				ops[len(ops)-1] = strings.TrimSuffix(ops[len(ops)-1], "\n")
			default:
				return "", fmt.Errorf("line %d: %q", k+1, l)
			}
		}
		for _, op := range ops {
			if op[0] != '+' {
				if pos >= len(src) || src[pos] != op[1:] {
					return "", fmt.Errorf("hunk line %q is not line %d of the old file", op, pos+1)
				}
				pos, fromN = pos+1, fromN-1
			}
			if op[0] != '-' {
				out, newLine, toN = append(out, op[1:]), newLine+1, toN-1
			}
		}
		if fromN != 0 || toN != 0 {
			return "", fmt.Errorf("hunk %q: its counts are off by %d and %d", m[0], fromN, toN)
		}
	}
	return strings.Join(append(out, src[pos:]...), ""), nil
}
