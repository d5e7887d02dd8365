package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// detachedOps returns the project's detached operations (ID -> pid) and, at the test's
// end, kills any that still runs (a failed test must not leave an upgrade going).
func (p *project) detachedOps() map[string]int {
	p.t.Helper()
	dir := filepath.Join(projectStateDir(p.t, p.Name), "ops")
	ents, _ := os.ReadDir(dir)
	out := map[string]int{}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		must(p.t, err)
		var m struct{ PID int }
		must(p.t, json.Unmarshal(b, &m))
		out[id] = m.PID
	}
	return out
}

func killDetachedOnCleanup(p *project) {
	p.t.Cleanup(func() {
		for _, pid := range p.detachedOps() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// opLog is the operation's log without its end line, and the end line.
func (p *project) opLog(id string) (progress, end string) {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(projectStateDir(p.t, p.Name), "ops", id+".log"))
	must(p.t, err)
	s := string(b)
	i := strings.LastIndex(strings.TrimSuffix(s, "\n"), "\n")
	return s[:i+1], s[i+1:]
}

// TestDetachedUpgradeOutlivesCaller: `upgrade --detach` returns (exit 0, the operation ID)
// while the upgrade runs and holds the project (a backup is refused: locked); it runs in a
// session of its own, so the SIGTERM and SIGHUP sent to its caller's process group (a
// shell that is still there, as Docker Desktop's streamed process would be) do not reach
// it. An `attach` stopped by Ctrl-C leaves it going; one started while it waits at its
// failpoint, and one after the end, print every line of its log exactly once, in order,
// its JSON result, and exit 0.
func TestDetachedUpgradeOutlivesCaller(t *testing.T) {
	t.Parallel()
	bp := newBotProject(t, "detach-ok", "")
	killDetachedOnCleanup(bp.project)
	bp.setEnv("BOT_VERSION", "2.0.0")
	fp := filepath.Join(t.TempDir(), "failpoint")

	// The caller: a shell that runs `docker maim upgrade -d` and stays, in a group of its own.
	args := append(append([]string{"docker", "maim"}, upgradeArgs...), "-d", "--format", "json")
	caller := exec.Command("sh", "-c", `"$@" >"$OUT" 2>"$ERR"; echo $? >"$RC"; exec sleep 600`, "sh")
	caller.Args = append(caller.Args, args...)
	tmp := t.TempDir()
	out, errf, rc := filepath.Join(tmp, "out"), filepath.Join(tmp, "err"), filepath.Join(tmp, "rc")
	caller.Dir = bp.Dir
	caller.Env = maimEnvOf(t, bp.BackupDir, []string{"COMPOSE_PROJECT_NAME=" + bp.Name,
		"MAIM_FAILPOINT=upgrade:backed-up:wait", "MAIM_FAILPOINT_FILE=" + fp, "OUT=" + out, "ERR=" + errf, "RC=" + rc})
	caller.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(t, caller.Start())
	t.Cleanup(func() { _ = syscall.Kill(-caller.Process.Pid, syscall.SIGKILL); _ = caller.Wait() })
	waitFile(t, rc, 3*time.Minute)
	code, _ := os.ReadFile(rc)
	stdout, _ := os.ReadFile(out)
	stderr, _ := os.ReadFile(errf)
	if strings.TrimSpace(string(code)) != "0" {
		t.Fatalf("upgrade -d: exit %s\n%s\n%s", code, stdout, stderr)
	}
	wantDoc(t, loadSchemas(t), "detach.json", "upgrade -d --format json", string(stdout))
	var det struct {
		ID      string `json:"id"`
		PID     int    `json:"pid"`
		Running bool   `json:"running"`
	}
	must(t, json.Unmarshal(stdout, &det))
	if !det.Running || det.PID == 0 || bp.detachedOps()[det.ID] != det.PID {
		t.Fatalf("upgrade -d printed %s; operations %v", stdout, bp.detachedOps())
	}
	// It holds the project from the moment the caller returned.
	wantFail(t, bp.maim("backup"), 4, "in use by another docker-maim command")

	waitFile(t, fp, 3*time.Minute)
	if sid, _ := unix.Getsid(det.PID); sid != det.PID {
		t.Errorf("the detached run is in session %d, not one of its own (%d)", sid, det.PID)
	}
	must(t, syscall.Kill(-caller.Process.Pid, syscall.SIGHUP))
	must(t, syscall.Kill(-caller.Process.Pid, syscall.SIGTERM))
	_ = caller.Wait()

	// Ctrl-C stops a follower, not the operation.
	quitter := bp.maimStart(nil, "attach", det.ID)
	quitter.until(t, time.Minute, "the replayed progress", func() bool { return strings.Contains(quitter.stderr.String(), "\n") })
	must(t, syscall.Kill(-quitter.cmd.Process.Pid, syscall.SIGINT))
	if q := quitter.wait(t, time.Minute); q.Code != 130 || !strings.Contains(q.Stderr, "goes on") {
		t.Errorf("attach after Ctrl-C: %s", q)
	}

	follower := bp.maimStart(nil, "attach", det.ID)
	follower.until(t, time.Minute, "the replayed progress", func() bool { return strings.Contains(follower.stderr.String(), "\n") })
	if syscall.Kill(det.PID, 0) != nil {
		t.Fatal("the detached upgrade did not survive its caller's SIGHUP and SIGTERM")
	}
	if op, phase := bp.journalPhase(); op != "upgrade" || phase != "backed-up" {
		t.Fatalf("journal %s/%s, want the upgrade still waiting at backed-up", op, phase)
	}
	// status says it runs, detached (not interrupted), and how to follow it
	st := wantDoc(t, loadSchemas(t), "status.json", "status", mustOK(t, bp.maim("status", "--format", "json")).Stdout)
	if d, _ := st["detached"].(map[string]any); d == nil || d["id"] != det.ID || d["verb"] != "upgrade" || st["interrupted"] != nil {
		t.Errorf("status while the detached upgrade runs: detached %v, interrupted %v", st["detached"], st["interrupted"])
	}
	if r := mustOK(t, bp.maim("status")); !strings.Contains(r.Stdout, "attach "+det.ID) {
		t.Errorf("status does not say how to follow the running upgrade:\n%s", r.Stdout)
	}
	must(t, os.Remove(fp))

	r := follower.wait(t, 5*time.Minute)
	if r.Code != 0 {
		t.Fatalf("attach: %s", r)
	}
	progress, end := bp.opLog(det.ID)
	if r.Stderr != progress || !strings.Contains(end, `"exit_code":0`) {
		t.Errorf("attach's stderr is not the log's lines, each once:\n--- attach:\n%s--- log:\n%s%s", r.Stderr, progress, end)
	}
	wantProgressLines(t, progress)
	var res struct{ Outcome string }
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil || res.Outcome != "upgraded" {
		t.Errorf("attach's stdout is not the upgrade's result: %v\n%s", err, r.Stdout)
	}
	bp.wantBot("2.0.0")
	bp.wantNoJournal()
	if st := wantDoc(t, loadSchemas(t), "status.json", "status", mustOK(t, bp.maim("status", "--format", "json")).Stdout); st["detached"] != nil {
		t.Errorf("status after the end still reports the detached upgrade: %v", st["detached"])
	}

	again := bp.maim("status", "--follow", "--format", "json")
	if again.Code != 0 || again.Stderr != progress || again.Stdout != r.Stdout {
		t.Errorf("status --follow after the end does not replay the same: %s", again)
	}
}

// wantProgressLines: the log holds --progress json task lines, each exactly once.
func wantProgressLines(t *testing.T, log string) {
	t.Helper()
	seen := map[string]bool{}
	tasks := 0
	for _, l := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var pl map[string]any
		if err := json.Unmarshal([]byte(l), &pl); err != nil {
			t.Errorf("log line is not JSON: %q", l)
		}
		if seen[l] {
			t.Errorf("log line twice: %q", l)
		}
		seen[l] = true
		if pl["task"] != nil {
			tasks++
		}
	}
	if tasks == 0 {
		t.Errorf("no progress task line in the log:\n%s", log)
	}
}

// TestDetachedUpgradeFailureRollsBack: a detached upgrade whose v2 crash-loops rolls back
// by itself; attach (and status --follow) end with its exit code 10, its rollback message
// on stdout, and v1 runs again.
func TestDetachedUpgradeFailureRollsBack(t *testing.T) {
	t.Parallel()
	bp := newBotProject(t, "detach-fail", "BOT_FAIL=crash\nBOT_FAIL_ON=2.0.0\n")
	killDetachedOnCleanup(bp.project)
	bp.setEnv("BOT_VERSION", "2.0.0")
	r := mustOK(t, bp.maim(append(upgradeArgs, "--detach")...))
	id := strings.TrimSpace(r.Stdout)
	if _, ok := bp.detachedOps()[id]; !ok || !strings.Contains(r.Stderr, "attach "+id) {
		t.Fatalf("upgrade --detach: %s", r)
	}
	a := bp.maim("attach")
	if a.Code != 10 || !strings.Contains(a.Stdout, "upgrade failed and was rolled back to backup") {
		t.Fatalf("attach: want exit 10 and the rollback: %s", a)
	}
	if !strings.Contains(a.Stderr, "docker maim: ") {
		t.Errorf("attach does not replay the upgrade's error line: %s", a.Stderr)
	}
	bp.wantBot("1.0.0")
	bp.wantNoJournal()
	if s := bp.maim("status", "--follow"); s.Code != 10 || s.Stdout != a.Stdout {
		t.Errorf("status --follow: %s", s)
	}
	if n := bytes.Count([]byte(a.Stderr), []byte("docker maim: ")); n != 1 {
		t.Errorf("the error line appears %d times", n)
	}
}

// waitFile waits until path exists.
func waitFile(t *testing.T, path string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %s", path, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDetachedRestore: restore --detach runs the restore in the background; attach ends
// with its exit code 0 and its JSON result, the backup it restored.
func TestDetachedRestore(t *testing.T) {
	t.Parallel()
	bp := newBotProject(t, "detach-restore", "")
	killDetachedOnCleanup(bp.project)
	id := bp.backup()
	r := mustOK(t, bp.maim("restore", id, "-d", "--format", "json"))
	det := wantDoc(t, loadSchemas(t), "detach.json", "restore -d --format json", r.Stdout)
	a := bp.maim("attach", det["id"].(string))
	res := wantDoc(t, loadSchemas(t), "restore.json", "attach (restore)", a.Stdout)
	if a.Code != 0 || res["backup_id"] != id {
		t.Fatalf("attach: %s", a)
	}
	bp.wantBot("1.0.0")
	bp.wantNoJournal()
}
