package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/testrig"
	"github.com/moby/moby/client"
)

// The service commands (internal/svchooks) against the real engine: the lifecycle labels
// of offen/docker-volume-backup and watchtower, and x-maim's own keys, run inside the
// containers of an image that has a shell.

// shellCompose is the project of these tests: db and app on the project's busybox image
// (%[1]s: its repository), each with a data volume; %[2]s are db's extra keys (labels,
// x-maim). .env picks the version (V).
const shellCompose = `services:
  db:
    image: %[1]s:${V:-1.0.0}
    volumes: [dbdata:/data]
%[2]s
  app:
    image: %[1]s:${V:-1.0.0}
    volumes: [appdata:/data]
volumes: {dbdata: {}, appdata: {}}
`

// newShellProject makes (not starts) a project whose image is FROM scratch with Debian's
// static busybox as /bin/sh (its applets run from the shell), built locally as REPO:1.0.0 and
// REPO:1.0.1 (each sets VERSION to its tag); the main process sleeps and exits on SIGTERM. db gets dbKeys.
func newShellProject(t *testing.T, name, dbKeys string) *project {
	t.Helper()
	requireEngine(t)
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skip("no /bin/busybox (apt-get install busybox-static) to build the shell image from")
	}
	p := newProject(t, name, "")
	// Under the loopback registry's name, never pushed: the upgrade's pull finds nothing
	// there and uses the local image, without reaching for a public registry.
	repo := testrig.Registry() + "/" + p.Name + "/sh"
	bctx := t.TempDir()
	must(t, os.WriteFile(filepath.Join(bctx, "busybox"), b, 0o755))
	for _, v := range []string{"1.0.0", "1.0.1"} {
		ref := repo + ":" + v
		p.TrackImage(ref)
		df := "FROM scratch\nCOPY busybox /bin/sh\nENV VERSION=" + v + "\n" +
			`CMD ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]` + "\n"
		must(t, os.WriteFile(filepath.Join(bctx, "Dockerfile"), []byte(df), 0o644))
		mustOK(t, docker(t, bctx, []string{"DOCKER_BUILDKIT=0"}, "build", "-q", "-t", ref, "."))
	}
	p.WriteCompose(fmt.Sprintf(shellCompose, repo, dbKeys))
	p.WriteFile(".env", "V=1.0.0\n")
	return p
}

// execOut runs a command in service svc's running container and returns its output.
func (p *project) execOut(svc, script string) (string, int) {
	p.t.Helper()
	c, ok := p.containers()[svc]
	if !ok {
		p.t.Fatalf("no container of %s", svc)
	}
	r := docker(p.t, p.Dir, nil, "exec", c.ID, "/bin/sh", "-c", script)
	return strings.TrimSpace(r.Stdout), r.Code
}

// ids are the project's container IDs by service, with whether each runs.
func (p *project) ids() map[string]string {
	out := map[string]string{}
	for svc, c := range p.containers() {
		out[svc] = fmt.Sprintf("%s running=%v image=%s", c.ID, c.State.Running, c.Image)
	}
	return out
}

// lifecycleEvents are the container events of the project a log recorded (create, start,
// stop, die, kill, destroy: exec events left out).
func (p *project) lifecycleEvents(l *eventLog) []string {
	var out []string
	for _, m := range l.stop() {
		a := string(m.Action)
		if m.Actor.Attributes[testrig.ProjectLabel] == p.Name && !strings.HasPrefix(a, "exec_") {
			out = append(out, a+" "+m.Actor.Attributes["com.docker.compose.service"])
		}
	}
	return out
}

// TestArchivePreDumpIsInTheBackup: offen's labels on db. archive-pre writes a dump into
// db's volume while it runs, the backup holds it (a restore brings it back), archive-post
// removes it again once the backup is done; stop-during-backup gives db's volume no hot
// pass (the backup's JSON says why it was archived in one pass) while app's gets one.
func TestArchivePreDumpIsInTheBackup(t *testing.T) {
	t.Parallel()
	p := newShellProject(t, "svchooks-backup", `    labels:
      docker-volume-backup.archive-pre: "echo \"dump of $$(hostname) as $$(id -u)\" > /data/dump.sql"
      docker-volume-backup.archive-pre.user: "1234"
      docker-volume-backup.archive-post: "rm /data/dump.sql"
      docker-volume-backup.stop-during-backup: "true"
    x-maim:
      hook_timeout: 30s`)
	compose(t, p, "up", "-d")
	// The dump must be writable by user 1234.
	if out, code := p.execOut("db", "chmod 777 /data"); code != 0 {
		t.Fatalf("chmod: %s", out)
	}
	host, _ := p.execOut("db", "hostname")

	r := mustOK(t, p.maim("backup", "--format", "json"))
	var res struct {
		ID      string `json:"id"`
		TwoPass bool   `json:"two_pass"`
		Sources []struct {
			Name    string `json:"name"`
			OnePass string `json:"one_pass"`
		} `json:"sources"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("backup JSON: %v\n%s", err, r)
	}
	if !res.TwoPass {
		t.Errorf("the backup of a running project was not two-pass: %s", r.Stdout)
	}
	for _, s := range res.Sources {
		switch s.Name {
		case "dbdata":
			if !strings.Contains(s.OnePass, "stop-during-backup") {
				t.Errorf("dbdata one_pass = %q: db's data was not kept out of the hot pass", s.OnePass)
			}
		case "appdata":
			if s.OnePass != "" {
				t.Errorf("appdata one_pass = %q: app has no stop-during-backup", s.OnePass)
			}
		}
	}
	if out, code := p.execOut("db", "cat /data/dump.sql"); code == 0 {
		t.Errorf("archive-post did not remove the dump: %q", out)
	}

	mustOK(t, p.maim("restore", res.ID, "--stable-period", "1s", "--timeout", "2m"))
	out, code := p.execOut("db", "cat /data/dump.sql")
	if want := "dump of " + host + " as 1234"; code != 0 || out != want {
		t.Errorf("restored dump.sql = %q (exit %d), want %q: archive-pre's dump is not in the backup", out, code, want)
	}
}

// TestPreUpdateFailureRefuses: watchtower's pre-update fails: the upgrade is refused
// (exit 12) with the command's output, before anything stopped: the same containers run,
// no container event but the exec's, no backup.
func TestPreUpdateFailureRefuses(t *testing.T) {
	p := newShellProject(t, "svchooks-prefail", `    labels:
      com.centurylinklabs.watchtower.lifecycle.pre-update: "echo replication lag too high >&2; exit 3"`)
	compose(t, p, "up", "-d")
	before := p.ids()
	p.WriteFile(".env", "V=1.0.1\n")
	evlog := recordEvents(t, p.Client)
	r := p.maim("upgrade", "--stable-period", "1s", "--timeout", "2m")
	t.Log(r.Stderr)
	wantFail(t, r, 12, "refused", "pre-upgrade", "exited 3", "replication lag too high")
	if ev := p.lifecycleEvents(evlog); len(ev) != 0 {
		t.Errorf("container events during a refused upgrade: %v", ev)
	}
	if after := p.ids(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("containers changed:\nbefore %v\nafter  %v", before, after)
	}
	if rows := p.backups(); len(rows) != 0 {
		t.Errorf("a refused upgrade left backups: %v", rows)
	}
}

// TestPreUpdateExit75Skips: a pre-update command that exits 75 (EX_TEMPFAIL) asks to skip
// the upgrade: refused cleanly, saying so, nothing changed.
func TestPreUpdateExit75Skips(t *testing.T) {
	t.Parallel()
	p := newShellProject(t, "svchooks-skip", `    labels:
      com.centurylinklabs.watchtower.lifecycle.pre-update: "exit 75"`)
	compose(t, p, "up", "-d")
	before := p.ids()
	p.WriteFile(".env", "V=1.0.1\n")
	r := p.maim("upgrade", "--stable-period", "1s", "--timeout", "2m")
	t.Log(r.Stderr)
	wantFail(t, r, 12, "skip", "exited 75")
	if after := p.ids(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("containers changed:\nbefore %v\nafter  %v", before, after)
	}
}

// TestUpgradeRunsServiceCommands: the dry-run lists every command with its service, moment,
// user and timeout; the upgrade runs pre-update in the old container and post-update in
// the new one, once the gate passed; db's stop-during-backup keeps its volume out of the
// upgrade's hot pass.
func TestUpgradeRunsServiceCommands(t *testing.T) {
	t.Parallel()
	p := newShellProject(t, "svchooks-upgrade", `    labels:
      com.centurylinklabs.watchtower.lifecycle.pre-update: "echo $$VERSION > /data/pre"
      com.centurylinklabs.watchtower.lifecycle.post-update: "echo $$VERSION > /data/post"
      com.centurylinklabs.watchtower.lifecycle.post-update-timeout: "3"
      docker-volume-backup.stop-during-backup: "true"
    x-maim:
      pre_backup: {command: "true", user: "0", timeout: 45s}`)
	compose(t, p, "up", "-d")
	p.WriteFile(".env", "V=1.0.1\n")
	r := mustOK(t, p.maim("upgrade", "--dry-run", "--format", "json"))
	var dry struct {
		Plan struct {
			ServiceHooks struct {
				Commands []struct {
					Service, When, User, From string
					Timeout                   time.Duration `json:"timeout_ns"`
				} `json:"commands"`
			} `json:"service_hooks"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &dry); err != nil {
		t.Fatalf("dry-run JSON: %v\n%s", err, r)
	}
	wantDoc(t, loadSchemas(t), "upgrade.json", "upgrade --dry-run", r.Stdout)
	var got []string
	for _, c := range dry.Plan.ServiceHooks.Commands {
		got = append(got, fmt.Sprintf("%s %s user=%q %s %s", c.Service, c.When, c.User, c.Timeout, c.From))
	}
	want := []string{
		`db pre-upgrade user="" 1m0s com.centurylinklabs.watchtower.lifecycle.pre-update`,
		`db pre-backup user="0" 45s x-maim.pre_backup`,
		`db post-upgrade user="" 3m0s com.centurylinklabs.watchtower.lifecycle.post-update`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the plan lists\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// stack-back's dump labels: TestDBDumpUpgrade (a real PostgreSQL).

	up := mustOK(t, p.maim("upgrade", "--stable-period", "1s", "--timeout", "2m", "--format", "json"))
	if out, _ := p.execOut("db", "cat /data/pre /data/post"); out != "1.0.0\n1.0.1" {
		t.Errorf("pre/post = %q, want pre-update in version 1.0.0, post-update in version 1.0.1", out)
	}
	// stop-during-backup: the upgrade's backup gave db's volume no hot pass, app's one.
	var res struct {
		BackupID string `json:"backup_id"`
	}
	must(t, json.Unmarshal([]byte(up.Stdout), &res))
	m := p.manifest(res.BackupID)
	if db := m.source(t, "dbdata"); db.Delta != nil || !strings.Contains(db.OnePass, "stop-during-backup") {
		t.Errorf("dbdata in the upgrade's backup: delta %v, one_pass %q: not archived only stopped", db.Delta, db.OnePass)
	}
	if app := m.source(t, "appdata"); app.Delta == nil {
		t.Errorf("appdata in the upgrade's backup has no delta: no two passes")
	}
}

// TestPostUpdateFailureRollsBack: a post-update command that fails is a failed gate: the
// upgrade is rolled back (exit 10) and version 1 runs again.
func TestPostUpdateFailureRollsBack(t *testing.T) {
	t.Parallel()
	p := newShellProject(t, "svchooks-postfail", `    labels:
      com.centurylinklabs.watchtower.lifecycle.post-update: "[ \"$$VERSION\" = 1.0.0 ] || { echo migration check failed; exit 4; }"`)
	compose(t, p, "up", "-d")
	p.WriteFile(".env", "V=1.0.1\n")
	r := p.maim("upgrade", "--stable-period", "1s", "--timeout", "2m")
	t.Log(r.Stderr)
	wantFail(t, r, 10, "rolled back", "post-upgrade", "exited 4", "migration check failed")
	if out, _ := p.execOut("db", "echo $VERSION"); out != "1.0.0" {
		t.Errorf("after the rollback db runs version %q, want 1.0.0", out)
	}
}

// TestHookTimeoutKillsIt: a pre-backup command that outlives its timeout is killed, with
// the processes it started, and the backup is refused before anything stopped.
func TestHookTimeoutKillsIt(t *testing.T) {
	t.Parallel()
	p := newShellProject(t, "svchooks-timeout", `    x-maim:
      pre_backup: {command: "sleep 3001; echo never", timeout: 2s}`)
	compose(t, p, "up", "-d")
	before := p.ids()
	r := p.maim("backup")
	t.Log(r.Stderr)
	wantFail(t, r, 12, "refused", "timed out after 2s")
	if strings.Contains(r.Stderr, "never") {
		t.Errorf("the command's shell went on after its child was killed: %s", r.Stderr)
	}
	if after := p.ids(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("containers changed:\nbefore %v\nafter  %v", before, after)
	}
	top, err := p.Client.ContainerTop(context.Background(), p.containers()["db"].ID, client.ContainerTopOptions{})
	must(t, err)
	for _, proc := range top.Processes {
		if strings.Contains(strings.Join(proc, " "), "3001") {
			t.Errorf("the timed-out command still runs: %v", proc)
		}
	}
}

// TestArchivePostFailureKeepsTheBackup: an archive-post command that fails after the backup
// is complete leaves the backup kept and listed, and the command fails (exit 1) naming it.
func TestArchivePostFailureKeepsTheBackup(t *testing.T) {
	t.Parallel()
	p := newShellProject(t, "svchooks-postbackup", `    labels:
      docker-volume-backup.archive-post: "echo cleanup failed; exit 5"`)
	compose(t, p, "up", "-d")
	r := p.maim("backup")
	t.Log(r.Stderr)
	wantFail(t, r, 1, "is complete and kept", "post-backup", "exited 5", "cleanup failed")
	rows := p.backups()
	if len(rows) != 1 || !strings.Contains(lastLine(r.Stderr), rows[0].ID) {
		t.Errorf("backups %+v; the error does not name the one kept", rows)
	}
	for svc, c := range p.containers() {
		if !c.State.Running {
			t.Errorf("%s was not started again", svc)
		}
	}
}
