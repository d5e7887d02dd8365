package e2e

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// progressLine is a line of --progress json as docs/json.md documents it (progress).
type progressLine struct {
	SchemaVersion int      `json:"schema_version"`
	Time          string   `json:"time"`
	Op            string   `json:"op"`
	Phase         string   `json:"phase"`
	Task          string   `json:"task"`
	Source        string   `json:"source"`
	Bytes         int64    `json:"bytes"`
	Total         int64    `json:"total"`
	Rate          int64    `json:"rate"`
	ETASeconds    *float64 `json:"eta_seconds"`
	Status        string   `json:"status"`
	Error         string   `json:"error"`
	Event         string   `json:"event"`
}

// step is how the tests name a line's step: "op/phase".
func (l progressLine) step() string { return l.Op + "/" + l.Phase }

// progressLines parses every --progress json line of stderr, checking each against (the
// strict copy of) docs/schema/progress.json. Lines that are not JSON objects are the error
// line a failed command prints (`docker maim: ...`): only those may be there.
func progressLines(t *testing.T, stderr string) []progressLine {
	t.Helper()
	s := loadSchemas(t)
	var out []progressLine
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.HasPrefix(l, "{") {
			if !strings.HasPrefix(l, "docker maim: ") && !strings.HasPrefix(l, "WARNING: ") {
				t.Errorf("--progress json wrote a line that is not JSON: %q", l)
			}
			continue
		}
		for _, e := range s.validate("progress.json", decode(t, "progress line", l)) {
			t.Errorf("progress line does not match docs/schema/progress.json: %s\n%s", e, l)
		}
		var v progressLine
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("--progress json line %q: %v", l, err)
		}
		out = append(out, v)
	}
	return out
}

// progressTasks groups the task lines of stderr by task name, in order.
func progressTasks(t *testing.T, stderr string) map[string][]progressLine {
	t.Helper()
	out := map[string][]progressLine{}
	for _, v := range progressLines(t, stderr) {
		if v.Task != "" {
			out[v.Task] = append(out[v.Task], v)
		}
	}
	return out
}

// progressSteps lists the steps ("op/phase") of the lines in the order they first show.
func progressSteps(lines []progressLine) []string {
	var out []string
	for _, l := range lines {
		if l.Phase != "" && !slices.Contains(out, l.step()) {
			out = append(out, l.step())
		}
	}
	return out
}

// wantStepsInOrder checks that the steps lines showed (progressSteps) are steps of order,
// in its order, and that each of must shows.
func wantStepsInOrder(t *testing.T, got, order []string, must ...string) {
	t.Helper()
	i := 0
	for _, st := range got {
		for i < len(order) && order[i] != st {
			i++
		}
		if i == len(order) {
			t.Errorf("step %q is not one of %q in that order: %q", st, order, got)
			return
		}
	}
	for _, st := range must {
		if !slices.Contains(got, st) {
			t.Errorf("no line in step %q: %q", st, got)
		}
	}
}

// The steps of each operation as its phase table lists them (docs/json.md#progress).
var (
	restoreSteps  = []string{"restore/safety-hot", "restore/stop", "restore/safety-backup", "restore/restore", "restore/recreate", "restore/start", "restore/gate"}
	rollbackSteps = []string{"rollback/safety-hot", "rollback/stop", "rollback/safety-backup", "rollback/restore", "rollback/repin", "rollback/recreate", "rollback/gate"}
)

// wantTotals checks one task: its first line already knows the total (want, or at least
// atLeast when want is 0) and is in step ("op/phase"), and its last line is a done line
// with bytes == total > 0 and an ETA.
func wantTotals(t *testing.T, tasks map[string][]progressLine, task, source, step string, want, atLeast int64) {
	t.Helper()
	ls := tasks[task]
	if len(ls) < 2 {
		t.Errorf("task %q: %d lines (have %d tasks)", task, len(ls), len(tasks))
		return
	}
	first, last := ls[0], ls[len(ls)-1]
	if first.Status != "running" || first.Source != source || first.step() != step {
		t.Errorf("%s: first line %+v, want running, source %q, step %q", task, first, source, step)
	}
	if (want > 0 && first.Total != want) || first.Total < atLeast || first.Total <= 0 {
		t.Errorf("%s: total %d before the copy, want %d (at least %d)", task, first.Total, want, atLeast)
	}
	if last.Status != "done" || last.Bytes <= 0 || last.Bytes != last.Total || last.ETASeconds == nil || *last.ETASeconds != 0 {
		t.Errorf("%s: last line %+v, want done with bytes == total > 0 and eta_seconds 0", task, last)
	}
	for _, l := range ls {
		if l.Total > 0 && l.Bytes > l.Total && l.Status == "running" {
			t.Errorf("%s: %d bytes past the total %d on a running line", task, l.Bytes, l.Total)
		}
	}
}

// wantRestoreTotals checks the restore task of source: a full restore's ("restore SOURCE")
// as wantTotals does, with the manifest's bytes as its total; or a differential restore's
// ("restore SOURCE (differential)"), whose total is not known when it starts (the
// comparison with the backup's index decides what is rewritten, as pass two's changes are
// not known before it reads them) and which ends done with bytes == total: what it wrote.
func wantRestoreTotals(t *testing.T, tasks map[string][]progressLine, source, step string, want int64) {
	t.Helper()
	ls, diff := tasks["restore "+source+" (differential)"]
	if !diff {
		wantTotals(t, tasks, "restore "+source, source, step, want, 0)
		return
	}
	if _, full := tasks["restore "+source]; full {
		t.Errorf("%s restored both in full and differentially", source)
	}
	first, last := ls[0], ls[len(ls)-1]
	if first.Status != "running" || first.Source != source || first.step() != step {
		t.Errorf("%s (differential): first line %+v, want running, source %q, step %q", source, first, source, step)
	}
	if last.Status != "done" || last.Bytes < 0 || last.Bytes != last.Total || last.Bytes > want {
		t.Errorf("%s (differential): last line %+v, want done with 0 <= bytes == total <= %d (the backup's)", source, last, want)
	}
	// What it rewrote was written either here or, before the stop, into the stage (the
	// two-pass differential restore: "stage SOURCE (while running)", renamed into place
	// after the stop, writing no bytes then): at least one of the two wrote something.
	staged := int64(0)
	if st, ok := tasks["stage "+source+" (while running)"]; ok {
		sl := st[len(st)-1]
		if sl.Status != "done" || sl.Bytes != sl.Total || sl.Bytes > want || sl.step() != strings.Split(step, "/")[0]+"/safety-hot" {
			t.Errorf("stage %s: last line %+v, want done in the safety-hot step with bytes == total <= %d", source, sl, want)
		}
		staged = sl.Bytes
	}
	if last.Bytes == 0 && staged == 0 {
		t.Errorf("%s (differential): nothing written, neither staged before the stop nor rewritten after it", source)
	}
}

// writeRandom writes n incompressible bytes to path.
func writeRandom(t *testing.T, path string, n int) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, uint64(n)))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	must(t, os.WriteFile(path, b, 0o644))
}

// --progress json of a backup and of a restore: every source's total is known before its
// copy starts (measured, or the manifest's bytes; a differential restore's when it has
// compared: wantRestoreTotals), and each task ends at bytes == total.
func TestProgressJSONTotals(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newProject(t, "progress", optsCompose)
	compose(t, p, "up", "-d", "--wait")
	writeRandom(t, p.Path("config/model.bin"), 3<<20)
	writeRandom(t, p.Path("config/sub/extra.bin"), 512<<10)
	vol := p.volumeDir(p.Name + "_appdata")
	writeRandom(t, filepath.Join(vol, "db.bin"), 2<<20)

	r := mustOK(t, p.maim("--progress", "json", "backup"))
	id := backupID(t, r)
	m := p.manifest(id)
	tasks := progressTasks(t, r.Stderr)
	cfg := m.source(t, "./config")
	if cfg.Bytes < 3<<20+512<<10 {
		t.Fatalf("./config archived %d bytes", cfg.Bytes)
	}
	// A bind dir only this test writes: measured exactly. The volume's bot may log a line
	// between the measure and the stop: at least what the test wrote.
	// Running, so two passes: the directories while it runs (backup-hot), the project file
	// stopped (backup); the backup verb's steps in order.
	wantTotals(t, tasks, "./config", "./config", "backup/backup-hot", cfg.Bytes, 0)
	wantTotals(t, tasks, "appdata", "appdata", "backup/backup-hot", 0, 2<<20)
	wantTotals(t, tasks, "file:compose.yaml", "file:compose.yaml", "backup/backup", m.source(t, "file:compose.yaml").Bytes, 0)
	if got, want := progressSteps(progressLines(t, r.Stderr)), []string{"backup/backup-hot", "backup/stop", "backup/backup", "backup/start"}; !slices.Equal(got, want) {
		t.Errorf("backup steps %q, want %q", got, want)
	}

	// Change the data, then restore: the restore's totals are the manifest's bytes; its
	// safety backup measures what it replaces.
	must(t, os.Remove(p.Path("config/model.bin")))
	writeRandom(t, p.Path("config/other.bin"), 1<<20)
	r = mustOK(t, p.maim("--progress", "json", "restore", id))
	tasks = progressTasks(t, r.Stderr)
	wantRestoreTotals(t, tasks, "./config", "restore/restore", cfg.Bytes)
	wantRestoreTotals(t, tasks, "appdata", "restore/restore", m.source(t, "appdata").Bytes)
	// The safety backup's pass one, while the app runs (safety-hot), has the totals measured.
	wantTotals(t, tasks, "./config", "./config", "restore/safety-hot", 0, 1<<20+512<<10)
	wantStepsInOrder(t, progressSteps(progressLines(t, r.Stderr)), restoreSteps, "restore/safety-hot", "restore/stop", "restore/safety-backup", "restore/restore")
	got, err := os.ReadFile(p.Path("config/model.bin"))
	if err != nil || len(got) != 3<<20 {
		t.Fatalf("model.bin not restored: %d bytes, %v", len(got), err)
	}
	if bytes.Contains([]byte(r.Stderr), []byte(`"total":-`)) {
		t.Errorf("a negative total: %s", r.Stderr)
	}
}

// An upgrade's backup takes its totals from the plan and its lines carry the journal's
// phase; the rollback's restore takes the manifest's bytes.
func TestProgressJSONUpgradeAndRollback(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	bp := newBotProject(t, "progress-up", "")
	writeRandom(t, filepath.Join(bp.volumeDir(bp.vol), "user/big.bin"), 2<<20)
	bp.setEnv("BOT_VERSION", "2.0.0")
	r := bp.maim(append([]string{"--progress", "json"}, upgradeArgs...)...)
	id := upgraded(t, r, bp.Name, bp.repo+":1.0.0", bp.repo+":2.0.0")
	tasks := progressTasks(t, r.Stderr)
	wantTotals(t, tasks, "botdata", "botdata", "upgrade/backup-hot", 0, 2<<20)
	wantTotals(t, tasks, "./config", "./config", "upgrade/backup-hot", bp.manifest(id).source(t, "./config").Bytes, 0)

	r = mustOK(t, bp.maim("--progress", "json", "rollback", "--stable-period", "3s", "--timeout", "2m"))
	tasks = progressTasks(t, r.Stderr)
	wantRestoreTotals(t, tasks, "botdata", "rollback/restore", bp.manifest(id).source(t, "botdata").Bytes)
	wantTotals(t, tasks, "botdata", "botdata", "rollback/safety-hot", 0, 2<<20) // the pre-rollback backup's pass one
	wantStepsInOrder(t, progressSteps(progressLines(t, r.Stderr)), rollbackSteps, "rollback/safety-hot", "rollback/stop", "rollback/safety-backup", "rollback/restore", "rollback/gate")
	bp.wantBot("1.0.0")
	bp.wantUpChangesNothing()
}
