package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

func TestMergeYAML(t *testing.T) {
	tmpl := `# app config
version: 3 # do not edit
server:
  host: 0.0.0.0 # listen address
  port: 8080
  new_opt: true # added in v3
list: [a, b]
name: default
ratio: 1
`
	cur := `version: 2
server:
  host: 127.0.0.1 # mine
  port: "8081"
  old_opt: x
list:
  - c
name: "my \\ name"
ratio: 0.5
gone: 1
`
	opts := Options{Format: YAML, VersionKeys: []string{"version"}, CurrentName: "app.yaml"}
	out, rep, err := Merge([]byte(tmpl), []byte(cur), opts)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := yaml.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	srv := got["server"].(map[string]any)
	if got["version"] != 3 || srv["host"] != "127.0.0.1" || srv["port"] != 8080 || srv["new_opt"] != true ||
		got["name"] != `my \ name` || got["ratio"] != 0.5 || !slices.Equal(toAnyStrings(got["list"]), []string{"c"}) {
		t.Errorf("merged: %#v", got)
	}
	if _, ok := got["gone"]; ok {
		t.Error("user-only key written")
	}
	for _, want := range []string{"# app config", "# do not edit", "# added in v3", "host: 127.0.0.1 # mine"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !slices.Equal(rep.New, []string{"server.new_opt"}) || !slices.Equal(rep.Removed, []string{"gone", "server.old_opt"}) ||
		len(rep.TypeChanged) != 1 || rep.TypeChanged[0].Key != "server.port" || rep.Version.From != "2" {
		t.Errorf("report: %+v", rep)
	}
	again, _, err := Merge([]byte(tmpl), out, opts)
	if err != nil || string(again) != string(out) {
		t.Errorf("not idempotent:\n%s\n---\n%s", out, again)
	}
	kept, krep, err := Merge([]byte(tmpl), []byte(cur), Options{Format: YAML, KeepUnknown: true})
	if err != nil || !strings.Contains(string(kept), "gone: 1") || !strings.Contains(string(kept), "old_opt: x") || len(krep.KeptUnknown) != 2 {
		t.Errorf("keep-unknown: %v\n%s", err, kept)
	}
}

func toAnyStrings(v any) []string {
	var s []string
	for _, x := range v.([]any) {
		s = append(s, x.(string))
	}
	return s
}

func TestMergeJSON(t *testing.T) {
	tmpl := "{\n    \"version\": \"2.0\",\n    \"a\": {\"x\": 1, \"new\": [1]},\n    \"s\": \"t\",\n    \"n\": null\n}\n"
	cur := `{"version":"1.0","a":{"x":2.50,"old":1},"s":"caf\u00e9 \\d+","n":{"k":1},"gone":true}`
	out, rep, err := Merge([]byte(tmpl), []byte(cur), Options{Format: JSON, VersionKeys: []string{"version"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n    \"version\": \"2.0\",\n    \"a\": {\n        \"x\": 2.50,\n        \"new\": [\n            1\n        ]\n    },\n    \"s\": \"caf\\u00e9 \\\\d+\",\n    \"n\": {\n        \"k\": 1\n    }\n}\n"
	if string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	if !slices.Equal(rep.New, []string{"a.new"}) || !slices.Equal(rep.Removed, []string{"a.old", "gone"}) || rep.Version.From != "1.0" {
		t.Errorf("report %+v", rep)
	}
	_, rep, _ = Merge([]byte(tmpl), []byte(`{"s": 1}`), Options{Format: JSON})
	if len(rep.TypeChanged) != 1 || rep.TypeChanged[0] != (TypeChange{Key: "s", Template: "string", Current: "number"}) {
		t.Errorf("type change: %+v", rep.TypeChanged)
	}
}

func TestParseErrorsNamePosition(t *testing.T) {
	cases := []struct {
		name      string
		format    Format
		tmpl, cur string
		file      string
		line, col int
	}{
		{"toml current", TOML, "a = 1\n", "a = 1\nb = [1,\nc = 2\n", "cur.toml", 3, 1},
		{"toml template", TOML, "[a]\nx = 1\n  y = \"unterminated\n", "", "tmpl.toml", 3, 20}, // at the newline that ends the string
		{"toml duplicate", TOML, "a = 1\n", "# 中文\na = 1\na = 2\n", "cur.toml", 3, 1},
		{"toml chinese column", TOML, "a = 1\n", "s = \"麦麦\" x\n", "cur.toml", 1, 10},
		{"dotenv", Dotenv, "A=1\n", "A=1\n\nB=\"open\n", "cur.toml", 3, 3},
		{"dotenv no equals", Dotenv, "A=1\nBROKEN LINE\n", "", "tmpl.toml", 2, 8},
		{"json", JSON, "{}", "{\n  \"a\": 1,\n  \"b\": ]\n}", "cur.toml", 3, 8},
		{"json duplicate", JSON, "{}", "{\n  \"a\": 1,\n  \"a\": 2\n}", "cur.toml", 3, 3},
		{"yaml duplicate", YAML, "a: 1\n", "a: 1\nb:\n  c: 1\n  c: 2\n", "cur.toml", 4, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cur := c.cur
			if cur == "" {
				cur = c.tmpl
			}
			_, _, err := Merge([]byte(c.tmpl), []byte(cur), Options{Format: c.format, TemplateName: "tmpl.toml", CurrentName: "cur.toml"})
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("want *ParseError, got %v", err)
			}
			if pe.File != c.file || pe.Line != c.line || pe.Column != c.col {
				t.Errorf("got %s:%d:%d (%v), want %s:%d:%d", pe.File, pe.Line, pe.Column, err, c.file, c.line, c.col)
			}
			if !strings.HasPrefix(err.Error(), pe.File+":") {
				t.Errorf("message %q does not start with the file", err)
			}
		})
	}
	_, _, err := Merge([]byte("a: [\n"), []byte("a: 1\n"), Options{Format: YAML, TemplateName: "t.yaml"})
	var pe *ParseError
	if !errors.As(err, &pe) || pe.File != "t.yaml" || pe.Line < 1 {
		t.Errorf("yaml syntax error: %v", err)
	}
}

func TestReportForms(t *testing.T) {
	_, rep, err := Merge([]byte("[inner]\nversion = \"2\"\n[a]\nn = 1\nx = 1\n"), []byte("[inner]\nversion = \"1\"\n[a]\nx = \"s\"\ny = 2\n"),
		Options{Format: TOML, VersionKeys: []string{"inner.version"}, CurrentName: "bot_config.toml"})
	if err != nil {
		t.Fatal(err)
	}
	text := rep.Text()
	for _, want := range []string{"bot_config.toml (toml)", "version inner.version: 1 -> 2", "a.n", "a.y", "a.x: yours string, template integer"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	b, err := rep.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || back.File != "bot_config.toml" || !slices.Equal(back.New, []string{"a.n"}) ||
		!slices.Equal(back.Removed, []string{"a.y"}) || back.TypeChanged[0].Key != "a.x" || back.Version.To != "2" {
		t.Errorf("json round trip: %v %s", err, b)
	}
	var sb strings.Builder
	if err := WriteReports(&sb, []Report{rep, rep}, "json"); err != nil || !strings.HasPrefix(sb.String(), "[") {
		t.Errorf("WriteReports json: %v %s", err, sb.String())
	}
}

func TestMergeTOMLEdgeRules(t *testing.T) {
	// Inline tables and arrays are values taken whole; integers and floats are
	// one type; a comment-less template line gets the user's comment.
	tmpl := "t = { a = 1, b = 2 }\nf = 0.5\narr = [1, 2]\nplain = 1\n[tab]\nk = 'v'\n"
	cur := "t = { a = 9 }\nf = 1\narr = []\nplain = 2 # mine\ntab = { k = 'w' }\n"
	out, rep, err := Merge([]byte(tmpl), []byte(cur), Options{Format: TOML})
	if err != nil {
		t.Fatal(err)
	}
	want := "t = { a = 9 }\nf = 1\narr = []\nplain = 2 # mine\n[tab]\nk = 'v'\n"
	if string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	if len(rep.TypeChanged) != 1 || rep.TypeChanged[0].Key != "tab" {
		t.Errorf("type changed: %+v", rep.TypeChanged)
	}
	// Keep-unknown puts a key into its table's section, and new tables at the end.
	out, _, err = Merge([]byte("[a]\nx = 1\n\n[b]\ny = 1"), []byte("[a]\nx = 1\nz = 'keep' # c\n[c]\nw = 2\n"), Options{Format: TOML, KeepUnknown: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := "[a]\nx = 1\nz = 'keep' # c\n\n[b]\ny = 1\n\n[c]\nw = 2\n"; string(out) != want {
		t.Errorf("keep-unknown:\n%q\nwant\n%q", out, want)
	}
}

func TestApplyFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bot_config.toml")
	if err := os.WriteFile(p, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(p, 1234, 4321); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "link.toml")
	if err := os.Symlink("bot_config.toml", link); err != nil {
		t.Fatal(err)
	}
	if err := ApplyFile(link, []byte("new 内容\n")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(b) != "new 内容\n" || fi.Mode().Perm() != 0o640 {
		t.Errorf("content %q mode %v", b, fi.Mode())
	}
	if l, err := os.Readlink(link); err != nil || l != "bot_config.toml" {
		t.Errorf("symlink replaced: %v %v", l, err)
	}
	if os.Geteuid() == 0 {
		if o := ownerOf(fi); o.uid != 1234 || o.gid != 4321 {
			t.Errorf("owner %d:%d, want 1234:4321", o.uid, o.gid)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("left temporary files: %v", entries)
	}
	// A missing file (first deploy) is created, directories too.
	np := filepath.Join(dir, "sub", ".env")
	if err := ApplyFile(np, []byte("A=1\n")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(np); err != nil || fi.Mode().Perm() != 0o600 { // may hold secrets
		t.Errorf("new file: %v %v", fi, err)
	}
	if err := ApplyFile(dir, []byte("x")); err == nil {
		t.Error("replacing a directory should fail")
	}
}
