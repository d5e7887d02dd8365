package plugin

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/clihooks"
	"github.com/docker/cli/cli-plugins/hooks"
)

// TestHookAnswersWithinTenLines: every answer docker-maim gives fits docker CLI 29.5+'s
// limit, checked with the CLI's own parser (hooks.ParseTemplate), and a longer list of
// hints is cut to 10 lines rather than dropped whole by the CLI.
func TestHookAnswersWithinTenLines(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "proj")
	_ = os.MkdirAll(dir, 0o755)
	t.Setenv("COMPOSE_PROJECT_NAME", "")
	t.Setenv("COMPOSE_FILE", "")
	known := func() []string { return []string{"proj"} }
	answers := 0
	for _, root := range []string{"compose pull", "compose up", "compose down", "build"} {
		for _, cmdErr := range []string{"", "exit status 1"} {
			var b bytes.Buffer
			if err := writeHookAnswer(&b, hooks.Request{RootCmd: root, CommandError: cmdErr}, dir, known); err != nil {
				t.Fatal(err)
			}
			var r hooks.Response
			if err := json.Unmarshal(b.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			if r.Template == "" {
				continue
			}
			answers++
			lines, err := hooks.ParseTemplate(r.Template, nil)
			if err != nil || len(lines) > clihooks.MaxHintLines || strings.Count(r.Template, "\n") >= clihooks.MaxHintLines {
				t.Errorf("%s (error %q): %d lines, %v: %q", root, cmdErr, len(lines), err, r.Template)
			}
		}
	}
	if answers != 2 { // the pull hint and the failed up's
		t.Fatalf("%d answers, want 2", answers)
	}
	long := make([]string, 25)
	for i := range long {
		long[i] = "hint " + string(rune('a'+i))
	}
	long[3] = "two\nlines"
	tmpl := clihooks.HintTemplate(long)
	lines, err := hooks.ParseTemplate(tmpl, nil)
	if err != nil || len(lines) != clihooks.MaxHintLines || lines[0] != "hint a" || lines[4] != "lines" {
		t.Fatalf("25 hints: %q, %v", lines, err)
	}
	if got := clihooks.HintTemplate(nil); got != "" {
		t.Fatalf("no hints: %q", got)
	}
}
