package e2e

// Scripting (issue 21): -q and templates through the docker CLI; restore, rollback and
// prune --dry-run change nothing and name what the real run then does; flags are refused before the engine is contacted; a missing
// compose file is reported before an unreachable engine.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/testrig"
	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
)

// untouched is what a dry run must leave as it was: every container (ID, start time,
// state), the data of the volumes and binds, the backup dir (mtimes too) and the
// project's journal and history.
type untouched struct {
	p          *fullProject
	containers map[string]string
	data       map[string]string
	backups    treediff.Tree
	history    string
}

func snapshotOf(p *fullProject) untouched {
	p.t.Helper()
	u := untouched{p: p, containers: map[string]string{}, data: p.state(), backups: treediff.Of(p.t, p.BackupDir)}
	for svc, c := range p.containers() {
		u.containers[svc] = c.ID + " " + c.State.StartedAt + " " + string(c.State.Status)
	}
	b, _ := os.ReadFile(filepath.Join(projectStateDir(p.t, p.Name), "history.jsonl"))
	u.history = string(b)
	return u
}

// same fails the test when anything of u changed.
func (u untouched) same(what string) {
	t := u.p.t
	t.Helper()
	now := snapshotOf(u.p)
	for svc, c := range u.containers {
		if now.containers[svc] != c {
			t.Errorf("%s: container of %s changed: %s -> %s", what, svc, c, now.containers[svc])
		}
	}
	sameState(t, what, now.data, u.data)
	if d := treediff.Diff(u.backups, now.backups, treediff.Options{}); len(d) > 0 {
		t.Errorf("%s: the backup dir changed:\n%s", what, strings.Join(d, "\n"))
	}
	if now.history != u.history {
		t.Errorf("%s: the history changed:\n%s", what, now.history)
	}
	if _, err := os.Stat(filepath.Join(projectStateDir(t, u.p.Name), "journal.json")); err == nil {
		t.Errorf("%s: left a journal", what)
	}
}

// dryPlan is the JSON of restore and rollback --dry-run.
type dryPlan struct {
	BackupID string `json:"backup_id"`
	DryRun   bool   `json:"dry_run"`
	Restored []string
	Plan     struct {
		Stop  []string `json:"stop"`
		Write []struct {
			Source, Kind, Target string
		} `json:"write"`
		SafetyBackup bool `json:"safety_backup"`
		Images       []struct {
			Service string `json:"service"`
			OldID   string `json:"old_id"`
		} `json:"images"`
		Phases []struct {
			Name    string `json:"name"`
			Skipped bool   `json:"skipped"`
		} `json:"phases"`
	} `json:"plan"`
}

// parsePlan reads a --dry-run document, checked against its schema (docs/schema/FILE).
func parsePlan(t *testing.T, file string, r Result) dryPlan {
	t.Helper()
	checkSchema(t, file, r)
	var d dryPlan
	if err := json.Unmarshal([]byte(r.Stdout), &d); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r)
	}
	if !d.DryRun {
		t.Errorf("dry_run is not true: %s", r.Stdout)
	}
	return d
}

// checkSchema fails the test when r's stdout does not validate against docs/schema/file.
func checkSchema(t *testing.T, file string, r Result) {
	t.Helper()
	for _, e := range loadSchemas(t).validate(file, decode(t, file, r.Stdout)) {
		t.Errorf("%s: %s", file, e)
	}
}

func (d dryPlan) targets() map[string]string {
	out := map[string]string{}
	for _, w := range d.Plan.Write {
		out[w.Source] = w.Target
	}
	return out
}

// startedAgain are the services whose containers started after the snapshot u.
func startedAgain(p *fullProject, u untouched) []string {
	var out []string
	for svc, c := range p.containers() {
		if before, ok := u.containers[svc]; ok && before != c.ID+" "+c.State.StartedAt+" "+string(c.State.Status) && c.State.Running {
			out = append(out, svc)
		}
	}
	sort.Strings(out)
	return out
}

func TestRestoreDryRunChangesNothing(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newFullProject(t, "sdryrestore")
	id := p.backup()
	damage(t, p.vol)
	u := snapshotOf(p)

	d := parsePlan(t, "restore.json", mustOK(t, p.maim("restore", "--dry-run", "--format", "json")))
	text := mustOK(t, p.maim("restore", "--dry-run")).Stdout
	t.Logf("restore --dry-run:\n%s", text)
	u.same("restore --dry-run")

	if d.BackupID != id || !d.Plan.SafetyBackup {
		t.Errorf("plan: backup %s (want %s), safety backup %v", d.BackupID, id, d.Plan.SafetyBackup)
	}
	stop := slices.Clone(d.Plan.Stop)
	sort.Strings(stop)
	if !slices.Equal(stop, []string{"bot", "store"}) {
		t.Errorf("plan stops %v, want bot and store (idle is stopped)", d.Plan.Stop)
	}
	if got := d.targets()["storedata"]; got != p.Name+"_storedata" {
		t.Errorf("plan writes storedata to %q: %+v", got, d.Plan.Write)
	}
	var phases []string
	for _, ph := range d.Plan.Phases {
		phases = append(phases, ph.Name)
	}
	if !slices.Equal(phases, []string{"safety-hot", "stop", "safety-backup", "restore", "recreate", "start", "gate"}) {
		t.Errorf("phases %v", phases)
	}
	for _, want := range []string{"restore from backup " + id, "storedata", p.Name + "_storedata", "dry run: nothing was changed"} {
		if !strings.Contains(text, want) {
			t.Errorf("text plan lacks %q:\n%s", want, text)
		}
	}

	// the real restore does what the plan said: that backup, those services stopped and
	// started again, a safety backup, the damaged volume back
	r := mustOK(t, p.maim("restore"))
	if !strings.Contains(r.Stdout, "from backup "+id) || safetyLine.FindStringSubmatch(r.Stdout) == nil {
		t.Errorf("restore: %s", r)
	}
	if got := startedAgain(p, u); !slices.Equal(got, stop) {
		t.Errorf("the restore restarted %v, the plan said %v", got, stop)
	}
	if sameAs := p.state()["storedata"]; sameAs == u.data["storedata"] {
		t.Errorf("storedata was not restored")
	}
}

func TestRollbackDryRunChangesNothing(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newFullProject(t, "sdryrollback")
	id := p.backup()
	damage(t, p.vol)
	u := snapshotOf(p)

	d := parsePlan(t, "rollback.json", mustOK(t, p.maim("rollback", id, "--dry-run", "--format", "json")))
	text := mustOK(t, p.maim("rollback", id, "--dry-run")).Stdout
	t.Logf("rollback --dry-run:\n%s", text)
	u.same("rollback --dry-run")
	if d.BackupID != id || !d.Plan.SafetyBackup || d.targets()["storedata"] != p.Name+"_storedata" {
		t.Errorf("plan: %+v", d)
	}
	var imgs []string
	for _, im := range d.Plan.Images {
		if im.OldID == "" {
			t.Errorf("image of %s has no ID to re-pin", im.Service)
		}
		imgs = append(imgs, im.Service)
	}
	sort.Strings(imgs)
	if !slices.Equal(imgs, []string{"bot", "idle", "store"}) {
		t.Errorf("plan puts back the images of %v", imgs)
	}
	for _, want := range []string{"rollback from backup " + id, "repin", "dry run: nothing was changed"} {
		if !strings.Contains(text, want) {
			t.Errorf("text plan lacks %q:\n%s", want, text)
		}
	}
	r := mustOK(t, p.maim("rollback", id))
	if !strings.Contains(r.Stdout, "rolled back to backup "+id) || !strings.Contains(r.Stdout, "the state before the rollback is in backup") {
		t.Errorf("rollback: %s", r)
	}
	if p.state()["storedata"] == u.data["storedata"] {
		t.Errorf("storedata was not rolled back")
	}
}

func TestPruneDryRunChangesNothing(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newFullProject(t, "sdryprune")
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, p.backup("--no-stop"))
	}
	// the listings for scripts, through the docker CLI: -q and a template, newest first
	if got, want := mustOK(t, p.maim("backups", "-q")).Stdout, ids[2]+"\n"+ids[1]+"\n"+ids[0]+"\n"; got != want {
		t.Errorf("backups -q: %q, want %q", got, want)
	}
	if got, want := mustOK(t, p.maim("backups", "--format", "{{.ID}} {{.Reason}}")).Stdout, ids[2]+" manual\n"+ids[1]+" manual\n"+ids[0]+" manual\n"; got != want {
		t.Errorf("backups --format: %q, want %q", got, want)
	}
	if got := mustOK(t, p.maim("status", "--format", "table {{.Service}}\t{{.State}}")).Stdout; !strings.HasPrefix(got, "SERVICE") || !strings.Contains(got, "running") {
		t.Errorf("status --format table: %q", got)
	}
	u := snapshotOf(p)
	type pruneDoc struct {
		Removed []struct {
			ID   string `json:"id"`
			Size int64  `json:"size"`
		} `json:"removed"`
		FreedBytes int64 `json:"freed_bytes"`
		DryRun     bool  `json:"dry_run"`
	}
	var dry, done pruneDoc
	r := mustOK(t, p.maim("prune", "--keep", "1", "--dry-run", "--format", "json"))
	checkSchema(t, "prune.json", r)
	must(t, json.Unmarshal([]byte(r.Stdout), &dry))
	text := mustOK(t, p.maim("prune", "--keep", "1", "--dry-run")).Stdout
	u.same("prune --dry-run")
	if !dry.DryRun || len(dry.Removed) != 2 || dry.FreedBytes <= 0 {
		t.Errorf("dry run: %s", r.Stdout)
	}
	if !strings.Contains(text, "would remove 2 backups") || !strings.Contains(text, "dry run: nothing was changed") {
		t.Errorf("text: %s", text)
	}
	r = mustOK(t, p.maim("prune", "--keep", "1", "--format", "json"))
	must(t, json.Unmarshal([]byte(r.Stdout), &done))
	if done.DryRun || len(done.Removed) != len(dry.Removed) || done.FreedBytes != dry.FreedBytes {
		t.Errorf("prune removed %+v (%d bytes), the dry run said %+v (%d bytes)", done.Removed, done.FreedBytes, dry.Removed, dry.FreedBytes)
	}
	for i := range done.Removed {
		if done.Removed[i] != dry.Removed[i] {
			t.Errorf("removed %+v, the dry run said %+v", done.Removed[i], dry.Removed[i])
		}
	}
	left, _ := os.ReadDir(filepath.Join(p.BackupDir, p.Name))
	var names []string
	for _, e := range left {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if !slices.Contains(names, ids[2]) || slices.Contains(names, ids[0]) || slices.Contains(names, ids[1]) {
		t.Errorf("left %v of %v", names, ids)
	}
}

// deadEngine is a DOCKER_HOST no engine answers on.
func deadEngine(t *testing.T) string {
	return "DOCKER_HOST=unix://" + filepath.Join(t.TempDir(), "no-engine.sock")
}

func TestFlagsRefusedBeforeTheEngine(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  a:\n    image: x\n"), 0o644))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"backup", "--level", "99"}, "--level 99: zstd levels are 1 to 22"},
		{[]string{"backup", "--compression", "none", "--level", "3"}, "has no levels"},
		{[]string{"prune", "--older-than", "30x"}, "invalid duration"},
		{[]string{"backups", "--format", "{{.ID"}, "template parsing error"},
	} {
		r := maimEnv(t, dir, []string{deadEngine(t)}, c.args...)
		wantFail(t, r, 125, c.want)
		if strings.Contains(r.Stderr, "unreachable") {
			t.Errorf("%v: the engine was contacted: %s", c.args, r)
		}
	}
}

func TestNoComposeFileBeforeEngineUnreachable(t *testing.T) {
	dir := t.TempDir()
	for _, verb := range [][]string{{"status"}, {"backup"}, {"backups"}, {"restore", "--dry-run"}} {
		r := maimEnv(t, dir, []string{deadEngine(t)}, verb...)
		wantFail(t, r, 6, "no compose file found in "+dir)
	}
	// a project named alone is found by its containers: only the engine can say
	r := maimEnv(t, dir, []string{deadEngine(t), "COMPOSE_PROJECT_NAME="}, "-p", "someproject", "status")
	wantFail(t, r, 5, "unreachable")
}

// TestRollbackDryRunOfAnInterruptedUpgrade: with an upgrade killed in a phase, rollback
// --dry-run names the operation it would resolve and how (after the data changed: the
// rollback's phases from the upgrade's backup; before: start what ran), leaves the
// journal, the containers and the data as they are, and the real rollback then resolves it
// from that backup.
func TestRollbackDryRunOfAnInterruptedUpgrade(t *testing.T) {
	t.Parallel()
	runConcurrently(t, 2, []string{"recreating", "backing-up"}, func(t *testing.T, phase string) {
		c := newCrashCase(t, "sdry", phase)
		wantKilled(t, c.maimWith([]string{"MAIM_FAILPOINT=upgrade:" + phase}, c.args...))
		journal, err := os.ReadFile(c.journalPath())
		if err != nil {
			t.Fatalf("no journal after the kill: %v", err)
		}
		before := map[string]string{}
		for svc, ct := range c.containers() {
			before[svc] = ct.ID + " " + ct.State.StartedAt + " " + string(ct.State.Status)
		}
		data := testrig.TreeHash(t, c.readVolume(c.vol)) // emptied already in recreating (--reset-data)
		backups := treediff.Of(t, c.BackupDir)

		r := mustOK(t, c.maim("rollback", "--dry-run", "--format", "json"))
		d := parsePlan(t, "rollback.json", r)
		var res struct {
			Resolved string `json:"resolved"`
		}
		must(t, json.Unmarshal([]byte(r.Stdout), &res))
		if res.Resolved != "upgrade in phase "+phase {
			t.Errorf("resolved %q", res.Resolved)
		}
		var phases []string
		for _, ph := range d.Plan.Phases {
			phases = append(phases, ph.Name)
		}
		want := []string{"safety-hot", "stop", "safety-backup", "restore", "repin", "recreate", "gate"}
		if phase == "backing-up" {
			want = []string{"resolve"}
		}
		if !slices.Equal(phases, want) {
			t.Errorf("phases %v, want %v", phases, want)
		}
		text := mustOK(t, c.maim("rollback", "--dry-run")).Stdout
		if !strings.Contains(text, "would resolve the interrupted upgrade in phase "+phase) || !strings.Contains(text, "dry run: nothing was changed") {
			t.Errorf("text plan:\n%s", text)
		}

		if now, _ := os.ReadFile(c.journalPath()); string(now) != string(journal) {
			t.Errorf("the dry run changed the journal:\n%s\n->\n%s", journal, now)
		}
		for svc, ct := range c.containers() {
			if now := ct.ID + " " + ct.State.StartedAt + " " + string(ct.State.Status); now != before[svc] {
				t.Errorf("container of %s changed: %s -> %s", svc, before[svc], now)
			}
		}
		if now := testrig.TreeHash(t, c.readVolume(c.vol)); now != data {
			t.Errorf("the data changed")
		}
		if diff := treediff.Diff(backups, treediff.Of(t, c.BackupDir), treediff.Options{}); len(diff) > 0 {
			t.Errorf("the backup dir changed:\n%s", strings.Join(diff, "\n"))
		}

		r = mustOK(t, c.maim(rollbackArgs...))
		if !strings.Contains(r.Stdout, "resolved the interrupted upgrade in phase "+phase) {
			t.Errorf("rollback: %s", r)
		}
		c.wantBackToV1(t, "rollback after its dry run")
		c.wantSettled(t)
	})
}
