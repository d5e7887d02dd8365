package backup

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestStateRoot(t *testing.T) {
	home := t.TempDir()
	cwd, _ := filepath.Abs(".")
	for _, c := range []struct {
		name, maim, xdg, want string
	}{
		{"default", "", "", filepath.Join(home, ".local", "state", "docker-maim")},
		{"XDG_STATE_HOME", "", "/xdg/state", "/xdg/state/docker-maim"},
		{"relative XDG_STATE_HOME is ignored", "", "rel/state", filepath.Join(home, ".local", "state", "docker-maim")},
		{"MAIM_STATE_DIR wins", "/tmp/maim-state", "/xdg/state", "/tmp/maim-state"},
		{"MAIM_STATE_DIR made absolute", "st", "", filepath.Join(cwd, "st")},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("HOME", home)
			t.Setenv(EnvStateDir, c.maim)
			t.Setenv("XDG_STATE_HOME", c.xdg)
			got, err := StateRoot()
			if err != nil || got != c.want {
				t.Errorf("StateRoot = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestEngineKey(t *testing.T) {
	// an engine 20.10 ID, and a newer one (a UUID)
	if got := EngineKey("ABCD:EFGH:IJKL:MNOP:QRST:UVWX:YZ23:4567:89AB:CDEF:GHIJ:KLMN", "unix:///var/run/docker.sock"); got != "ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ23-4567-89AB-CDEF-GHIJ-KLMN" {
		t.Errorf("20.10 ID: %q", got)
	}
	if got := EngineKey("3f1c2b0e-0d7a-4c36-9a55-2f6f0b1d8e21", "x"); got != "3f1c2b0e-0d7a-4c36-9a55-2f6f0b1d8e21" {
		t.Errorf("UUID: %q", got)
	}
	// the ID decides, not the endpoint: the same engine by another socket path is the same
	if EngineKey("ID1", "unix:///var/run/docker.sock") != EngineKey("ID1", "tcp://127.0.0.1:2375") {
		t.Errorf("the key depends on the endpoint when the ID is known")
	}
	// an ID cannot leave its directory
	for _, id := range []string{"../../etc", "a/b", `a\b`, "..", "."} {
		k := EngineKey(id, "")
		if strings.ContainsAny(k, `/\`) || k == "" || k == "." || k == ".." || strings.HasPrefix(k, ".") {
			t.Errorf("EngineKey(%q) = %q", id, k)
		}
	}
	// no ID: a stable hash of the endpoint, one per endpoint
	a1, a2, b := EngineKey("", "tcp://127.0.0.1:2375"), EngineKey(" ", "tcp://127.0.0.1:2375"), EngineKey("", "unix:///var/run/docker.sock")
	if !strings.HasPrefix(a1, "host-") || a1 != a2 || a1 == b || len(a1) != len("host-")+16 {
		t.Errorf("fallback keys %q %q %q", a1, a2, b)
	}
}

func TestOpenState(t *testing.T) {
	root := t.TempDir()
	t.Setenv(EnvStateDir, root)
	s, err := OpenState("ENGINE:1", "unix:///var/run/docker.sock")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "ENGINE-1", "demo"); s.ProjectDir("demo") != want {
		t.Errorf("ProjectDir = %q, want %q", s.ProjectDir("demo"), want)
	}
	// the lock is in the state dir, wherever the backups are
	unlock, err := s.Lock("demo")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	other, _ := OpenState("ENGINE:1", "tcp://127.0.0.1:2375")
	if _, err := other.Lock("demo"); err == nil {
		t.Errorf("the same engine reached another way took the lock again")
	}
}
