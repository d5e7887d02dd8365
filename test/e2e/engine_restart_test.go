package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/testrig"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/moby/moby/client"
)

// EngineRestartEnv gates the tests that restart the engine. They restart the one engine every
// other test uses, so they run in a step of their own after all other tests (`make test`
// runs `make test-engine-restart` after `go test ./...`); without MAIM_TEST_ENGINE_RESTART=1
// they skip.
const EngineRestartEnv = "MAIM_TEST_ENGINE_RESTART"

func requireEngineRestart(t *testing.T) {
	t.Helper()
	if os.Getenv(EngineRestartEnv) != "1" {
		t.Skipf("restarts the engine: runs alone with %s=1 (make test-engine-restart)", EngineRestartEnv)
	}
	requireEngine(t)
}

// restartEngine restarts the rig's engine (scripts/rig.sh restart-engine: SIGTERM to dockerd,
// which stops its containers as a service restart does, then start it again).
func restartEngine(t testing.TB) {
	t.Helper()
	root, err := testrig.RepoRoot()
	must(t, err)
	start := time.Now()
	out, err := exec.Command("bash", filepath.Join(root, "scripts", "rig.sh"), "restart-engine").CombinedOutput()
	if err != nil {
		t.Fatalf("restarting the engine: %v\n%s", err, out)
	}
	t.Logf("engine restarted in %s", time.Since(start).Round(time.Millisecond))
}

// bgRun is a `docker maim` command running in the background.
type bgRun struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	err            error
}

// maimStart starts `docker maim args...` on the project with extra environment entries.
func (p *project) maimStart(env []string, args ...string) *bgRun {
	p.t.Helper()
	r := &bgRun{done: make(chan struct{})}
	r.cmd = exec.Command("docker", append([]string{"maim"}, args...)...)
	r.cmd.Dir = p.Dir
	r.cmd.Env = maimEnvOf(p.t, p.BackupDir, append([]string{"COMPOSE_PROJECT_NAME=" + p.Name}, env...))
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	// A group of its own, so that kill reaches the plugin process too (the docker CLI's
	// child, which holds the output pipes open even when the CLI is gone).
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r.cmd.WaitDelay = 10 * time.Second
	must(p.t, r.cmd.Start())
	go func() { r.err = r.cmd.Wait(); close(r.done) }()
	p.t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			r.kill()
			<-r.done
		}
	})
	return r
}

// kill sends SIGKILL to the docker CLI and the plugin (which may be stopped).
func (r *bgRun) kill() { _ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL) }

// wait waits for the command to end and returns what it did.
func (r *bgRun) wait(t testing.TB, timeout time.Duration) Result {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(timeout):
		r.kill()
		<-r.done
		t.Fatalf("docker %s did not end within %s\n--- stdout:\n%s--- stderr:\n%s", strings.Join(r.cmd.Args[1:], " "), timeout, r.stdout.String(), r.stderr.String())
	}
	return result(t, r.cmd.Args[1:], r.stdout.String(), r.stderr.String(), r.err)
}

// until polls cond every 10 ms while the command runs; it fails the test when the command
// ends first or what does not come within timeout.
func (r *bgRun) until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case <-r.done:
			t.Fatalf("the command ended before %s:\n--- stdout:\n%s--- stderr:\n%s", what, r.stdout.String(), r.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come within %s", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFailpoint waits until the command waits at its "OP:PHASE:wait" failpoint (it has
// created file).
func waitFailpoint(t testing.TB, r *bgRun, file string, timeout time.Duration) {
	t.Helper()
	r.until(t, timeout, "its failpoint", func() bool {
		_, err := os.Stat(file)
		return err == nil
	})
}

// journalPhase returns the op and phase of the project's journal ("" when there is none).
func (p *project) journalPhase() (op, phase string) {
	b, err := os.ReadFile(p.journalPath())
	if err != nil {
		return "", ""
	}
	var j struct{ Op, Phase string }
	if json.Unmarshal(b, &j) != nil {
		return "", ""
	}
	return j.Op, j.Phase
}

// restartOutcome checks the end state after the case's command ran across an engine
// restart: it either finished (exit 0: upgraded to 2.0.0, healthy, data migrated by 2.0.0 or
// fresh after --reset-data; for a rollback, back to 1.0.0), or rolled back by itself (exit
// 10: back to 1.0.0). Anything else fails the test, and must still have left an interrupted
// operation that `status` reports and `rollback` resolves, back to 1.0.0.
func restartOutcome(t *testing.T, c *crashCase, r Result) {
	t.Helper()
	for _, l := range strings.Split(r.Stderr, "\n") {
		if strings.Contains(l, "engine") {
			t.Logf("  | %s", l)
		}
	}
	switch {
	case r.Code == 0 && c.op == "upgrade":
		t.Logf("outcome: the upgrade finished after the engine restart")
		c.wantBot("2.0.0")
		after, dir := c.data()
		createdBy := "1.0.0" // the old data, migrated
		if c.reset {
			createdBy = "2.0.0"
		}
		if d := readDataJSON(t, dir); d.Schema != 2 || d.CreatedBy != createdBy {
			t.Errorf("upgraded, but data.json is %+v, want schema 2 created by %s", d, createdBy)
		}
		if after.Hash == c.before.Hash {
			t.Errorf("upgraded, but the data is unchanged")
		}
	case r.Code == 0 && c.op == "rollback":
		t.Logf("outcome: the rollback finished after the engine restart")
		c.wantBackToV1(t, "rollback across an engine restart")
	case r.Code == 10 && c.op == "upgrade":
		t.Logf("outcome: the upgrade failed and rolled itself back")
		c.wantBackToV1(t, "automatic rollback across an engine restart")
	default:
		// The automatic rollback waits for the engine to come back and tries again, so this
		// is a failure; what is left must still be resolvable.
		t.Errorf("exit %d: the command neither finished nor rolled back by itself; resolving with rollback\n%s", r.Code, r)
		if st := c.status(); st.Interrupted == nil {
			t.Fatalf("exit %d but status reports no interrupted operation: %s", r.Code, r)
		}
		if !strings.Contains(mustOK(t, c.maim("status")).Stdout, "docker maim -p "+c.Name+" rollback") {
			t.Errorf("status does not give the command that resolves the interrupted operation")
		}
		if rr := mustOK(t, c.maim(rollbackArgs...)); !strings.Contains(rr.Stdout, "resolved the interrupted") {
			t.Errorf("rollback does not say what it resolved: %s", rr)
		}
		c.wantBackToV1(t, "rollback after an engine restart")
	}
	c.wantSettled(t)
}

// TestEngineRestartAtEachPhase holds `docker maim upgrade` (and a rollback) right after the
// journal records each phase, restarts the engine under it (the daemon stops every container;
// those with a restart policy come back with it), and lets the command go on. Whatever it
// then does, the project must end upgraded and healthy, or exactly as before the upgrade
// (by itself or through `docker maim rollback`), with the data byte-identical.
//
// All phases wait at their failpoints together and share one engine restart.
func TestEngineRestartAtEachPhase(t *testing.T) {
	requireEngineRestart(t)
	phases := crashPhases

	// The engine restarts once every subtest that runs (-run may select some) waits at its
	// failpoint: decided counts the subtests that started or were filtered out, arrived
	// those that started and have not reached their failpoint (or failed before it).
	var (
		decided, arrived sync.WaitGroup
		restarted        = make(chan struct{})
	)
	decided.Add(len(phases))
	go func() {
		decided.Wait()
		arrived.Wait()
		defer close(restarted)
		restartEngine(t)
	}()
	var wg sync.WaitGroup
	for _, phase := range phases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started := false
			t.Run(phase, func(t *testing.T) {
				started = true
				arrived.Add(1)
				decided.Done()
				engineRestartAt(t, phase, arrived.Done, restarted)
			})
			if !started {
				decided.Done()
			}
		}()
	}
	wg.Wait()
}

// engineRestartAt is one phase of TestEngineRestartAtEachPhase: arrived is called once the
// command waits at its failpoint (or the subtest failed), restarted is closed once the
// engine has restarted.
func engineRestartAt(t *testing.T, phase string, arrived func(), restarted <-chan struct{}) {
	var once sync.Once
	arrive := func() { once.Do(arrived) }
	defer arrive() // a subtest that fails before its failpoint must not hold the others

	c := newCrashCase(t, "restart", phase)
	fpFile := filepath.Join(t.TempDir(), "failpoint")
	run := c.maimStart([]string{"MAIM_FAILPOINT=" + c.op + ":" + c.phase + ":wait", "MAIM_FAILPOINT_FILE=" + fpFile}, c.args...)
	waitFailpoint(t, run, fpFile, 3*time.Minute)
	if gotOp, gotPhase := c.journalPhase(); gotOp != c.op || gotPhase != c.phase {
		t.Errorf("waiting with journal %s:%s, want %s:%s; output so far:\n%s", gotOp, gotPhase, c.op, c.phase, run.stderr.String())
	}
	arrive()
	<-restarted
	must(t, os.Remove(fpFile)) // go on
	r := run.wait(t, 5*time.Minute)
	restartOutcome(t, c, r)
}

// TestEngineRestartDuringUpgrade restarts the engine while the upgrade is in the middle of
// engine work: while the health gate waits for a slow 2.0.0, and while the helper container
// streams the data volume into the backup (host fast path off, a 200 MiB blob in the volume).
func TestEngineRestartDuringUpgrade(t *testing.T) {
	requireEngineRestart(t)
	t.Run("health", func(t *testing.T) {
		bp := makeBotProject(t, "restart-inflight-health", "BOT_FAIL=slow\nBOT_FAIL_ON=2.0.0\n")
		// 2.0.0 takes 20 s to get ready (the user's value, kept by the config merge).
		bp.WriteFile("config/bot_config.toml", strings.Replace(userConfig, "slow_seconds = 5", "slow_seconds = 20", 1))
		bp.start()
		restartWhile(t, bp, nil, func() bool {
			_, phase := bp.journalPhase()
			return phase == "health"
		})
	})
	t.Run("backing-up", func(t *testing.T) {
		bp := newBotProject(t, "restart-inflight-backup", "")
		bp.addBlob(bp.vol, "blob.bin", 200<<20)
		ctx := context.Background()
		restartWhile(t, bp, []string{"MAIM_NO_HOST_PATH=1"}, func() bool {
			if _, phase := bp.journalPhase(); phase != "backing-up" {
				return false
			}
			// The helper container that streams the volume is running (a helper is run by
			// its checked image ID, so it is found by its label, not by its image's tag).
			res, err := bp.Client.ContainerList(ctx, client.ContainerListOptions{Filters: make(client.Filters).
				Add("volume", bp.vol).Add("status", "running").Add("label", volume.LabelHelper+"="+volume.LabelValueContainer)})
			return err == nil && len(res.Items) > 0
		})
	})
}

// restartWhile starts the upgrade to 2.0.0, restarts the engine as soon as ready() says so,
// and checks the outcome.
func restartWhile(t *testing.T, bp *botProject, env []string, ready func() bool) {
	t.Helper()
	c := prepareCrash(bp)
	run := bp.maimStart(env, c.args...)
	run.until(t, 3*time.Minute, "the moment of the restart", ready)
	_, phase := bp.journalPhase()
	t.Logf("restarting the engine in phase %s", phase)
	restartEngine(t)
	r := run.wait(t, 5*time.Minute)
	restartOutcome(t, c, r)
}

// addBlob writes a file of n pseudo-random (incompressible) bytes into volume vol.
func (p *project) addBlob(vol, name string, n int64) {
	p.t.Helper()
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: n, Format: tar.FormatPAX})
		if err == nil {
			rng := rand.New(rand.NewPCG(uint64(n), 9))
			buf := make([]byte, 1<<20)
			for left := n; left > 0 && err == nil; left -= int64(len(buf)) {
				for i := 0; i+8 <= len(buf); i += 8 {
					v := rng.Uint64()
					for k := range 8 {
						buf[i+k] = byte(v >> (8 * k))
					}
				}
				_, err = tw.Write(buf[:min(int64(len(buf)), left)])
			}
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	p.peek(vol, func(id string) {
		if _, err := p.Client.CopyToContainer(context.Background(), id, client.CopyToContainerOptions{DestinationPath: "/v", Content: pr}); err != nil {
			p.t.Fatalf("writing %s into volume %s: %v", name, vol, err)
		}
	})
}
