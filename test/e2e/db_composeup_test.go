package e2e

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/testrig"
)

// TestDBComposeUpRecreatesNothing: after `backup --dump db`, after `restore --from-dump db`
// and after `upgrade --migrate-db db` (15 -> 16), the user's next `docker compose up -d`
// (the real CLI, against the real engine) finds every container as compose would have made
// it: the engine reports no create, destroy, stop or die of the project's containers, and
// every service keeps its container.
func TestDBComposeUpRecreatesNothing(t *testing.T) {
	if !testrig.HaveComposeCLI() {
		t.Fatal("this test runs the real `docker compose` CLI plugin: install it (make test-deps)")
	}
	t.Parallel()
	p, app, ref16 := newMigrateProject(t, "db-compose-up")
	db := p.Name + "-db-1"

	id := backupID(t, mustOK(t, p.maim("backup", "--dump", "db")))
	waitHealthy(t, db)
	composeUpChangesNothing(t, p, "backup --dump db")

	r := mustOK(t, p.maim("restore", id, "--from-dump", "db", "--stable-period", "1s", "--timeout", "3m"))
	t.Log(r.Stderr)
	waitHealthy(t, db)
	composeUpChangesNothing(t, p, "restore --from-dump db")

	p.WriteFile(".env", "DB_IMAGE="+ref16+"\nAPP_IMAGE="+app+"\n")
	up := mustOK(t, p.maim("upgrade", "--migrate-db", "db", "--stable-period", "1s", "--timeout", "3m"))
	t.Log(up.Stderr)
	waitHealthy(t, db)
	if v := psqlIn(t, db, "SHOW server_version_num"); !strings.HasPrefix(v, "16") {
		t.Fatalf("after the upgrade the server runs %q, want 16", v)
	}
	composeUpChangesNothing(t, p, "upgrade --migrate-db db")

	// The control: the same reading sees a recreate when compose makes one.
	if changed, _ := composeUp(t, p, "--force-recreate", "db"); len(changed) == 0 {
		t.Errorf("up -d --force-recreate db: no create or destroy in the engine's events: the check above sees nothing")
	}
}

// composeUpChangesNothing runs `docker compose up -d` and fails when the engine's events
// show a container of the project created, destroyed, stopped or dead meanwhile, or a
// service's container changed.
func composeUpChangesNothing(t *testing.T, p *project, after string) {
	t.Helper()
	before := map[string]string{}
	for svc, c := range p.containers() {
		before[svc] = c.ID
	}
	changed, out := composeUp(t, p)
	if len(changed) > 0 {
		t.Errorf("after %s, `docker compose up -d` changed containers (engine events):\n%s\ncompose said:\n%s", after, strings.Join(changed, "\n"), out)
	}
	for svc, c := range p.containers() {
		if before[svc] != c.ID {
			t.Errorf("after %s, `docker compose up -d` gave service %s container %.12s, it had %.12s", after, svc, c.ID, before[svc])
		}
	}
	if len(before) != 2 {
		t.Errorf("after %s the project has containers %v, want db and app", after, before)
	}
}

// composeUp runs `docker compose up -d args...` and returns the engine's create, destroy,
// stop, die, kill, restart and rename events of the project's containers meanwhile, and
// what compose said.
func composeUp(t *testing.T, p *project, args ...string) (changed []string, out string) {
	t.Helper()
	// Streamed while compose runs, not read back afterwards: the engine keeps only its last
	// 256 events (every container's), which the other tests' healthchecks fill in seconds.
	var events bytes.Buffer
	watch := exec.Command("docker", "events", "--since", unixNano(time.Now()),
		"--filter", "type=container", "--filter", "label="+testrig.ProjectLabel+"="+p.Name,
		"--format", `{{.Action}} {{index .Actor.Attributes "com.docker.compose.service"}} {{.Actor.ID}}`)
	watch.Stdout = &events
	must(t, watch.Start())
	time.Sleep(500 * time.Millisecond) // subscribed
	out = compose(t, p, append([]string{"up", "-d"}, args...)...)
	time.Sleep(time.Second) // the last events reach the subscription
	_ = watch.Process.Kill()
	_ = watch.Wait()
	for _, line := range strings.Split(strings.TrimSpace(events.String()), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "create", "destroy", "stop", "die", "kill", "restart", "rename":
			changed = append(changed, line)
		}
	}
	return changed, out
}

func unixNano(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}
