package app

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
)

// A session hands the engine side what the service was built with: its store and state dir,
// the CLI's registry credentials for a pull, the service's log and tool version, and one
// mover for all the session's moves (so DataPath reports every path taken).
func TestSessionWiresTheEngineSide(t *testing.T) {
	auth := base64.StdEncoding.EncodeToString([]byte("maimuser:secret"))
	cli := deadEngineCLI(t, `{"auths":{"registry.example:5000":{"auth":"`+auth+`"}}}`)

	var log bytes.Buffer
	s := New(cli, api.Config{Err: &log, ToolVersion: "9.9.9"}).(*service)
	ss := &session{svc: s, store: backup.Local(t.TempDir()), state: backup.State{Dir: t.TempDir()}}
	m := ss.upgrades()
	if m.Store.LocalRoot() != ss.store.LocalRoot() || m.State != ss.state || m.Log != &log {
		t.Errorf("env: store %s, state %v, log %v", m.Store.LocalRoot(), m.State, m.Log)
	}
	if m.Snapshots == nil || m.Snapshots.ToolVersion != "9.9.9" || m.Snapshots.Warn != &log || m.Snapshots.Store.LocalRoot() != ss.store.LocalRoot() {
		t.Errorf("snapshots: %+v", m.Snapshots)
	}
	if again := ss.snapshots(); again.Mover != m.Snapshots.Mover || ss.mover == nil {
		t.Error("a session builds one mover")
	}

	tok := m.AuthFor("registry.example:5000/team/app:1.0")
	b, err := base64.URLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatalf("token %q: %v", tok, err)
	}
	var ac struct{ Username, Password string }
	if err := json.Unmarshal(b, &ac); err != nil || ac.Username != "maimuser" || ac.Password != "secret" {
		t.Errorf("auth for the registry: %s (%v)", b, err)
	}
	if tok := m.AuthFor("other.example/app:1"); tok != "" {
		if b, _ := base64.URLEncoding.DecodeString(tok); bytes.Contains(b, []byte("maimuser")) {
			t.Errorf("another registry got these credentials: %s", b)
		}
	}
}
