package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/diffrestore"
	"github.com/docker-maim/docker-maim/internal/testrig"
	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
	"github.com/docker-maim/docker-maim/internal/volume"
)

// Issue 23: the safety backup of restore and rollback is taken in two passes, the first
// while the services still run (phase safety-hot), the changes after the stop. These tests
// write while pass one reads, start a container in the middle of it, kill the process
// there, and read the order of pass one and the stop from the engine's events.

// botFiles are the files the stand-in bot writes into its data dir whenever it starts, and
// their temporary files (writeFileAtomic's, there for a moment while it starts): a put-back
// tree is compared without them (and without the root's mtime they move).
var botFiles = []string{"starts.log", "effective.json", "data.json", "effective.json.tmp", "data.json.tmp"}

// wantSameTree fails when got differs from want, the bot's own files left out, and the
// stage dir of a two-pass differential restore (docker-maim's own, never backed up: it is
// in the tree a held restore's stop left, not in its safety backup).
func wantSameTree(t testing.TB, what string, want, got treediff.Tree) {
	t.Helper()
	for _, f := range botFiles {
		delete(want, f)
		delete(got, f)
	}
	for _, tree := range []treediff.Tree{want, got} {
		for p := range tree {
			if diffrestore.IsStageName(strings.SplitN(p, "/", 2)[0]) {
				delete(tree, p)
			}
		}
	}
	if d := treediff.Diff(want, got, treediff.Options{NoRootMtime: true}); len(d) > 0 {
		if len(d) > 20 {
			d = d[:20]
		}
		t.Errorf("%s differs from the tree the stop left:\n%s", what, strings.Join(d, "\n"))
	}
}

// engineEvent is a container event of the engine, in the engine's order.
type engineEvent struct {
	action, id string
	// target: a helper container's target ("volume NAME"); service: a container of the project.
	target, service string
}

// wayBackEvents are the container events a log recorded of the project's containers and of
// the helper containers that reach its volumes.
func wayBackEvents(p *project, l *eventLog) []engineEvent {
	var out []engineEvent
	for _, m := range l.stop() {
		a := m.Actor.Attributes
		switch {
		case a[volume.LabelHelper] == volume.LabelValueContainer && strings.HasPrefix(a[volume.LabelHelperTarget], "volume "+p.Name+"_"):
			out = append(out, engineEvent{action: string(m.Action), id: m.Actor.ID, target: a[volume.LabelHelperTarget]})
		case a[testrig.ProjectLabel] == p.Name && !strings.HasPrefix(string(m.Action), "exec_"):
			out = append(out, engineEvent{action: string(m.Action), id: m.Actor.ID, service: a["com.docker.compose.service"]})
		}
	}
	return out
}

// wantHotBeforeStop checks, in the engine's order, that pass one ran before the stop: a
// helper of the volume started and exited before service's first die, none of those
// helpers was still running at that die, and one started after it (pass two, the restore).
// It returns the index of that die.
func wantHotBeforeStop(t testing.TB, evs []engineEvent, vol, service string) int {
	t.Helper()
	stop := -1
	for i, e := range evs {
		if e.service == service && e.action == "die" {
			stop = i
			break
		}
	}
	if stop < 0 {
		t.Fatalf("no die of %s in the engine's events: %v", service, evs)
	}
	running := map[string]bool{}
	before, after := 0, 0
	for i, e := range evs {
		if e.target != "volume "+vol {
			continue
		}
		switch {
		case e.action == "start" && i < stop:
			running[e.id] = true
			before++
		case e.action == "die" && i < stop:
			delete(running, e.id)
		case e.action == "start" && i > stop:
			after++
		}
	}
	if before == 0 || len(running) > 0 || after == 0 {
		t.Errorf("engine events: %d helper(s) of the volume started before %s stopped, %d still running at its die, %d started after; want the hot pass done before the stop: %v",
			before, service, len(running), after, evs)
	}
	return stop
}

// churnProject is churnCompose's project with 40 files of 256 KiB in appdata and in the bind
// dir, backed up quiet (id), then churning again: the app changes both without pause until
// it is stopped.
func churnProject(t *testing.T, name string) (p *project, id, vol, bind string) {
	t.Helper()
	p = newProject(t, name, churnCompose)
	bind = p.Path("bind")
	must(t, os.MkdirAll(bind, 0o755))
	compose(t, p, "up", "-d", "--wait")
	vol = p.volumeDir(p.Name + "_appdata")
	for _, d := range []string{vol, bind} {
		seedBulk(t, d, 40)
	}
	id = p.backup()
	for _, d := range []string{vol, bind} {
		must(t, os.WriteFile(filepath.Join(d, "churn-on"), nil, 0o644))
	}
	compose(t, p, "restart", "app") // churns from now on, until its next stop
	return p, id, vol, bind
}

// breakArchive truncates the archive of source name in backup id to half (the hash check
// passed before: the restore fails while it writes) and returns a func that puts it back.
func breakArchive(t testing.TB, p *project, id, name string) func() {
	t.Helper()
	path := filepath.Join(p.backupPath(id), p.manifest(id).source(t, name).Archive)
	b, err := os.ReadFile(path)
	must(t, err)
	must(t, os.WriteFile(path, b[:len(b)/2], 0o600))
	return func() { must(t, os.WriteFile(path, b, 0o600)) }
}

// wantTwoPassSafety: backup id is a safety backup (reason) whose named sources hold a hot
// copy and a delta.
func wantTwoPassSafety(t testing.TB, p *project, id, reason string, names ...string) {
	t.Helper()
	m := p.manifest(id)
	if m.Reason != reason {
		t.Errorf("safety backup %s: reason %q, want %q", id, m.Reason, reason)
	}
	for _, n := range names {
		if s := m.source(t, n); s.Delta == nil || s.OnePass != "" {
			t.Errorf("safety backup %s, %s: delta %+v, one_pass %q: want two passes", id, n, s.Delta, s.OnePass)
		}
	}
}

// TestRestoreSafetyHotPutBack: a restore while the app changes its volume and bind dir
// without pause takes its safety backup in two passes (the events show pass one's helpers
// gone before the app's stop); its restore is made to fail half way (the backup's archive
// truncated once it was checked), and the safety backup put back equals the trees the stop
// left, exactly.
func TestRestoreSafetyHotPutBack(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p, id, vol, bind := churnProject(t, "hot-restore")

	dry := mustOK(t, p.maim("restore", id, "--dry-run", "--format", "json"))
	if !regexp.MustCompile(`"name":\s*"safety-hot"`).MatchString(dry.Stdout) {
		t.Errorf("the dry run does not list safety-hot: %s", dry.Stdout)
	}
	evlog := recordEvents(t, p.Client)
	run, fp := heldAt(t, p, "restore:backed-up", []string{volume.EnvNoHostPath + "=1"},
		append(append([]string(nil), restoreArgs...), id)...)
	stopped := map[string]treediff.Tree{vol: treediff.Of(t, vol), bind: treediff.Of(t, bind)}
	wantChurnRestored(t, "at the stop", vol)
	defer breakArchive(t, p, id, "appdata")()
	must(t, os.Remove(fp))
	r := run.wait(t, 5*time.Minute)
	sm := regexp.MustCompile(`put back from safety backup (\S+) and what ran was started again`).FindStringSubmatch(r.Stderr + r.Stdout)
	if r.Code == 0 || sm == nil {
		t.Fatalf("want the restore failed and its safety backup put back: %s", r)
	}
	for dir, want := range stopped {
		wantSameTree(t, "after the put-back, "+dir, want, treediff.Of(t, dir))
		wantChurnRestored(t, "after the put-back", dir)
	}
	wantTwoPassSafety(t, p, sm[1], "pre-restore", "appdata", "./bind")
	wantHotBeforeStop(t, wayBackEvents(p, evlog), p.Name+"_appdata", "app")
	if c := p.containers()["app"]; !c.State.Running {
		t.Errorf("app does not run after the put-back")
	}
	p.wantNoJournal()
}

// TestRollbackSafetyHot: a rollback while the app changes its data without pause takes its
// safety backup in two passes (pass one's helpers gone before the stop, by the engine's
// events); made to fail half way, it leaves its journal; once resolved, the safety backup
// put back (restore) equals the trees the rollback's stop left, exactly.
func TestRollbackSafetyHot(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p, id, vol, bind := churnProject(t, "hot-rollback")

	dry := mustOK(t, p.maim("rollback", id, "--dry-run", "--format", "json"))
	if !regexp.MustCompile(`"name":\s*"safety-hot"`).MatchString(dry.Stdout) {
		t.Errorf("the dry run does not list safety-hot: %s", dry.Stdout)
	}
	evlog := recordEvents(t, p.Client)
	run, fp := heldAt(t, p, "rollback:safety-backed-up", []string{volume.EnvNoHostPath + "=1"},
		"rollback", id, "--stable-period", "1s", "--timeout", "2m")
	stopped := map[string]treediff.Tree{vol: treediff.Of(t, vol), bind: treediff.Of(t, bind)}
	wantChurnRestored(t, "at the stop", vol)
	fix := breakArchive(t, p, id, "appdata")
	must(t, os.Remove(fp))
	r := run.wait(t, 5*time.Minute)
	sm := regexp.MustCompile(`the state before this rollback is in backup (\S+)`).FindStringSubmatch(r.Stderr + r.Stdout)
	if r.Code == 0 || sm == nil {
		t.Fatalf("want the rollback failed after its safety backup: %s", r)
	}
	safety := sm[1]
	wantTwoPassSafety(t, p, safety, "pre-rollback", "appdata", "./bind")
	wantHotBeforeStop(t, wayBackEvents(p, evlog), p.Name+"_appdata", "app")

	fix()
	mustOK(t, p.maim("rollback", "--no-safety-backup", "--stable-period", "1s", "--timeout", "2m"))
	p.wantNoJournal()
	mustOK(t, p.maim(append(append([]string(nil), restoreArgs...), safety, "--no-safety-backup")...))
	for dir, want := range stopped {
		wantSameTree(t, "the safety backup put back, "+dir, want, treediff.Of(t, dir))
		wantChurnRestored(t, "the safety backup put back", dir)
	}
}

// TestRestoreSafetyHotStartedMidPass: held after the first source of the safety backup's
// pass one (failpoint restore:safety-hot), a one-off container that changes appdata
// without pause is started (`docker compose run -d job`). In the engine's order it starts
// after a helper of pass one exited and before the stop; the restore's stop, which lists
// what runs again, stops it with app; the safety backup records it and, put back, holds
// exactly what it left when it stopped.
func TestRestoreSafetyHotStartedMidPass(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p, vol := startedDuringProject(t, "hot-midpass", 8)
	id := p.backup()
	must(t, os.WriteFile(filepath.Join(vol, "churn-on"), nil, 0o644))

	evlog := recordEvents(t, p.Client)
	run, fp := heldAt(t, p, "restore:safety-hot", []string{volume.EnvNoHostPath + "=1"},
		"restore", id, "--format", "json", "--stable-period", "1s", "--timeout", "2m")
	if got := runningOf(t, p); fmt.Sprint(got) != "map[app:1]" {
		t.Fatalf("running in the middle of pass one: %v, want app only (nothing stopped)", got)
	}
	compose(t, p, "run", "-d", "job")
	run.until(t, 2*time.Minute, "the one-off job to churn", func() bool {
		_, err := os.Stat(filepath.Join(vol, "churn"))
		return err == nil
	})
	must(t, os.Remove(fp))
	r := mustOK(t, run.wait(t, 5*time.Minute))
	var res struct {
		SafetyID string `json:"safety_backup_id"`
	}
	must(t, json.Unmarshal([]byte(r.Stdout), &res))
	m := p.manifest(res.SafetyID)
	if fmt.Sprint(m.Running) != "[app]" || fmt.Sprint(m.OneOffs) != "[job]" {
		t.Errorf("safety backup %s records running %v, one-offs %v: want [app], [job]", res.SafetyID, m.Running, m.OneOffs)
	}
	wantTwoPassSafety(t, p, res.SafetyID, "pre-restore", "appdata")

	evs := wayBackEvents(p, evlog)
	stop := wantHotBeforeStop(t, evs, p.Name+"_appdata", "app")
	jobStart, jobDie, hotDie := -1, -1, -1
	for i, e := range evs {
		switch {
		case e.service == "job" && e.action == "start" && jobStart < 0:
			jobStart = i
		case e.service == "job" && e.action == "die" && jobDie < 0:
			jobDie = i
		case e.target != "" && e.action == "die" && hotDie < 0:
			hotDie = i // the first source of pass one, done when the failpoint held
		}
	}
	if hotDie < 0 || jobStart < hotDie || jobStart > stop || jobDie < jobStart {
		t.Errorf("engine events: first helper exit at %d, job start at %d, app's stop at %d, job's die at %d: want the job started in the middle of pass one, before the stop, and stopped by it: %v",
			hotDie, jobStart, stop, jobDie, evs)
	}

	// Put back, the safety backup holds what the job left when the restore stopped it.
	mustOK(t, p.maim(append(append([]string(nil), restoreArgs...), res.SafetyID, "--no-safety-backup")...))
	wantChurnRestored(t, "the safety backup put back", vol)
}

// TestWayBackKilledInSafetyHot: a kill -9 in the middle of the safety backup's pass one
// (after its first source) of a restore and of a rollback changes nothing (what ran still
// runs, never stopped; the data as it was) and leaves a journal; `rollback` resolves it, and
// the half-written safety backup is not kept.
func TestWayBackKilledInSafetyHot(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	for _, op := range []string{"restore", "rollback"} {
		t.Run(op, func(t *testing.T) {
			p := newRestoreProject(t, "hot-kill-"+op)
			id := p.backup()
			writeTree(t, p.Path("config"), map[string]string{"settings.txt": "after the backup\n", "added.txt": "new\n"})
			writeTree(t, p.vol, map[string]string{"db/data.bin": "rows v2\n"})
			before := map[string]treediff.Tree{p.vol: treediff.Of(t, p.vol), p.Path("config"): treediff.Of(t, p.Path("config"))}
			started := p.containers()["app"].State.StartedAt

			args := append(append([]string(nil), restoreArgs...), id)
			if op == "rollback" {
				args = []string{"rollback", id, "--stable-period", "1s", "--timeout", "2m"}
			}
			wantKilled(t, p.maimWith([]string{"MAIM_FAILPOINT=" + op + ":safety-hot"}, args...))
			if c := p.containers()["app"]; !c.State.Running || c.State.StartedAt != started {
				t.Errorf("app was stopped by a run killed in pass one: %+v", c.State)
			}
			for dir, want := range before {
				wantSameTree(t, "after the kill, "+dir, want, treediff.Of(t, dir))
			}
			wantPhase := map[string]string{"restore": "planned", "rollback": "rolling-back"}[op]
			if st := p.status(); st.Interrupted == nil || st.Interrupted.Op != op || st.Interrupted.Phase != wantPhase {
				t.Errorf("status: %+v, want an interrupted %s in phase %s", st.Interrupted, op, wantPhase)
			}
			incomplete := func() (n int) {
				for _, b := range p.backups() {
					if b.Status == "incomplete" {
						n++
					}
				}
				return n
			}
			if n := incomplete(); n != 1 {
				t.Errorf("%d incomplete backups after the kill, want the one pass one began", n)
			}

			mustOK(t, p.maim("rollback", "--stable-period", "1s", "--timeout", "2m"))
			p.wantNoJournal()
			if n := incomplete(); n != 0 {
				t.Errorf("%d incomplete backups kept after the resolution", n)
			}
			if c := p.containers()["app"]; !c.State.Running {
				t.Errorf("app does not run after the resolution")
			}
			if op == "restore" {
				// Nothing had changed: the resolution starts what ran and changes no data.
				for dir, want := range before {
					wantSameTree(t, "after the resolution, "+dir, want, treediff.Of(t, dir))
				}
			} else if b, _ := os.ReadFile(filepath.Join(p.vol, "db/data.bin")); string(b) != "rows v1\n" {
				// The rollback asked for is done by the resolution.
				t.Errorf("after the resolution db/data.bin = %q, want the backup's", b)
			}
			p.wantUpChangesNothing()
		})
	}
}

// TestWayBackColdServiceOnePass: the safety backups of restore and rollback follow the
// backup verb's per-source rule: the volume of a stop-during-backup service (db) gets no
// hot pass and is archived whole once stopped, saying why; app's volume gets two passes.
func TestWayBackColdServiceOnePass(t *testing.T) {
	p := newShellProject(t, "hot-cold", `    labels:
      docker-volume-backup.stop-during-backup: "true"`)
	t.Parallel()
	compose(t, p, "up", "-d")
	for _, svc := range []string{"db", "app"} {
		if out, code := p.execOut(svc, "echo "+svc+" > /data/f"); code != 0 {
			t.Fatalf("writing into %s: %s", svc, out)
		}
	}
	id := p.backup()
	for _, args := range [][]string{{"restore", id}, {"rollback", id}} {
		r := mustOK(t, p.maim(append(args, "--format", "json", "--stable-period", "1s", "--timeout", "2m")...))
		var res struct {
			SafetyID string `json:"safety_backup_id"`
		}
		must(t, json.Unmarshal([]byte(r.Stdout), &res))
		if res.SafetyID == "" {
			t.Fatalf("%s: no safety backup: %s", args[0], r.Stdout)
		}
		m := p.manifest(res.SafetyID)
		if s := m.source(t, "dbdata"); s.Delta != nil || !strings.Contains(s.OnePass, "stop-during-backup") {
			t.Errorf("%s: safety backup %s, dbdata: delta %+v, one_pass %q: want one pass, stopped, because of stop-during-backup", args[0], res.SafetyID, s.Delta, s.OnePass)
		}
		if s := m.source(t, "appdata"); s.Delta == nil || s.OnePass != "" {
			t.Errorf("%s: safety backup %s, appdata: delta %+v, one_pass %q: want two passes", args[0], res.SafetyID, s.Delta, s.OnePass)
		}
	}
}
