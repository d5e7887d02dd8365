package main

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// reference is the checked-in reference, docs/reference in the module.
const reference = "../../docs/reference"

// TestReferenceIsUpToDate: docs/reference holds exactly the pages the commands generate,
// byte for byte; a changed help text, flag or example without `make docs` fails here.
func TestReferenceIsUpToDate(t *testing.T) {
	pages, err := render()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(reference, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range files {
		have[filepath.Base(f)] = true
	}
	var stale []string
	for _, name := range sortedNames(pages) {
		b, err := os.ReadFile(filepath.Join(reference, name))
		switch {
		case err != nil:
			stale = append(stale, name+" (missing)")
		case !bytes.Equal(b, pages[name]):
			stale = append(stale, name+" (differs: "+firstDiff(b, pages[name])+")")
		}
		delete(have, name)
	}
	for name := range have {
		stale = append(stale, name+" (no such command)")
	}
	if len(stale) > 0 {
		sort.Strings(stale)
		t.Errorf("docs/reference is out of date; run `make docs`:\n  %s", strings.Join(stale, "\n  "))
	}
}

// firstDiff is the first line where the checked-in page and the generated one differ.
func firstDiff(have, want []byte) string {
	h, w := strings.Split(string(have), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(h), len(w)); i++ {
		var a, b string
		if i < len(h) {
			a = h[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ": have " + quote(a) + ", want " + quote(b)
		}
	}
	return "?"
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return strconv.Quote(s)
}

func sortedNames(pages map[string][]byte) []string {
	var out []string
	for n := range pages {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// TestReferencePages: the pages say what the help says, once: each command's examples and
// options, the project options on the root's page only (a pointer on the others), and no
// page for the hidden hook command.
func TestReferencePages(t *testing.T) {
	pages, err := render()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"maim.md", "maim_backup.md", "maim_restore.md", "maim_upgrade.md", "maim_config_merge.md", "maim_hooks_enable.md"} {
		if pages[want] == nil {
			t.Errorf("no page %s among %v", want, sortedNames(pages))
		}
	}
	for name, b := range pages {
		page := string(b)
		if strings.Contains(name, "docker-cli-plugin") {
			t.Errorf("a page for a hidden command: %s", name)
		}
		if !strings.Contains(page, "## Examples\n\n```sh\n") {
			t.Errorf("%s has no examples", name)
		}
		if n := strings.Count(page, "`--project-name`"); name == "maim.md" && n != 1 || name != "maim.md" && n != 0 {
			t.Errorf("%s lists --project-name %d times", name, n)
		}
	}
	restore := string(pages["maim_restore.md"])
	for _, want := range []string{"docker maim restore [OPTIONS] [ID]", "| `--source`", "`SOURCE`", "docker maim restore --source botdata", "[docker maim](maim.md#options)"} {
		if !strings.Contains(restore, want) {
			t.Errorf("maim_restore.md lacks %q:\n%s", want, restore)
		}
	}
}
