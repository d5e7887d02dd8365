package journal

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/docker-maim/docker-maim/internal/backup"
)

// TestFinishAdoptRenames: a journal that says the renames began completes them forward
// (found by project name, or by working dir without one); a journal of another dir, or
// one whose renames had not begun, is left alone.
func TestFinishAdoptRenames(t *testing.T) {
	dir := t.TempDir()
	main, over := filepath.Join(dir, "compose.yaml"), filepath.Join(dir, "compose.override.yaml")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	state := backup.State{Dir: t.TempDir()}
	j := Journals{State: state, Project: "demo"}
	for _, tc := range []struct {
		what      string
		renaming  bool
		name, wd  string
		wantFound bool
	}{
		{"by name", true, "demo", "", true},
		{"by dir", true, "", dir, true},
		{"other dir", true, "", t.TempDir(), false},
		{"not renaming yet", false, "demo", "", false},
	} {
		write(main, "new main")     // renamed before the kill
		write(over, "old override") // not yet
		write(over+NewSuffix, "new override")
		jr := &Journal{Op: "upgrade", Project: "demo", Phase: PhaseAdopting, WorkingDir: dir, Adopt: &AdoptRenames{Files: []string{main, over}, Renaming: tc.renaming}}
		if err := j.Save(jr); err != nil {
			t.Fatal(err)
		}
		found, err := FinishAdoptRenames(state, tc.name, tc.wd)
		if err != nil || found != tc.wantFound {
			t.Fatalf("%s: found %v, %v; want %v", tc.what, found, err, tc.wantFound)
		}
		b, _ := os.ReadFile(over)
		if want := map[bool]string{true: "new override", false: "old override"}[tc.wantFound]; string(b) != want {
			t.Errorf("%s: override %q, want %q", tc.what, b, want)
		}
		if _, err := os.Stat(over + NewSuffix); tc.wantFound && err == nil {
			t.Errorf("%s: the merged file is still beside the override", tc.what)
		}
	}
}
