package composefile

import (
	"path/filepath"
	"strings"
	"testing"
)

// loadTree writes the files (compose.yaml, and .env when given) and loads them.
func loadTree(t *testing.T, files map[string]string) *state {
	t.Helper()
	dir := tree(t, files)
	src := Sources{ComposeFiles: []string{filepath.Join(dir, "compose.yaml")}, Shell: noShell}
	if _, ok := files[".env"]; ok {
		src.EnvFiles = []string{filepath.Join(dir, ".env")}
	}
	st, err := load(src)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestImageValue: the image value as written, where it is, what each part and the whole
// stand for now, how many variables it uses, and whether its bytes are shared.
func TestImageValue(t *testing.T) {
	st := loadTree(t, map[string]string{
		"compose.yaml": "services:\n  bot:\n    image: &img \"reg/${APP:-bot}:${TAG}\"\n  worker:\n    image: *img\n",
		".env":         "TAG=1\n",
	})
	v, err := st.imageValue("bot")
	if err != nil {
		t.Fatal(err)
	}
	if v.text != "reg/${APP:-bot}:${TAG}" || v.cur != "reg/bot:1" || v.exprs != 2 || strings.Join(v.vals, "|") != "reg/|bot|:|1" {
		t.Errorf("value %q stands for %q (%q), %d variables", v.text, v.cur, v.vals, v.exprs)
	}
	if !strings.HasPrefix(string(v.f.b[v.at:]), "reg/${APP") {
		t.Errorf("offset %d points at %q", v.at, v.f.b[v.at:])
	}
	if v.shared == nil || !strings.Contains(v.shared.Error(), "anchor &img") {
		t.Errorf("shared %v: want the anchor another service uses", v.shared)
	}
	if _, err := st.imageValue("nobody"); err == nil || !strings.Contains(err.Error(), "services.nobody.image") {
		t.Errorf("a service without an image: %v", err)
	}
}

// TestStandsFor: what one part must stand for so that the whole stands for a reference,
// the other parts as they are.
func TestStandsFor(t *testing.T) {
	st := loadTree(t, map[string]string{"compose.yaml": "services:\n  bot:\n    image: ${REG}/bot:1.0\n", ".env": "REG=reg\n"})
	v, err := st.imageValue("bot")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		k      int
		ref    string
		want   string
		stands bool
	}{
		{0, "other/bot:1.0", "other", true},
		{1, "reg/bot:2.0", "/bot:2.0", true},
		{1, "re", "", false},
		{0, "reg/app:1.0", "", false},
	} {
		got, ok := v.standsFor(tc.k, tc.ref)
		if got != tc.want || ok != tc.stands {
			t.Errorf("standsFor(%d, %q) = %q, %v; want %q, %v", tc.k, tc.ref, got, ok, tc.want, tc.stands)
		}
	}
}

// TestEditForOrder: a variable first, else a literal next to the variables, else the
// whole value when it has none; nothing when the value names the reference already.
func TestEditForOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]string
		ref     string
		what    string
		newText string
	}{
		{"a variable", map[string]string{"compose.yaml": "services:\n  bot:\n    image: reg/bot:${TAG}\n", ".env": "TAG=1\n"},
			"reg/bot:2", "variable TAG", "2"},
		{"the literal beside a variable", map[string]string{"compose.yaml": "services:\n  bot:\n    image: ${REG}/bot:1\n", ".env": "REG=reg\n"},
			"reg/bot:2", "image", "${REG}/bot:2"},
		{"the whole value", map[string]string{"compose.yaml": "services:\n  bot:\n    image: reg/bot:1\n"},
			"reg/bot:2", "image", "reg/bot:2"},
		{"already there", map[string]string{"compose.yaml": "services:\n  bot:\n    image: reg/bot:${TAG}\n", ".env": "TAG=2\n"},
			"reg/bot:2", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := loadTree(t, tc.files).editFor("bot", tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			if tc.what == "" {
				if e != nil {
					t.Fatalf("edit %+v, want none", e)
				}
				return
			}
			if e == nil || e.What != tc.what || e.New != tc.newText || e.NewRef != tc.ref || strings.Join(e.Services, ",") != "bot" {
				t.Fatalf("edit %+v, want %s -> %q", e, tc.what, tc.newText)
			}
		})
	}
}
