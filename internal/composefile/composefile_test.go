package composefile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tree writes files under a temp dir and returns its path.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func noShell(string) (string, bool) { return "", false }

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPlanApply: each case edits exactly the bytes of one value; every other byte of every
// file stays as it was.
func TestPlanApply(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]string
		compose []string // default compose.yaml
		env     []string // default: .env when present
		shell   map[string]string
		want    map[string]string
		// after: file -> expected content (files not named must be unchanged)
		after map[string]string
		what  string // the edit's What
		line  int
	}{
		{
			name:  "plain with comments and CRLF",
			files: map[string]string{"compose.yaml": "# my bot\r\nservices:\r\n  bot:\r\n    # the tag I want\r\n    image: reg/bot:1.0.0   # pinned\r\n    restart: always\r\n"},
			want:  map[string]string{"bot": "reg/bot:2.0.0"},
			after: map[string]string{"compose.yaml": "# my bot\r\nservices:\r\n  bot:\r\n    # the tag I want\r\n    image: reg/bot:2.0.0   # pinned\r\n    restart: always\r\n"},
			what:  "image", line: 5,
		},
		{
			name:  "double quoted",
			files: map[string]string{"compose.yaml": "services:\n  bot:\n    image: \"reg/bot:1.0.0\"\n"},
			want:  map[string]string{"bot": "reg/bot:1.10.0"},
			after: map[string]string{"compose.yaml": "services:\n  bot:\n    image: \"reg/bot:1.10.0\"\n"},
			what:  "image", line: 3,
		},
		{
			name:  "single quoted with a tag and an anchor nobody uses",
			files: map[string]string{"compose.yaml": "services:\n  bot:\n    image: &img !!str 'reg/bot:1.0.0'\n"},
			want:  map[string]string{"bot": "reg/bot:1"},
			after: map[string]string{"compose.yaml": "services:\n  bot:\n    image: &img !!str 'reg/bot:1'\n"},
			what:  "image", line: 3,
		},
		{
			name:  "flow mapping after unicode",
			files: map[string]string{"compose.yaml": "services:\n  bot: {labels: {名前: 麦麦}, image: reg/bot:1.0.0, restart: always}\n"},
			want:  map[string]string{"bot": "reg/bot:2.0.0"},
			after: map[string]string{"compose.yaml": "services:\n  bot: {labels: {名前: 麦麦}, image: reg/bot:2.0.0, restart: always}\n"},
			what:  "image", line: 2,
		},
		{
			name: "override file sets it: the override is edited",
			files: map[string]string{
				"compose.yaml":          "services:\n  bot:\n    image: reg/bot:1.0.0\n",
				"compose.override.yaml": "services:\n  bot:\n    image: reg/bot:1.1.0 # local\n",
			},
			compose: []string{"compose.yaml", "compose.override.yaml"},
			want:    map[string]string{"bot": "reg/bot:2.0.0"},
			after:   map[string]string{"compose.override.yaml": "services:\n  bot:\n    image: reg/bot:2.0.0 # local\n"},
			what:    "image", line: 3,
		},
		{
			name: "override file without image: the base is edited",
			files: map[string]string{
				"compose.yaml": "services:\n  bot:\n    image: reg/bot:1.0.0\n",
				"prod.yaml":    "services:\n  bot:\n    restart: always\n",
			},
			compose: []string{"compose.yaml", "prod.yaml"},
			want:    map[string]string{"bot": "reg/bot:2.0.0"},
			after:   map[string]string{"compose.yaml": "services:\n  bot:\n    image: reg/bot:2.0.0\n"},
			what:    "image", line: 3,
		},
		{
			name: "tag from .env",
			files: map[string]string{
				"compose.yaml": "services:\n  bot:\n    image: reg/bot:${BOT_TAG}\n",
				".env":         "# versions\nOTHER=x\nexport BOT_TAG=1.0.0 # the bot\r\nLAST=1\n",
			},
			want:  map[string]string{"bot": "reg/bot:2.0.0"},
			after: map[string]string{".env": "# versions\nOTHER=x\nexport BOT_TAG=2.0.0 # the bot\r\nLAST=1\n"},
			what:  "variable BOT_TAG", line: 3,
		},
		{
			name: "quoted value in .env, set twice: the last wins",
			files: map[string]string{
				"compose.yaml": "services:\n  bot:\n    image: \"reg/bot:${BOT_TAG:-0.9}\"\n",
				".env":         "BOT_TAG=0.1\nBOT_TAG = \"1.0.0\"\n",
			},
			want:  map[string]string{"bot": "reg/bot:2.0.0"},
			after: map[string]string{".env": "BOT_TAG=0.1\nBOT_TAG = \"2.0.0\"\n"},
			what:  "variable BOT_TAG", line: 2,
		},
		{
			name: "whole image in a variable",
			files: map[string]string{
				"compose.yaml": "services:\n  bot:\n    image: ${IMAGE}\n",
				".env":         "IMAGE='reg/bot:1.0.0'\n",
			},
			want:  map[string]string{"bot": "other.example/bot@sha256:abc"},
			after: map[string]string{".env": "IMAGE='other.example/bot@sha256:abc'\n"},
			what:  "variable IMAGE", line: 1,
		},
		{
			// MaiBot-like: the tag written in the image line, the registry from a variable.
			name: "registry from a variable, tag written: the tag is edited, the variable kept",
			files: map[string]string{
				"compose.yaml": "services:\n  core:\n    image: ${REG}/maibot:1.0.0 # 改版本号\n  napcat:\n    image: ${REG}/napcat:1.0.0\n",
				".env":         "REG=reg.example\n",
			},
			want:  map[string]string{"core": "reg.example/maibot:2.0.0"},
			after: map[string]string{"compose.yaml": "services:\n  core:\n    image: ${REG}/maibot:2.0.0 # 改版本号\n  napcat:\n    image: ${REG}/napcat:1.0.0\n"},
			what:  "image", line: 3,
		},
		{
			// mastodon-like: the image is in a mapping merged into several services; its tag
			// variable is set in .env, so the mapping's bytes stay.
			name: "shared merged mapping, tag from .env: the variable is edited",
			files: map[string]string{
				"compose.yaml": "x-app: &app\n  image: reg/app:${V:-1}\nservices:\n  web:\n    <<: *app\n  worker:\n    <<: *app\n",
				".env":         "V=1\n",
			},
			want:  map[string]string{"web": "reg/app:2", "worker": "reg/app:2"},
			after: map[string]string{".env": "V=2\n"},
			what:  "variable V", line: 1,
		},
		{
			name:  "unset with a default: the default is edited",
			files: map[string]string{"compose.yaml": "services:\n  bot:\n    image: reg/bot:${BOT_TAG:-1.0.0} # default\n"},
			want:  map[string]string{"bot": "reg/bot:2.0.0"},
			after: map[string]string{"compose.yaml": "services:\n  bot:\n    image: reg/bot:${BOT_TAG:-2.0.0} # default\n"},
			what:  "default of BOT_TAG", line: 3,
		},
		{
			name: "explicit env files: the last one that sets it",
			files: map[string]string{
				"compose.yaml": "services:\n  bot:\n    image: ${REG}/bot:${TAG}\n",
				".env":         "TAG=9.9.9\n",
				"a.env":        "REG=reg\nTAG=1.0.0\n",
				"b.env":        "TAG=1.1.0\n",
				"c.env":        "NOTHING=1\n",
			},
			env:   []string{"a.env", "b.env", "c.env"},
			want:  map[string]string{"bot": "reg/bot:2.0.0"},
			after: map[string]string{"b.env": "TAG=2.0.0\n"},
			what:  "variable TAG", line: 1,
		},
		{
			name:  "alias of an anchor under an extension key, used once",
			files: map[string]string{"compose.yaml": "x-images:\n  bot: &bot reg/bot:1.0.0\nservices:\n  bot:\n    image: *bot\n"},
			want:  map[string]string{"bot": "reg/bot:2.0.0"},
			after: map[string]string{"compose.yaml": "x-images:\n  bot: &bot reg/bot:2.0.0\nservices:\n  bot:\n    image: *bot\n"},
			what:  "image", line: 2,
		},
		{
			name: "two services share the variable and both move",
			files: map[string]string{
				"compose.yaml": "services:\n  bot:\n    image: reg/bot:${TAG}\n  worker:\n    image: reg/worker:${TAG}\n",
				".env":         "TAG=1.0.0\n",
			},
			want:  map[string]string{"bot": "reg/bot:2.0.0", "worker": "reg/worker:2.0.0"},
			after: map[string]string{".env": "TAG=2.0.0\n"},
			what:  "variable TAG", line: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tree(t, tc.files)
			src := Sources{Shell: noShell}
			if tc.shell != nil {
				src.Shell = func(k string) (string, bool) { v, ok := tc.shell[k]; return v, ok }
			}
			cf := tc.compose
			if cf == nil {
				cf = []string{"compose.yaml"}
			}
			for _, f := range cf {
				src.ComposeFiles = append(src.ComposeFiles, filepath.Join(dir, f))
			}
			ef := tc.env
			if ef == nil {
				if _, ok := tc.files[".env"]; ok {
					ef = []string{".env"}
				}
			}
			for _, f := range ef {
				src.EnvFiles = append(src.EnvFiles, filepath.Join(dir, f))
			}
			edits, err := Plan(src, tc.want)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if len(edits) != 1 {
				t.Fatalf("want one edit, got %+v", edits)
			}
			e := edits[0]
			if e.What != tc.what || e.Line != tc.line {
				t.Errorf("edit %s, want %s at line %d", e.Describe(dir), tc.what, tc.line)
			}
			t.Log(e.Describe(dir))
			if err := Apply(edits); err != nil {
				t.Fatal(err)
			}
			for name, body := range tc.files {
				want := body
				if a, ok := tc.after[name]; ok {
					want = a
				}
				if got := read(t, filepath.Join(dir, name)); got != want {
					t.Errorf("%s:\n got %q\nwant %q", name, got, want)
				}
			}
			if fi, err := os.Stat(e.File); err != nil || fi.Mode().Perm() != 0o640 {
				t.Errorf("%s mode after the edit: %v %v", e.File, fi.Mode(), err)
			}
			// Nothing left to do: the files name what was wanted.
			if again, err := Plan(src, tc.want); err != nil || len(again) != 0 {
				t.Errorf("after Apply, Plan gives %+v, %v", again, err)
			}
		})
	}
}

// TestPlanRefuses: what cannot be written as a minimal edit is an error that says why,
// and no edit is returned for it.
func TestPlanRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		shell map[string]string
		want  map[string]string
		why   string
	}{
		{"shared alias", map[string]string{"compose.yaml": "services:\n  bot:\n    image: &img reg/bot:1.0.0\n  worker:\n    image: *img\n"},
			nil, map[string]string{"worker": "reg/bot:2.0.0"}, "alias *img"},
		{"anchor others use", map[string]string{"compose.yaml": "services:\n  bot:\n    image: &img reg/bot:1.0.0\n  worker:\n    image: *img\n"},
			nil, map[string]string{"bot": "reg/bot:2.0.0"}, "anchor &img"},
		{"merge key shared", map[string]string{"compose.yaml": "x-base: &base\n  image: reg/bot:1.0.0\nservices:\n  bot:\n    <<: *base\n  worker:\n    <<: *base\n"},
			nil, map[string]string{"bot": "reg/bot:2.0.0"}, "mapping &base"},
		{"variable set in the shell", map[string]string{"compose.yaml": "services:\n  bot:\n    image: reg/bot:${TAG}\n", ".env": "TAG=1.0.0\n"},
			map[string]string{"TAG": "1.0.0"}, map[string]string{"bot": "reg/bot:2.0.0"}, "environment of this shell"},
		{"another repository than the template allows", map[string]string{"compose.yaml": "services:\n  bot:\n    image: reg/bot:${TAG}\n", ".env": "TAG=1.0.0\n"},
			nil, map[string]string{"bot": "other/bot:2.0.0"}, "cannot be written by changing one variable"},
		{"registry from a variable, another repository", map[string]string{"compose.yaml": "services:\n  bot:\n    image: ${REG}/bot:1.0.0\n", ".env": "REG=reg\n"},
			nil, map[string]string{"bot": "other/bot:2.0.0"}, "one literal part"},
		{"shared merged mapping, tag from .env, one service", map[string]string{"compose.yaml": "x-app: &app\n  image: reg/app:${V:-1}\nservices:\n  web:\n    <<: *app\n  worker:\n    <<: *app\n", ".env": "V=1\n"},
			nil, map[string]string{"web": "reg/app:2"}, "worker would name"},
		{"shared merged mapping, default edited", map[string]string{"compose.yaml": "x-app: &app\n  image: reg/app:${V:-1}\nservices:\n  web:\n    <<: *app\n  worker:\n    <<: *app\n"},
			nil, map[string]string{"web": "reg/app:2", "worker": "reg/app:2"}, "mapping &app"},
		{"variable shared with a service that stays", map[string]string{"compose.yaml": "services:\n  bot:\n    image: reg/bot:${TAG}\n  worker:\n    image: reg/worker:${TAG}\n", ".env": "TAG=1.0.0\n"},
			nil, map[string]string{"bot": "reg/bot:2.0.0"}, "worker would name"},
		{"unset without default", map[string]string{"compose.yaml": "services:\n  bot:\n    image: reg/bot:${TAG}\n"},
			map[string]string{}, map[string]string{"bot": "reg/bot:2.0.0"}, "no default"},
		{"block scalar", map[string]string{"compose.yaml": "services:\n  bot:\n    image: >-\n      reg/bot:1.0.0\n"},
			nil, map[string]string{"bot": "reg/bot:2.0.0"}, "block scalar"},
		{"escapes in a quoted value", map[string]string{"compose.yaml": "services:\n  bot:\n    image: \"reg/bot:\\x31.0\"\n"},
			nil, map[string]string{"bot": "reg/bot:2.0.0"}, "escapes"},
		{"no image in any file", map[string]string{"compose.yaml": "services:\n  bot:\n    build: .\n"},
			nil, map[string]string{"bot": "reg/bot:2.0.0"}, "sets services.bot.image"},
		{"env value itself interpolated", map[string]string{"compose.yaml": "services:\n  bot:\n    image: reg/bot:${TAG}\n", ".env": "V=1.0.0\nTAG=${V}\n"},
			nil, map[string]string{"bot": "reg/bot:2.0.0"}, "uses variables"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tree(t, tc.files)
			src := Sources{ComposeFiles: []string{filepath.Join(dir, "compose.yaml")}, Shell: noShell}
			if tc.shell != nil {
				src.Shell = func(k string) (string, bool) { v, ok := tc.shell[k]; return v, ok }
			}
			if _, ok := tc.files[".env"]; ok {
				src.EnvFiles = []string{filepath.Join(dir, ".env")}
			}
			edits, err := Plan(src, tc.want)
			if err == nil || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("Plan: %v (edits %+v), want an error saying %q", err, edits, tc.why)
			}
			if len(edits) != 0 {
				t.Errorf("edits despite the error: %+v", edits)
			}
			t.Log(err)
		})
	}
}

// TestPlanInactiveProfile: a service under a profile nobody enabled shares the tag
// variable (mastodon's es): it moves with the variable instead of blocking the edit; when it
// is active it blocks it.
func TestPlanInactiveProfile(t *testing.T) {
	dir := tree(t, map[string]string{
		"compose.yaml": "services:\n  web:\n    image: reg/app:${V}\n  es:\n    image: reg/app:${V}\n    profiles: [search]\n",
		".env":         "V=2\n",
	})
	src := Sources{ComposeFiles: []string{filepath.Join(dir, "compose.yaml")}, EnvFiles: []string{filepath.Join(dir, ".env")}, Shell: noShell}
	if _, err := Plan(src, map[string]string{"web": "reg/app:1"}); err == nil || !strings.Contains(err.Error(), "es would name") {
		t.Errorf("es active: want a refusal naming es, got %v", err)
	}
	src.Inactive = []string{"es"}
	edits, err := Plan(src, map[string]string{"web": "reg/app:1"})
	if err != nil || len(edits) != 1 || edits[0].What != "variable V" || edits[0].New != "1" {
		t.Fatalf("es inactive: %+v, %v", edits, err)
	}
}

// TestPlanPartial: a service that cannot be edited does not stop the edit of another;
// one that already names its reference needs none.
func TestPlanPartial(t *testing.T) {
	dir := tree(t, map[string]string{"compose.yaml": "services:\n  a:\n    image: &x reg/a:1\n  b:\n    image: *x\n  c:\n    image: reg/c:1\n  d:\n    image: reg/d:1\n"})
	src := Sources{ComposeFiles: []string{filepath.Join(dir, "compose.yaml")}, Shell: noShell}
	edits, err := Plan(src, map[string]string{"b": "reg/a:2", "c": "reg/c:2", "d": "reg/d:1"})
	if err == nil || !strings.Contains(err.Error(), "b: ") {
		t.Errorf("want an error for b, got %v", err)
	}
	if len(edits) != 1 || edits[0].Services[0] != "c" || edits[0].New != "reg/c:2" {
		t.Fatalf("edits %+v", edits)
	}
}

// TestApplyRefusesChangedFile: a file that changed since the plan is left alone.
func TestApplyRefusesChangedFile(t *testing.T) {
	dir := tree(t, map[string]string{"compose.yaml": "services:\n  bot:\n    image: reg/bot:1.0.0\n"})
	p := filepath.Join(dir, "compose.yaml")
	edits, err := Plan(Sources{ComposeFiles: []string{p}, Shell: noShell}, map[string]string{"bot": "reg/bot:2.0.0"})
	if err != nil || len(edits) != 1 {
		t.Fatal(edits, err)
	}
	changed := "services:\n  bot:\n    image: reg/bot:1.5.0\n"
	if err := os.WriteFile(p, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Apply(edits); err == nil {
		t.Fatal("Apply wrote over a file that changed since the plan")
	}
	if got := read(t, p); got != changed {
		t.Errorf("the file was touched: %q", got)
	}
}

func TestParseTemplate(t *testing.T) {
	parts, err := parseTemplate("$$x/${REG:-r.io}/$NAME:${TAG}")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range parts {
		if p.name == "" {
			got = append(got, "lit:"+p.lit)
		} else {
			got = append(got, p.name+p.op+p.arg)
		}
	}
	if strings.Join(got, "|") != "lit:$x/|REG:-r.io|lit:/|NAME|lit::|TAG" {
		t.Errorf("parts %v", got)
	}
	for _, bad := range []string{"${A:-${B}}", "${", "a$", "${1x}"} {
		if _, err := parseTemplate(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
