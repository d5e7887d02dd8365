package helper

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker-maim/docker-maim/internal/diffrestore"
)

// TestDropStage: `diffstage --drop NAME PATH` removes that stage dir and nothing else; a
// name that is not a stage dir's (a user's own .maim-stage-foo) is refused, kept.
func TestDropStage(t *testing.T) {
	root := t.TempDir()
	name, err := diffrestore.NewStageName()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{name, ".maim-stage-foo"} {
		if err := os.MkdirAll(filepath.Join(root, d, "sub"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	var stderr bytes.Buffer
	if code := Run(context.Background(), []string{"diffstage", "--drop", name, root}, bytes.NewReader(nil), nil, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if _, err := os.Lstat(filepath.Join(root, name)); !os.IsNotExist(err) {
		t.Errorf("the stage dir is still there: %v", err)
	}
	stderr.Reset()
	if code := Run(context.Background(), []string{"diffstage", "--drop", ".maim-stage-foo", root}, bytes.NewReader(nil), nil, &stderr); code == 0 {
		t.Errorf("a user's dir was accepted as a stage: %s", stderr.String())
	}
	if _, err := os.Lstat(filepath.Join(root, ".maim-stage-foo/sub")); err != nil {
		t.Errorf("the user's dir was touched: %v", err)
	}
}

// TestStagedRecordFramed: the stage record diffrestore --staged-stdin reads after the
// go-ahead comes framed as WriteFramedBytes writes it; a forged name is refused.
func TestStagedRecordFramed(t *testing.T) {
	name, _ := diffrestore.NewStageName()
	rec, _ := (&diffrestore.Staged{Dir: name, Files: []diffrestore.StagedFile{{Path: "a", Name: "1"}}}).Marshal()
	var in bytes.Buffer
	in.WriteString(GoAhead)
	if err := WriteFramedBytes(&in, rec); err != nil {
		t.Fatal(err)
	}
	inv, err := parseArgs([]string{"diffrestore", "--await-go", "--staged-stdin", "--archive", "x", "/t"})
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if _, code := inv.preflight(&in, &reporter{w: &stderr}); code != 0 || inv.staged == nil || inv.staged.Dir != name {
		t.Fatalf("exit %d, staged %+v: %s", code, inv.staged, stderr.String())
	}
	bad, _ := (&diffrestore.Staged{Dir: "../x"}).Marshal()
	in.Reset()
	in.WriteString(GoAhead)
	_ = WriteFramedBytes(&in, bad)
	inv, _ = parseArgs([]string{"diffrestore", "--await-go", "--staged-stdin", "--archive", "x", "/t"})
	if _, code := inv.preflight(&in, &reporter{w: &stderr}); code == 0 {
		t.Error("a forged stage record was accepted")
	}
}
