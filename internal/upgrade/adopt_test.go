package upgrade

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/project"
)

// An adoption whose adopt phase fails (the merged file cannot be written) rolls back from
// the backup: the compose file byte for byte, the data, the old image; the history says
// rolled-back and the dry run listed the adopt phase the upgrade ran.
func TestUpgradeAdoptPhaseFailureRollsBack(t *testing.T) {
	r := newTxRig(t)
	file := filepath.Join(r.dir, "compose.yaml")
	before := r.read("compose.yaml")
	newFile := NewFile{Name: "new.yaml", Data: []byte("services:\n  bot:\n    image: bot:latest\n  db:\n    image: db:16\n")}
	opts := Options{Health: fastHealth, ComposeFiles: []NewFile{newFile}}

	dry := opts
	dry.DryRun = true
	res, err := r.m.Upgrade(context.Background(), r.p, dry)
	if err != nil || res.Outcome != OutcomeDryRun || res.Plan.Adoption == nil {
		t.Fatalf("dry run = %+v, %v", res, err)
	}
	if got := res.Plan.Adoption.Files[0]; got.File != file || got.Report.Mode != "two-way" || got.Diff == "" {
		t.Errorf("planned adoption %+v", got)
	}
	var listed []string
	for _, ph := range res.Plan.Phases {
		if !ph.Skipped {
			listed = append(listed, ph.Name)
		}
	}
	if !slices.Contains(listed, "adopt") {
		t.Fatalf("the dry run does not list adopt: %q", listed)
	}

	// The merged file's temporary name is taken by a directory: the write fails.
	if err := os.Mkdir(file+".maim-new", 0o755); err != nil {
		t.Fatal(err)
	}
	res, err = r.m.Upgrade(context.Background(), r.p, opts)
	var ue *Error
	if !errors.As(err, &ue) || ue.Outcome != OutcomeRolledBack || res.Outcome != OutcomeRolledBack {
		t.Fatalf("Upgrade = %+v, %v; want rolled back", res, err)
	}
	if !slices.Contains(r.m.phasesRun, "adopt") || slices.Contains(r.m.phasesRun, "recreate") {
		t.Errorf("phases run %q: want the failure in adopt", r.m.phasesRun)
	}
	if got := r.read("compose.yaml"); got != before {
		t.Errorf("compose.yaml %q after the rollback, want %q", got, before)
	}
	if d := r.dataNow(); d != "v1" {
		t.Errorf("data %q after the rollback", d)
	}
	if h := r.history(); len(h) == 0 || h[len(h)-1].Result != string(OutcomeRolledBack) {
		t.Errorf("history %+v", h)
	}
	if r.journal() != nil {
		t.Error("journal left behind")
	}
}

// --compose-file is refused before anything is pulled when it cannot replace the project's
// files positionally, or with --image.
func TestUpgradeAdoptRefusals(t *testing.T) {
	r := newTxRig(t)
	nf := NewFile{Name: "new.yaml", Data: []byte("services: {}\n")}
	for name, opts := range map[string]Options{
		"more files":  {ComposeFiles: []NewFile{nf, nf}},
		"base count":  {ComposeFiles: []NewFile{nf}, Base: []NewFile{nf, nf}},
		"with images": {ComposeFiles: []NewFile{nf}, Images: map[string]string{"bot": "bot:2"}},
	} {
		_, err := r.m.Upgrade(context.Background(), r.p, opts)
		var ue *Error
		if !errors.As(err, &ue) || ue.Outcome != OutcomeRefused {
			t.Errorf("%s: %v, want refused", name, err)
		}
	}
	for _, c := range r.eng.Calls() {
		t.Errorf("a refused adoption called the engine: %s", c)
	}
}

func TestBindKind(t *testing.T) {
	for _, tc := range []struct {
		src, target string
		old         bool
		want        string
	}{
		{"/p/config.toml", "/app/config.toml", false, "file"},
		{"/p/data", "/app/data", false, "dir"},
		{"/p/mmc/.env", "/MaiMBot/.env", false, "file"},
		{"/p/ssh", "/root/.ssh", false, "dir"},
		{"/p/conf", "/etc/app.conf", false, "file"},
		{"/p/settings", "/app/settings", true, "file"},
	} {
		if got := bindKind(tc.src, tc.target, tc.old); got.Kind != tc.want {
			t.Errorf("bindKind(%s, %s, %v) = %+v, want %s", tc.src, tc.target, tc.old, got, tc.want)
		}
	}
}

// TestCheckRelease: a release's file that cannot be one is refused before the merge (it
// would remove every service): empty (a failed download piped in), not a mapping, or a main
// file without services. An override file may declare none.
func TestCheckRelease(t *testing.T) {
	for _, tc := range []struct {
		data string
		main bool
		want string
	}{
		{"", true, "is empty"},
		{"# nothing here\n\n", true, "is empty"},
		{"- a\n- b\n", true, "not a YAML mapping"},
		{"<html>404</html>\n", true, "not a YAML mapping"},
		{"volumes:\n  data: {}\n", true, "declares no services"},
		{"services: {}\n", true, "declares no services"},
		{"volumes:\n  data: {}\n", false, ""},
		{"services:\n  bot:\n    image: bot:2\n", true, ""},
	} {
		err := checkRelease(NewFile{Name: "-", Data: []byte(tc.data)}, tc.main)
		if (err == nil) != (tc.want == "") || (err != nil && (!strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "(stdin)"))) {
			t.Errorf("checkRelease(%q, main=%v) = %v, want %q", tc.data, tc.main, err, tc.want)
		}
	}
}

// TestCheckProjectName: an adoption after which the files would give the project another
// name (as compose derives it without -p) is refused, naming both; the same name passes.
// The merge keeps the user's name: (composemerge), so the merged files here are written
// by hand; the loader honours a file's top-level name: as compose does.
func TestCheckProjectName(t *testing.T) {
	r := newTxRig(t)
	r.m.Load = func(_ context.Context, o project.Options) (*project.Project, error) {
		p := r.model()
		p.Name = "demo"
		for _, f := range o.Files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			if n, ok := strings.CutPrefix(strings.SplitN(string(b), "\n", 2)[0], "name: "); ok {
				p.Name = n
			}
		}
		if o.Name != "" {
			p.Name = o.Name
		}
		return p, nil
	}
	file := filepath.Join(r.dir, "compose.yaml")
	same := []AdoptedFile{{File: file, Merged: []byte("services: {}\n")}}
	if err := r.m.checkProjectName(context.Background(), r.p, same); err != nil {
		t.Errorf("same name: %v", err)
	}
	moved := []AdoptedFile{{File: file, Merged: []byte("name: maibot\nservices: {}\n")}}
	err := r.m.checkProjectName(context.Background(), r.p, moved)
	if err == nil || !strings.Contains(err.Error(), `from "demo" to "maibot"`) {
		t.Errorf("moved: %v, want a refusal naming both names", err)
	}
}
