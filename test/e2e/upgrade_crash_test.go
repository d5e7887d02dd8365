package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/testrig"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/moby/moby/client"
)

// maimWith runs `docker maim args...` on the project with extra environment entries.
func (p *project) maimWith(env []string, args ...string) Result {
	p.t.Helper()
	return maimEnv(p.t, p.Dir, append([]string{"COMPOSE_PROJECT_NAME=" + p.Name}, env...), args...)
}

// runConcurrently runs the subtests fn(name) at most n at a time. They are not t.Parallel
// subtests, so `go test -parallel` (GOMAXPROCS by default) does not serialise them: they
// spend their time waiting for the engine, not on the CPU.
func runConcurrently(t *testing.T, n int, names []string, fn func(t *testing.T, name string)) {
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			t.Run(name, func(t *testing.T) { fn(t, name) })
		}()
	}
	wg.Wait()
}

// wantKilled checks that a command died of the MAIM_FAILPOINT SIGKILL, not by finishing.
func wantKilled(t testing.TB, r Result) {
	t.Helper()
	if r.Code == 0 || r.Code == 10 || r.Code == 11 || r.Code == 12 || strings.Contains(r.Stdout, "upgraded project") {
		t.Fatalf("the command was not killed by the failpoint: %s", r)
	}
}

// wantInterrupted checks that status (text and JSON) reports the interrupted op in phase
// and how to resolve it, and that upgrade refuses to run until it is resolved.
func wantInterrupted(t testing.TB, p *project, op, phase string) {
	t.Helper()
	r := mustOK(t, p.maim("status"))
	for _, want := range []string{`INTERRUPTED: ` + op + ` stopped in phase "` + phase + `"`, "docker maim -p " + p.Name + " rollback"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("status does not say %q: %s", want, r)
		}
	}
	st := p.status()
	if st.Interrupted == nil || st.Interrupted.Op != op || st.Interrupted.Phase != phase || len(st.Interrupted.Resolve) == 0 {
		t.Errorf("status --format json interrupted: %+v", st.Interrupted)
	}
	wantFail(t, p.maim(upgradeArgs...), 12, "interrupted", phase, "docker maim rollback")
}

// TestUpgradeKilledInEachPhase kills `docker maim upgrade` (SIGKILL, through MAIM_FAILPOINT)
// right after the journal records each phase; the next `status` reports it, `upgrade`
// refuses, and `rollback` returns the project to v1, healthy, with the data and the files
// byte-identical to before the upgrade, and the journal gone. "rolling-back" kills the
// automatic rollback of a v2 that crash-loops; "rollback:rolling-back" kills a rollback
// run by hand after a successful upgrade.
//
// An engine restart in the middle of an upgrade is not tested here: the engine is shared
// with every other test running in parallel (and with other test binaries), and restarting
// it would break them.
func TestUpgradeKilledInEachPhase(t *testing.T) {
	t.Parallel()
	runConcurrently(t, 5, crashPhases, func(t *testing.T, phase string) {
		c := newCrashCase(t, "kill", phase)
		wantKilled(t, c.maimWith([]string{"MAIM_FAILPOINT=" + c.op + ":" + c.phase}, c.args...))
		wantInterrupted(t, c.project, c.op, c.phase)

		r := mustOK(t, c.maim(rollbackArgs...))
		if !strings.Contains(r.Stdout, "resolved the interrupted "+c.op+" in phase "+c.phase) {
			t.Errorf("rollback does not say what it resolved: %s", r)
		}
		c.wantBackToV1(t, "rollback after kill -9 in "+c.op+":"+c.phase)
		c.wantSettled(t)
		if !c.crashes { // resolved: the upgrade runs again, to the end
			c.setEnv("BOT_VERSION", "2.0.0")
			upgraded(t, c.maim(upgradeArgs...), c.Name, c.repo+":1.0.0", c.repo+":2.0.0")
		}
	})
}

// crashPhases are the phases the crash tests interrupt: every phase of an upgrade, the
// rolling-back of an automatic rollback (2.0.0 crash-loops), and "rollback:rolling-back",
// a rollback run by hand after a successful upgrade.
var crashPhases = []string{"planned", "backing-up", "backed-up", "resetting", "merging", "recreating", "health", "rolling-back", "rollback:rolling-back"}

// rollbackArgs is the rollback of the crash tests.
var rollbackArgs = []string{"rollback", "--stable-period", "3s", "--timeout", "2m"}

// crashCase is a running bot project on 1.0.0 whose .env already asks for 2.0.0, what it
// held before, and the command a crash test interrupts.
type crashCase struct {
	*botProject
	before       dataState
	configBefore string
	filesBefore  string   // tree hash of the project dir before .env was pointed at 2.0.0
	op, phase    string   // the journal's op and phase where the command is interrupted
	args         []string // the command
	reset        bool     // the upgrade empties botdata (--reset-data): 2.0.0 starts afresh
	crashes      bool     // 2.0.0 crash-loops: the upgrade rolls back
}

// newCrashCase makes the case for one of crashPhases on a project named prefix-phase. For
// "rollback:rolling-back" the upgrade to 2.0.0 is done here; the case's command is the
// rollback.
func newCrashCase(t *testing.T, prefix, phase string) *crashCase {
	t.Helper()
	env := ""
	if phase == "rolling-back" {
		env = "BOT_FAIL=crash\nBOT_FAIL_ON=2.0.0\n"
	}
	c := prepareCrash(newBotProject(t, prefix+"-"+strings.ReplaceAll(phase, ":", "-"), env))
	c.op, c.phase, c.args, c.crashes = "upgrade", phase, upgradeArgs, env != ""
	switch phase {
	case "resetting", "merging", "recreating":
		c.args, c.reset = append(append([]string{}, upgradeArgs...), "--reset-data", "botdata"), true
	case "rollback:rolling-back":
		c.op, c.phase, c.args = "rollback", "rolling-back", rollbackArgs
		upgraded(t, c.maim(upgradeArgs...), c.Name, c.repo+":1.0.0", c.repo+":2.0.0")
	}
	return c
}

// prepareCrash records what the project holds and points its .env at 2.0.0.
func prepareCrash(bp *botProject) *crashCase {
	bp.t.Helper()
	c := &crashCase{botProject: bp, op: "upgrade", args: upgradeArgs}
	c.before, _ = bp.data()
	c.configBefore = bp.fileBytes("config/bot_config.toml")
	c.filesBefore = testrig.TreeHash(bp.t, bp.Dir)
	bp.setEnv("BOT_VERSION", "2.0.0")
	return c
}

// wantBackToV1 checks that the project is what it was before the upgrade: 1.0.0 on its old
// image, the data byte-identical, the config file and (when an upgrade was interrupted) the
// project files as they were before .env was pointed at 2.0.0 (the rollback edits it back,
// so the files name what runs).
func (c *crashCase) wantBackToV1(t testing.TB, what string) {
	t.Helper()
	if ctr := c.wantBot("1.0.0"); ctr.Image != c.v1ID {
		t.Errorf("%s: the bot runs image %s, want the old %s", what, ctr.Image, c.v1ID)
	}
	after, _ := c.data()
	wantRestored(t, what, c.before, after, "1.0.0")
	if got := c.fileBytes("config/bot_config.toml"); got != c.configBefore {
		t.Errorf("%s: the config file is not the one before the upgrade:\n%s", what, got)
	}
	if c.op == "upgrade" && testrig.TreeHash(t, c.Dir) != c.filesBefore {
		t.Errorf("%s: the project files differ from before the upgrade", what)
	}
}

// wantSettled checks that no operation is left in the journal.
func (c *crashCase) wantSettled(t testing.TB) {
	t.Helper()
	c.wantNoJournal()
	if st := c.status(); st.Interrupted != nil {
		t.Errorf("status still reports an interrupted operation: %+v", st.Interrupted)
	}
}

// childPID returns a child process of pid (the docker CLI's plugin process), 0 if none: each
// thread of pid lists the children it started.
func childPID(t testing.TB, pid int) int {
	t.Helper()
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if fs := strings.Fields(string(b)); len(fs) > 0 {
			c, err := strconv.Atoi(fs[0])
			must(t, err)
			return c
		}
	}
	return 0
}

// TestUpgradeKilledMidArchive kills the plugin (SIGKILL) while it is writing the archive of
// the data volume, in the middle of the stream, not at a phase boundary. The half-written
// backup is incomplete (no manifest) and listed as such, status reports the interrupted
// upgrade, and rollback brings back v1 with the data byte-identical. With --one-pass the
// archive is written stopped (journal phase backing-up); by default the kill hits pass one,
// written while everything still runs (journal phase planned: nothing was stopped).
func TestUpgradeKilledMidArchive(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, phase string
		args        []string
	}{
		{"one-pass", "backing-up", []string{"--one-pass"}},
		{"two-pass", "planned", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			killMidArchive(t, tc.name, tc.phase, tc.args)
		})
	}
}

func killMidArchive(t *testing.T, name, phase string, args []string) {
	bp := newBotProject(t, "kill-mid-archive-"+name, "")
	bp.addBlob(bp.vol, "blob.bin", 200<<20)
	c := prepareCrash(bp)

	// The helper path streams more slowly than the host path: more time to hit the middle.
	run := bp.maimStart([]string{"MAIM_NO_HOST_PATH=1"}, append(append([]string{}, upgradeArgs...), args...)...)
	projDir := filepath.Join(bp.BackupDir, bp.Name)
	var partial string
	run.until(t, 3*time.Minute, "8 MiB of the data volume's archive", func() bool {
		parts, _ := filepath.Glob(filepath.Join(projDir, "*", "*botdata*.partial"))
		for _, p := range parts {
			if fi, err := os.Stat(p); err == nil && fi.Size() > 8<<20 {
				partial = p
				return true
			}
		}
		return false
	})
	plugin := childPID(t, run.cmd.Process.Pid)
	if plugin == 0 {
		t.Fatal("the docker CLI has no plugin process")
	}
	must(t, syscall.Kill(plugin, syscall.SIGKILL))
	r := run.wait(t, time.Minute)
	wantKilled(t, r)
	if _, err := os.Stat(partial); err != nil {
		t.Fatalf("the half-written archive %s is gone: the kill came too late (%v)", partial, err)
	}
	// The helper container that was streaming goes away by itself (AutoRemove): nothing of
	// docker-maim's keeps the volume in use after the crash.
	for start := time.Now(); ; time.Sleep(200 * time.Millisecond) {
		res, err := bp.Client.ContainerList(context.Background(), client.ContainerListOptions{All: true,
			Filters: make(client.Filters).Add("label", volume.LabelHelper).Add("volume", bp.vol)})
		must(t, err)
		if len(res.Items) == 0 {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Errorf("a helper container still holds the volume 30 s after the kill: %s %s", res.Items[0].ID, res.Items[0].State)
			break
		}
	}
	id := filepath.Base(filepath.Dir(partial))
	if row, ok := rowByID(bp.backups(), id); !ok || row.Status != "incomplete" {
		t.Errorf("the interrupted backup %s is listed as %+v, want incomplete", id, row)
	}
	wantInterrupted(t, bp.project, "upgrade", phase)

	mustOK(t, bp.maim(rollbackArgs...))
	c.wantBackToV1(t, "rollback after kill -9 in the middle of the archive")
	c.wantSettled(t)
	// Resolved: the upgrade runs again, to the end.
	bp.setEnv("BOT_VERSION", "2.0.0")
	upgraded(t, bp.maim(upgradeArgs...), bp.Name, bp.repo+":1.0.0", bp.repo+":2.0.0")
}
