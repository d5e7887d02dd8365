package snapshot

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/fsaccess"
	"github.com/docker-maim/docker-maim/internal/project"
)

func names(srcs []project.Source) []string {
	var out []string
	for _, s := range srcs {
		out = append(out, s.Name)
	}
	return out
}

func bnames(srcs []backup.Source) []string {
	var out []string
	for _, s := range srcs {
		out = append(out, s.Name)
	}
	return out
}

func TestFilterSources(t *testing.T) {
	srcs := []project.Source{{Name: "data"}, {Name: "./cfg"}, {Name: "anon:db:/x"}, {Name: "file:compose.yaml"}}
	got := filterSources(append([]project.Source(nil), srcs...), []string{"file:compose.yaml", "data", "nope"})
	if want := []string{"data", "file:compose.yaml"}; !reflect.DeepEqual(names(got), want) {
		t.Fatalf("filterSources = %v, want %v (source order kept, unknown names ignored)", names(got), want)
	}
	if got := filterSources(append([]project.Source(nil), srcs...), []string{"zzz"}); len(got) != 0 {
		t.Fatalf("no match: %v", names(got))
	}
}

func bsrc(name, host string) backup.Source {
	return backup.Source{Source: project.Source{Name: name, HostPath: host}}
}

func TestSortedSourcesParentsFirstStable(t *testing.T) {
	in := []backup.Source{
		bsrc("deep", "/p/data/sub/x"),
		bsrc("vol-b", ""),
		bsrc("data", "/p/data"),
		bsrc("vol-a", ""),
		bsrc("sub", "/p/data/sub"),
		bsrc("file:compose.yaml", "/p/compose.yaml"),
	}
	orig := append([]backup.Source(nil), in...)
	got := sortedSources(in)
	if want := []string{"vol-b", "vol-a", "data", "sub", "deep", "file:compose.yaml"}; !reflect.DeepEqual(bnames(got), want) {
		t.Fatalf("sortedSources = %v, want %v", bnames(got), want)
	}
	if !reflect.DeepEqual(in, orig) {
		t.Fatal("sortedSources changed its input")
	}
	pos := map[string]int{}
	for i, s := range got {
		pos[s.Name] = i
	}
	for _, s := range got {
		for _, p := range got {
			if p.HostPath != "" && s.HostPath != "" && s.Name != p.Name && project.Within(s.HostPath, p.HostPath) && pos[p.Name] > pos[s.Name] {
				t.Errorf("%s is restored before its parent %s", s.Name, p.Name)
			}
		}
	}
}

func TestSelectSources(t *testing.T) {
	m := &backup.Manifest{ID: "20261125T221530Z", Sources: []backup.Source{
		bsrc("./data/sub", "/p/data/sub"), bsrc("data-vol", ""), bsrc("./data", "/p/data"), bsrc("file:.env", "/p/.env"),
	}}
	all, err := selectSources(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"data-vol", "./data", "file:.env", "./data/sub"}; !reflect.DeepEqual(bnames(all), want) {
		t.Fatalf("all = %v, want %v", bnames(all), want)
	}
	some, err := selectSources(m, []string{"./data/sub", "./data"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"./data", "./data/sub"}; !reflect.DeepEqual(bnames(some), want) {
		t.Fatalf("selected = %v, want %v (parents first)", bnames(some), want)
	}
	_, err = selectSources(m, []string{"data-vol", "ghost"})
	if err == nil {
		t.Fatal("an unknown source name must be an error")
	}
	for _, want := range []string{`"ghost"`, m.ID, "./data/sub, data-vol, ./data, file:.env"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestAddExtraFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"config/bot.toml", "model.toml", "data/inside.toml"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x = 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(t.TempDir(), "elsewhere.toml")
	_ = os.WriteFile(outside, []byte("y = 2\n"), 0o644)
	p := &project.Project{Project: &types.Project{Name: "demo", WorkingDir: dir}}
	srcs := []project.Source{
		{Name: "./data", Kind: project.KindBindDir, HostPath: filepath.Join(dir, "data")},
		{Name: "./model.toml", Kind: project.KindBindFile, HostPath: filepath.Join(dir, "model.toml")},
		{Name: "vol", Kind: project.KindVolume, VolumeName: "demo_vol"},
	}
	got := addExtraFiles(p, srcs, []string{
		filepath.Join(dir, "data/inside.toml"), // inside a bind dir: already archived
		filepath.Join(dir, "model.toml"),       // the bind file itself: already archived
		filepath.Join(dir, "config/bot.toml"),  // new
		filepath.Join(dir, "config/new.toml"),  // missing: a file the upgrade will create
		filepath.Join(dir, "config"),           // a directory: not a file
		outside,                                // outside the project: absolute name
	})
	want := []project.Source{
		srcs[0], srcs[1], srcs[2],
		{Name: "file:config/bot.toml", Kind: project.KindProjectFile, HostPath: filepath.Join(dir, "config/bot.toml")},
		{Name: "file:" + outside, Kind: project.KindProjectFile, HostPath: outside},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("addExtraFiles =\n%+v\nwant\n%+v", got, want)
	}
	if got := addExtraFiles(p, nil, nil); len(got) != 0 {
		t.Fatalf("nothing extra: %v", got)
	}
}

type notFoundErr struct{}

func (notFoundErr) Error() string { return "gone" }
func (notFoundErr) NotFound()     {}

func TestIsNotFound(t *testing.T) {
	if !isNotFound(notFoundErr{}) || !isNotFound(errors.Join(errors.New("x"), notFoundErr{})) {
		t.Error("a NotFound() error is not found")
	}
	if !isNotFound(errors.New("Error response from daemon: get demo_data: No such volume: demo_data")) {
		t.Error("the engine's 'No such volume' text is not found")
	}
	if isNotFound(errors.New("permission denied")) {
		t.Error("permission denied is not 'not found'")
	}
}

func TestHostBackupRestoreRoundTrip(t *testing.T) {
	for _, c := range []archive.Compression{archive.Zstd, archive.Gzip, archive.None} {
		t.Run(string(c), func(t *testing.T) {
			dir := t.TempDir()
			f := filepath.Join(dir, "compose.yaml")
			orig := []byte("services:\n  app:\n    image: app:1\n")
			if err := os.WriteFile(f, orig, 0o640); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			var progressed int64
			st, err := hostBackup(context.Background(), f, fileBeneath(f, dir), &buf, c, 0, func(n int64) { progressed += n })
			if err != nil {
				t.Fatal(err)
			}
			if st.Files != 1 || st.Bytes != int64(len(orig)) || progressed != int64(len(orig)) {
				t.Fatalf("stats %+v, progress %d", st, progressed)
			}
			if err := os.WriteFile(f, []byte("services: {}\n# edited by an upgrade\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			rst, err := hostRestore(context.Background(), f, fileBeneath(f, dir), &buf, c, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rst.Bytes != st.Bytes || rst.Entries != st.Entries {
				t.Errorf("restore stats %+v, backup stats %+v", rst, st)
			}
			got, _ := os.ReadFile(f)
			if !bytes.Equal(got, orig) {
				t.Fatalf("restored %q, want %q", got, orig)
			}
			if fi, _ := os.Stat(f); fi.Mode().Perm() != 0o640 {
				t.Errorf("restored mode %o, want 640", fi.Mode().Perm())
			}
		})
	}
}

// A project file (the env file) swapped for a symlink leading out of the project after the
// plan is neither read into the backup nor written through by a restore; a link inside the
// project is followed.
func TestHostFileLinkOutOfProject(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "proj")
	outside := filepath.Join(base, "authorized_keys")
	env := filepath.Join(dir, ".env")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(env, []byte("A=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(outside, []byte("SECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var good bytes.Buffer
	if _, err := hostBackup(context.Background(), env, fileBeneath(env, dir), &good, archive.None, 0, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(env); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, env); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, err := hostBackup(context.Background(), env, fileBeneath(env, dir), &buf, archive.None, 0, nil)
	var esc *fsaccess.EscapeError
	if !errors.As(err, &esc) || bytes.Contains(buf.Bytes(), []byte("SECRET")) {
		t.Fatalf("backup through a link out of the project: %v (archive holds the outside file: %v)", err, bytes.Contains(buf.Bytes(), []byte("SECRET")))
	}
	if _, err := hostRestore(context.Background(), env, fileBeneath(env, dir), bytes.NewReader(good.Bytes()), archive.None, nil); !errors.As(err, &esc) {
		t.Fatalf("restore through a link out of the project: %v", err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "SECRET\n" {
		t.Fatalf("the outside file was written: %q", b)
	}
}
