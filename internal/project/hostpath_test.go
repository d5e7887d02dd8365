package project

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// unixSocket makes a listening unix socket (short path: sun_path is small) and returns its path.
func unixSocket(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "d.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Skipf("no unix sockets here: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return path
}

func TestSourcesHostPathClassification(t *testing.T) {
	sock := unixSocket(t)
	roOutside := t.TempDir()
	rwOutside := t.TempDir()
	sharedOutside := t.TempDir()
	p := loadYAML(t, `
services:
  app:
    image: app
    volumes:
      - `+sock+`:/var/run/docker.sock
      - /etc/localtime:/etc/localtime:ro
      - /dev/null:/dev/dri-like
      - /proc:/host/proc:ro
      - /sys:/host/sys
      - /var/run:/host/run
      - /usr/share/zoneinfo:/usr/share/zoneinfo:ro
      - `+roOutside+`:/ro-outside:ro
      - `+rwOutside+`:/rw-outside
      - `+sharedOutside+`:/shared:ro
      - ./data:/data
      - ./conf.toml:/conf.toml:ro
  worker:
    image: worker
    volumes:
      - `+sharedOutside+`:/shared
`, map[string]string{"data/a": "a", "conf.toml": "k = 1"})
	srcs, err := p.Sources(context.Background(), &fakeLister{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path   string
		kind   Kind
		reason string
	}{
		{sock, KindHostPath, "socket"},
		{"/etc/localtime", KindHostPath, "system path /etc"}, // a symlink on Debian: judged by its name
		{"/dev/null", KindHostPath, "device"},
		{"/proc", KindHostPath, "kernel file system /proc"},
		{"/sys", KindHostPath, "kernel file system /sys"},
		{"/var/run", KindHostPath, "system path /var/run"},
		{"/usr/share/zoneinfo", KindHostPath, "system path /usr"},
		{roOutside, KindHostPath, "read-only, outside the project"},
		{rwOutside, KindBindDir, ""},
		{sharedOutside, KindBindDir, ""}, // read-only for app, written by worker: data
		{filepath.Join(p.WorkingDir, "data"), KindBindDir, ""},
		{filepath.Join(p.WorkingDir, "conf.toml"), KindBindFile, ""}, // read-only inside the project: data
	} {
		var got *Source
		for i := range srcs {
			if srcs[i].HostPath == c.path {
				got = &srcs[i]
			}
		}
		if got == nil {
			t.Errorf("%s: no source (have %v)", c.path, sourceNames(srcs))
			continue
		}
		if got.Kind != c.kind || got.HostReason != c.reason {
			t.Errorf("%s: kind %q reason %q, want %q %q", c.path, got.Kind, got.HostReason, c.kind, c.reason)
		}
		if len(got.Mounts) == 0 {
			t.Errorf("%s: mounts lost", c.path)
		}
	}
}

func TestSourcesHostPathNeverSwallowsProjectBinds(t *testing.T) {
	// node-exporter / cadvisor style: the whole host read-only. The project's own binds
	// and files lie below it but stay sources of their own.
	p := loadYAML(t, `
services:
  exporter:
    image: exporter
    volumes:
      - /:/rootfs:ro
      - ./data:/data
`, map[string]string{"data/a": "a"})
	srcs, err := p.Sources(context.Background(), &fakeLister{})
	if err != nil {
		t.Fatal(err)
	}
	root := sourceByName(t, srcs, "/")
	if root.Kind != KindHostPath || root.HostReason == "" {
		t.Errorf("/ = %+v, want a host path", root)
	}
	if data := sourceByName(t, srcs, "./data"); data.Kind != KindBindDir {
		t.Errorf("./data = %+v, want a bind dir of its own", data)
	}
	sourceByName(t, srcs, "file:compose.yaml")
}

func TestHostPathReasonProjectDirAnywhere(t *testing.T) {
	// A project may live under /root, /home, or even a system dir: what lies inside it
	// is its data, read-only or not.
	for _, wd := range []string{"/root/bot", "/home/u/bot", "/etc/bot", "/usr/local/src/bot", "/run/user/1000/bot"} {
		p := &Project{Project: &types.Project{WorkingDir: wd}}
		for _, rel := range []string{"data", "config/bot.toml", ""} {
			s := Source{HostPath: filepath.Join(wd, rel), Mounts: []Mount{{Service: "a", Target: "/x", ReadOnly: true}}}
			if r := p.HostPathReason(s); r != "" {
				t.Errorf("project %s: %s is a host path (%s), want data", wd, s.HostPath, r)
			}
		}
	}
	p := &Project{Project: &types.Project{WorkingDir: "/home/u/bot"}}
	for _, c := range []struct {
		path string
		ro   bool
		want string
	}{
		{"/home/u/other", false, ""},
		{"/home/u/other", true, HostReadOnly},
		{"/srv/app/data", false, ""},
		{"/home/u/bot2", true, HostReadOnly}, // a sibling with a common prefix is outside
		{"/lib/modules", true, "system path /lib"},
		{"/run/udev", false, "system path /run"},
		{"/sys/fs/cgroup", false, "kernel file system /sys"},
		{"/does/not/exist", false, ""},
		{"/etc/not-there", false, "system path /etc"},
	} {
		s := Source{HostPath: c.path, Mounts: []Mount{{Service: "a", Target: "/x", ReadOnly: c.ro}}}
		if got := p.HostPathReason(s); got != c.want {
			t.Errorf("HostPathReason(%s, ro=%v) = %q, want %q", c.path, c.ro, got, c.want)
		}
	}
}

func TestSourcesSymlinkLeadingOutsideRefused(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o600)
	yaml := `
services:
  app:
    image: app
    volumes:
      - ./data:/data
      - ./inside:/inside
`
	p := loadYAML(t, yaml, map[string]string{"real/a": "a"})
	if err := os.Symlink(outside, filepath.Join(p.WorkingDir, "data")); err != nil {
		t.Fatal(err)
	}
	// a link that stays inside the project is fine
	if err := os.Symlink("real", filepath.Join(p.WorkingDir, "inside")); err != nil {
		t.Fatal(err)
	}
	_, err := p.Sources(context.Background(), &fakeLister{})
	var le *LinkOutsideError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *LinkOutsideError", err)
	}
	if le.Source != "./data" || le.Link != filepath.Join(p.WorkingDir, "data") || le.Target != outside {
		t.Errorf("error = %+v", le)
	}
	for _, want := range []string{"./data", outside, "--include-host-path"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	// explicitly included: an ordinary bind dir
	srcs, err := p.SourcesWith(context.Background(), &fakeLister{}, SourceOptions{IncludeHostPaths: []string{"./data"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := sourceByName(t, srcs, "./data"); d.Kind != KindBindDir || d.HostReason != HostLinkOutside+" "+outside {
		t.Errorf("included ./data = %+v, want a bind dir that says it was opted in", d)
	}

	// a dangling link and a path below a link are judged by where they lead
	for _, c := range []struct{ link, target, bind string }{
		{"gone", filepath.Join(outside, "missing"), "./gone"},
		{"sub", outside, "./sub/deeper"},
	} {
		p := loadYAML(t, "services:\n  app:\n    image: app\n    volumes:\n      - "+c.bind+":/x\n", nil)
		if err := os.Symlink(c.target, filepath.Join(p.WorkingDir, c.link)); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Sources(context.Background(), &fakeLister{}); !errors.As(err, &le) {
			t.Errorf("%s -> %s: err = %v, want a *LinkOutsideError", c.bind, c.target, err)
		}
	}
}

func TestSourcesSymlinkOutsideTheProject(t *testing.T) {
	// /srv/app/data -> /mnt/disk: the bind source itself is a link leading elsewhere.
	target := t.TempDir()
	linkDir := t.TempDir()
	link := filepath.Join(linkDir, "data")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	// a bind below a symlinked host directory is an ordinary path
	below := filepath.Join(linkDir, "viadir")
	if err := os.Symlink(target, below); err != nil {
		t.Fatal(err)
	}
	p := loadYAML(t, "services:\n  app:\n    image: app\n    volumes:\n      - "+filepath.Join(below, "sub")+":/y\n", nil)
	if _, err := p.Sources(context.Background(), &fakeLister{}); err != nil {
		t.Errorf("bind below a symlinked dir: %v", err)
	}
	p = loadYAML(t, "services:\n  app:\n    image: app\n    volumes:\n      - "+link+":/x\n", nil)
	var le *LinkOutsideError
	if _, err := p.Sources(context.Background(), &fakeLister{}); !errors.As(err, &le) || le.Target != target {
		t.Fatalf("err = %v, want a *LinkOutsideError to %s", err, target)
	}
	// mounted read-only it is a host path: skipped, not refused
	p = loadYAML(t, "services:\n  app:\n    image: app\n    volumes:\n      - "+link+":/x:ro\n", nil)
	srcs, err := p.Sources(context.Background(), &fakeLister{})
	if err != nil {
		t.Fatal(err)
	}
	if s := sourceByName(t, srcs, link); s.Kind != KindHostPath || s.HostReason != HostReadOnly {
		t.Errorf("%s = %+v", link, s)
	}
}

func TestSourcesIncludeHostPath(t *testing.T) {
	sock := unixSocket(t)
	ro := t.TempDir()
	p := loadYAML(t, `
services:
  app:
    image: app
    volumes:
      - `+sock+`:/docker.sock
      - /etc/localtime:/etc/localtime:ro
      - `+ro+`:/ro:ro
      - ./data:/data
`, nil)
	srcs, err := p.SourcesWith(context.Background(), &fakeLister{}, SourceOptions{IncludeHostPaths: []string{"/etc/localtime", ro + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	lt := sourceByName(t, srcs, "/etc/localtime")
	if lt.Kind != KindBindFile || lt.HostReason != "system path /etc" {
		t.Errorf("included /etc/localtime = %+v, want a bind file that says why it is a host path", lt)
	}
	if s := sourceByName(t, srcs, ro); s.Kind != KindBindDir || s.HostReason != HostReadOnly {
		t.Errorf("included %s = %+v", ro, s)
	}
	if s := sourceByName(t, srcs, sock); s.Kind != KindHostPath {
		t.Errorf("not included %s = %+v", sock, s)
	}
	_, err = p.SourcesWith(context.Background(), &fakeLister{}, SourceOptions{IncludeHostPaths: []string{sock}})
	if err == nil || !strings.Contains(err.Error(), "socket cannot be backed up") {
		t.Errorf("including a socket: err = %v", err)
	}
	_, err = p.SourcesWith(context.Background(), &fakeLister{}, SourceOptions{IncludeHostPaths: []string{"/etc/hostname"}})
	if err == nil || !strings.Contains(err.Error(), "/etc/hostname") || !strings.Contains(err.Error(), "/etc/localtime") {
		t.Errorf("including a path no service binds: err = %v", err)
	}
	// a data source named in --include-host-path stays what it is
	if _, err := p.SourcesWith(context.Background(), &fakeLister{}, SourceOptions{IncludeHostPaths: []string{"./data"}}); err != nil {
		t.Errorf("including ./data: %v", err)
	}
}
