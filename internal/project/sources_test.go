package project

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
)

func sourceByName(t *testing.T, srcs []Source, name string) Source {
	t.Helper()
	for _, s := range srcs {
		if s.Name == name {
			return s
		}
	}
	var names []string
	for _, s := range srcs {
		names = append(names, s.Name)
	}
	t.Fatalf("no source %q in %v", name, names)
	return Source{}
}

func sourceNames(srcs []Source) []string {
	var out []string
	for _, s := range srcs {
		out = append(out, s.Name)
	}
	return out
}

func TestSourcesNamedVolumes(t *testing.T) {
	p := loadYAML(t, `
services:
  app:
    image: app
    volumes:
      - data:/data
      - custom:/custom:ro
      - shared:/shared
  worker:
    image: worker
    volumes:
      - data:/work
volumes:
  data: {}
  custom:
    name: my-custom-volume
  shared:
    external: true
    name: the-shared-one
  unused: {}
`, nil)
	srcs, err := p.Sources(context.Background(), &fakeLister{})
	if err != nil {
		t.Fatal(err)
	}
	data := sourceByName(t, srcs, "data")
	if data.Kind != KindVolume || data.VolumeName != "demo_data" || data.VolumeKey != "data" || data.External || data.HostPath != "" {
		t.Errorf("data = %+v", data)
	}
	wantMounts := []Mount{{Service: "app", Target: "/data"}, {Service: "worker", Target: "/work"}}
	if !reflect.DeepEqual(data.Mounts, wantMounts) {
		t.Errorf("data mounts = %+v, want %+v", data.Mounts, wantMounts)
	}
	custom := sourceByName(t, srcs, "custom")
	if custom.VolumeName != "my-custom-volume" || custom.External {
		t.Errorf("custom = %+v", custom)
	}
	if len(custom.Mounts) != 1 || !custom.Mounts[0].ReadOnly {
		t.Errorf("custom mounts = %+v, want one read-only", custom.Mounts)
	}
	shared := sourceByName(t, srcs, "shared")
	if shared.VolumeName != "the-shared-one" || !shared.External {
		t.Errorf("shared = %+v", shared)
	}
	for _, s := range srcs {
		if s.Name == "unused" {
			t.Errorf("a volume no service mounts is not a source: %+v", s)
		}
		if s.IsFile() != (s.Kind == KindProjectFile || s.Kind == KindBindFile) {
			t.Errorf("IsFile wrong for %+v", s)
		}
	}
}

func TestSourcesAnonymousVolumesFromContainers(t *testing.T) {
	p := loadYAML(t, `
services:
  db:
    image: db
    volumes:
      - data:/var/lib/db
      - /cache
volumes:
  data: {}
`, nil)
	db := ctr("c1", "demo", "db", container.StateRunning)
	db.Mounts = []container.MountPoint{
		{Type: mount.TypeVolume, Name: "demo_data", Destination: "/var/lib/db", RW: true},       // named: listed already
		{Type: mount.TypeVolume, Name: "4f1e0c0ffee", Destination: "/cache", RW: true},          // compose `- /cache`
		{Type: mount.TypeVolume, Name: "9a9a9a9a9a9a", Destination: "/image/volume", RW: false}, // image VOLUME
		{Type: mount.TypeBind, Source: "/etc/hosts", Destination: "/etc/hosts"},                 // not a volume
		{Type: mount.TypeTmpfs, Destination: "/tmp"},                                            // not a volume
	}
	oneoff := ctr("c2", "demo", "db", container.StateRunning)
	oneoff.Labels[LabelOneOff] = "True"
	oneoff.Mounts = []container.MountPoint{{Type: mount.TypeVolume, Name: "oneoffvol", Destination: "/x", RW: true}}
	other := ctr("c3", "otherproject", "db", container.StateRunning)
	other.Mounts = []container.MountPoint{{Type: mount.TypeVolume, Name: "othervol", Destination: "/y", RW: true}}

	srcs, err := p.Sources(context.Background(), &fakeLister{containers: []container.Summary{db, oneoff, other}})
	if err != nil {
		t.Fatal(err)
	}
	var vols []string
	for _, s := range srcs {
		if s.Kind == KindVolume || s.Kind == KindAnonymous {
			vols = append(vols, s.Name)
		}
	}
	if want := []string{"data", "anon:db:/cache", "anon:db:/image/volume"}; !reflect.DeepEqual(vols, want) {
		t.Fatalf("volume sources = %v, want %v", vols, want)
	}
	cache := sourceByName(t, srcs, "anon:db:/cache")
	if cache.Kind != KindAnonymous || cache.VolumeName != "4f1e0c0ffee" || cache.HostPath != "" {
		t.Errorf("cache = %+v", cache)
	}
	if want := []Mount{{Service: "db", Target: "/cache"}}; !reflect.DeepEqual(cache.Mounts, want) {
		t.Errorf("cache mounts = %+v, want %+v", cache.Mounts, want)
	}
	img := sourceByName(t, srcs, "anon:db:/image/volume")
	if len(img.Mounts) != 1 || !img.Mounts[0].ReadOnly {
		t.Errorf("image volume mounted read-only must say so: %+v", img.Mounts)
	}
}

func TestSourcesListerErrorPropagates(t *testing.T) {
	p := loadYAML(t, "services:\n  app:\n    image: app\n", nil)
	boom := errors.New("engine gone")
	if _, err := p.Sources(context.Background(), &fakeLister{err: boom}); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}

func TestSourcesBindDirsFilesAndNesting(t *testing.T) {
	p := loadYAML(t, `
services:
  app:
    image: app
    volumes:
      - ./data:/data
      - ./config.toml:/etc/app/config.toml:ro
      - ./not-yet:/later
  sidecar:
    image: side
    volumes:
      - ./data/uploads:/uploads
      - ./data/app.ini:/etc/app.ini
      - ./data:/data-too:ro
  logs:
    image: logs
    volumes:
      - type: bind
        source: ./data/uploads
        target: /u
`, map[string]string{
		"data/uploads/a.txt": "a",
		"data/app.ini":       "x=1",
		"config.toml":        "k = 1",
	})
	srcs, err := p.Sources(context.Background(), &fakeLister{})
	if err != nil {
		t.Fatal(err)
	}
	data := sourceByName(t, srcs, "./data")
	if data.Kind != KindBindDir || data.HostPath != filepath.Join(p.WorkingDir, "data") {
		t.Errorf("data = %+v", data)
	}
	// everything bound below ./data is folded into it, with its mounts
	wantMounts := []Mount{
		{Service: "app", Target: "/data"},
		{Service: "sidecar", Target: "/data-too", ReadOnly: true},
		{Service: "logs", Target: "/u"},
		{Service: "sidecar", Target: "/uploads"},
		{Service: "sidecar", Target: "/etc/app.ini"},
	}
	if !sameMounts(data.Mounts, wantMounts) {
		t.Errorf("data mounts = %+v, want (any order) %+v", data.Mounts, wantMounts)
	}
	for _, s := range srcs {
		if s.Name != "./data" && s.HostPath != "" && Within(s.HostPath, data.HostPath) {
			t.Errorf("%s lies in ./data and must be folded into it", s.Name)
		}
	}
	cfg := sourceByName(t, srcs, "./config.toml")
	if cfg.Kind != KindBindFile || !cfg.IsFile() {
		t.Errorf("config.toml = %+v, want a bind file", cfg)
	}
	if want := []Mount{{Service: "app", Target: "/etc/app/config.toml", ReadOnly: true}}; !reflect.DeepEqual(cfg.Mounts, want) {
		t.Errorf("config.toml mounts = %+v", cfg.Mounts)
	}
	// a bind source that does not exist yet is a directory (docker creates a dir)
	if ny := sourceByName(t, srcs, "./not-yet"); ny.Kind != KindBindDir {
		t.Errorf("not-yet = %+v, want bind-dir", ny)
	}
	names := map[string]int{}
	for _, s := range srcs {
		names[s.Name]++
		if names[s.Name] > 1 {
			t.Errorf("source %s listed twice", s.Name)
		}
	}
}

func TestSourcesProjectDirBoundFoldsProjectFiles(t *testing.T) {
	p := loadYAML(t, `
services:
  app:
    image: app
    volumes:
      - .:/srv
`, map[string]string{".env": "A=1\n"})
	srcs, err := p.Sources(context.Background(), &fakeLister{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"./"}; !reflect.DeepEqual(sourceNames(srcs), want) {
		t.Fatalf("sources = %v, want %v (compose.yaml and .env are inside the bound project dir)", sourceNames(srcs), want)
	}
}

func TestSourcesProjectFiles(t *testing.T) {
	p := loadYAML(t, `
services:
  app:
    image: app
    env_file:
      - app.env
      - path: ./optional.env
        required: false
  web:
    image: web
    env_file: [app.env, conf/web.env]
`, map[string]string{
		".env":         "TAG=1\n",
		"app.env":      "A=1\n",
		"conf/web.env": "B=2\n",
	})
	srcs, err := p.Sources(context.Background(), &fakeLister{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"file:compose.yaml", "file:.env", "file:app.env", "file:conf/web.env"}
	if got := sourceNames(srcs); !reflect.DeepEqual(got, want) {
		t.Fatalf("sources = %v, want %v", got, want)
	}
	for _, s := range srcs {
		if s.Kind != KindProjectFile || !s.IsFile() || !filepath.IsAbs(s.HostPath) || len(s.Mounts) != 0 {
			t.Errorf("project file source %+v", s)
		}
	}
	if got := p.ConfigFiles(); len(got) != 4 || got[0] != filepath.Join(p.WorkingDir, "compose.yaml") {
		t.Errorf("ConfigFiles() = %v", got)
	}
}

func TestSourcesUndeclaredVolumeIsAnError(t *testing.T) {
	app := types.ServiceConfig{Name: "app"}
	app.Volumes = []types.ServiceVolumeConfig{{Type: types.VolumeTypeVolume, Source: "ghost", Target: "/g"}}
	p := &Project{Project: &types.Project{Name: "demo", WorkingDir: t.TempDir(), Services: types.Services{"app": app}}}
	_, err := p.Sources(context.Background(), &fakeLister{})
	if err == nil || !strings.Contains(err.Error(), "ghost") {
		t.Fatalf("err = %v, want one naming the undeclared volume", err)
	}
}

func sameMounts(a, b []Mount) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
outer:
	for _, x := range a {
		for i, y := range b {
			if !used[i] && x == y {
				used[i] = true
				continue outer
			}
		}
		return false
	}
	return true
}

func TestFoldNestedChains(t *testing.T) {
	m := func(svc string) []Mount { return []Mount{{Service: svc, Target: "/" + svc}} }
	// deepest first, so a child folds into a parent that later folds into its own parent
	srcs := []Source{
		{Name: "z", Kind: KindBindDir, HostPath: "/x/y/z", Mounts: m("z")},
		{Name: "y", Kind: KindBindDir, HostPath: "/x/y", Mounts: m("y")},
		{Name: "f", Kind: KindBindFile, HostPath: "/x/y/z/f", Mounts: m("f")},
		{Name: "x", Kind: KindBindDir, HostPath: "/x", Mounts: m("x")},
		{Name: "v", Kind: KindVolume, VolumeName: "vol", Mounts: m("v")},
		{Name: "xy", Kind: KindBindDir, HostPath: "/xy", Mounts: m("xy")}, // a sibling with a common prefix
	}
	out := foldNested(srcs)
	if got, want := sourceNames(out), []string{"x", "v", "xy"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("folded = %v, want %v", got, want)
	}
	want := append(append(append(m("x"), m("y")...), m("z")...), m("f")...)
	if !sameMounts(out[0].Mounts, want) {
		t.Fatalf("x mounts = %+v, want %+v", out[0].Mounts, want)
	}
}

func TestWithin(t *testing.T) {
	for _, c := range []struct {
		path, dir string
		want      bool
	}{
		{"/a", "/a", true},
		{"/a/", "/a", true},
		{"/a/b", "/a", true},
		{"/a/b/c", "/a/", true},
		{"/a/../a/b", "/a", true},
		{"/ab", "/a", false},
		{"/a", "/a/b", false},
		{"/", "/a", false},
		{"/a", "/", true},
		{"/b/..a", "/b", true}, // a name starting with dots is inside
		{"/a/b/../../c", "/a", false},
	} {
		if got := Within(c.path, c.dir); got != c.want {
			t.Errorf("Within(%q, %q) = %v, want %v", c.path, c.dir, got, c.want)
		}
	}
}

func TestRelPathAndRelName(t *testing.T) {
	p := &Project{Project: &types.Project{WorkingDir: "/srv/proj"}}
	for _, c := range []struct{ path, rel, name string }{
		{"/srv/proj/data", "data", "./data"},
		{"/srv/proj", ".", "./"},
		{"/srv/proj/a/b.toml", "a/b.toml", "./a/b.toml"},
		{"/srv/other", "/srv/other", "/srv/other"},
		{"/srv/proj2/x", "/srv/proj2/x", "/srv/proj2/x"},
	} {
		if got := p.RelPath(c.path); got != c.rel {
			t.Errorf("RelPath(%q) = %q, want %q", c.path, got, c.rel)
		}
		if got := p.relName(c.path); got != c.name {
			t.Errorf("relName(%q) = %q, want %q", c.path, got, c.name)
		}
	}
}

func TestArchiveBaseUniqueAndSafe(t *testing.T) {
	srcs := []Source{
		{Name: "data", Kind: KindVolume},
		{Name: "data", Kind: KindVolume}, // same name twice still gives distinct files
		{Name: "anon:db:/var/lib/postgresql/data", Kind: KindAnonymous},
		{Name: "./", Kind: KindBindDir},
		{Name: "./config/app.toml", Kind: KindBindFile},
		{Name: "/abs/path/../../etc/passwd", Kind: KindBindFile},
		{Name: "file:compose.yaml", Kind: KindProjectFile},
		{Name: "file:.env", Kind: KindProjectFile},
		{Name: "..", Kind: KindBindDir},
		{Name: "数据/卷", Kind: KindBindDir},
		{Name: `c:\windows\path`, Kind: KindBindDir},
		{Name: strings.Repeat("long-name/", 20), Kind: KindBindDir},
	}
	seen := map[string]bool{}
	for i, s := range srcs {
		b := ArchiveBase(i, s)
		if seen[b] {
			t.Errorf("ArchiveBase(%d, %q) = %q repeats", i, s.Name, b)
		}
		seen[b] = true
		if strings.ContainsAny(b, `/\: `) || b == ".." || strings.HasPrefix(b, ".") || strings.HasPrefix(b, "-") {
			t.Errorf("ArchiveBase(%d, %q) = %q is not a safe file name", i, s.Name, b)
		}
		if len(b) > 80 {
			t.Errorf("ArchiveBase(%d, %q) = %q is too long", i, s.Name, b)
		}
		if filepath.Base(b) != b {
			t.Errorf("ArchiveBase(%d, %q) = %q is not a base name", i, s.Name, b)
		}
	}
	for _, c := range []struct {
		i    int
		s    Source
		want string
	}{
		{0, Source{Name: "data", Kind: KindVolume}, "01-vol-data"},
		{2, Source{Name: "anon:db:/var/lib/db", Kind: KindAnonymous}, "03-anon-anon_db_var_lib_db"},
		{3, Source{Name: "./", Kind: KindBindDir}, "04-dir-root"},
		{4, Source{Name: "./config.toml", Kind: KindBindFile}, "05-file-config.toml"},
		{9, Source{Name: "file:compose.yaml", Kind: KindProjectFile}, "10-project-file_compose.yaml"},
	} {
		if got := ArchiveBase(c.i, c.s); got != c.want {
			t.Errorf("ArchiveBase(%d, %q) = %q, want %q", c.i, c.s.Name, got, c.want)
		}
	}
}

func TestSortByPathParentsFirst(t *testing.T) {
	srcs := []Source{
		{Name: "deep", HostPath: "/a/b/c"},
		{Name: "vol"},
		{Name: "mid", HostPath: "/a/b"},
		{Name: "top", HostPath: "/a"},
	}
	SortByPath(srcs)
	if got, want := sourceNames(srcs), []string{"vol", "top", "mid", "deep"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("SortByPath = %v, want %v", got, want)
	}
}
