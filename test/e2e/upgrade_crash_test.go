package e2e

import (
	"strings"
	"sync"
	"testing"

	"github.com/docker-maim/docker-maim/internal/testrig"
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
	phases := []string{"planned", "backing-up", "backed-up", "resetting", "merging", "recreating", "health", "rolling-back", "rollback:rolling-back"}
	runConcurrently(t, 5, phases, func(t *testing.T, phase string) {
		env := ""
		if phase == "rolling-back" {
			env = "BOT_FAIL=crash\nBOT_FAIL_ON=2.0.0\n"
		}
		bp := newBotProject(t, "kill-"+strings.ReplaceAll(phase, ":", "-"), env)
		before, _ := bp.data()
		configBefore := bp.fileBytes("config/bot_config.toml")
		bp.setEnv("BOT_VERSION", "2.0.0")
		filesBefore := testrig.TreeHash(t, bp.Dir)

		op := "upgrade"
		if phase == "rollback:rolling-back" {
			op, phase = "rollback", "rolling-back"
			upgraded(t, bp.maim(upgradeArgs...), bp.Name, bp.repo+":1.0.0", bp.repo+":2.0.0")
			wantKilled(t, bp.maimWith([]string{"MAIM_FAILPOINT=rollback:rolling-back"}, "rollback", "--stable-period", "3s", "--timeout", "2m"))
		} else {
			args := upgradeArgs
			switch phase {
			case "resetting", "merging", "recreating":
				args = append(append([]string{}, upgradeArgs...), "--reset-data", "botdata")
			}
			wantKilled(t, bp.maimWith([]string{"MAIM_FAILPOINT=upgrade:" + phase}, args...))
		}
		wantInterrupted(t, bp.project, op, phase)

		r := mustOK(t, bp.maim("rollback", "--stable-period", "3s", "--timeout", "2m"))
		if !strings.Contains(r.Stdout, "resolved the interrupted "+op+" in phase "+phase) {
			t.Errorf("rollback does not say what it resolved: %s", r)
		}
		if c := bp.wantBot("1.0.0"); c.Image != bp.v1ID {
			t.Errorf("after the rollback the bot runs image %s, want the old %s", c.Image, bp.v1ID)
		}
		after, _ := bp.data()
		wantRestored(t, "rollback after kill -9 in "+op+":"+phase, before, after, "1.0.0")
		if got := bp.fileBytes("config/bot_config.toml"); got != configBefore {
			t.Errorf("the config file is not the one before the upgrade:\n%s", got)
		}
		if op == "upgrade" && testrig.TreeHash(t, bp.Dir) != filesBefore {
			t.Errorf("the project files differ from before the upgrade")
		}
		bp.wantNoJournal()
		if st := bp.status(); st.Interrupted != nil {
			t.Errorf("status still reports an interrupted operation: %+v", st.Interrupted)
		}
		if env == "" { // resolved: the upgrade runs again, to the end
			upgraded(t, bp.maim(upgradeArgs...), bp.Name, bp.repo+":1.0.0", bp.repo+":2.0.0")
		}
	})
}
