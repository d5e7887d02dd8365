package upgrade

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/diffrestore"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/rollback"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/docker-maim/docker-maim/internal/volume/volumetest"
)

// The phases the fake-based transaction tests of transaction_test.go do not reach: a
// failure in the config merge, in the --reset-data emptying (after the verify passed) and
// in loading the compose files the --image edit rewrote; and the dry-run's phase list
// against the phases an upgrade runs.

const confBefore = "A=1\n"

// withMerge gives the rig a config file conf/app.env merged with a host template that
// adds B (the project's x-maim configs).
func (r *txRig) withMerge() {
	r.t.Helper()
	if err := os.MkdirAll(filepath.Join(r.dir, "conf"), 0o755); err != nil {
		r.t.Fatal(err)
	}
	for name, body := range map[string]string{"conf/app.env": confBefore, "tpl.env": "A=0\nB=2\n"} {
		if err := os.WriteFile(filepath.Join(r.dir, name), []byte(body), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.ext = map[string]any{"configs": []any{map[string]any{"file": "./conf/app.env", "template": map[string]any{"host_path": "./tpl.env"}}}}
	r.p = r.model()
}

func (r *txRig) read(name string) string {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, name))
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

// failingReset is the rig's mover whose first Restore (the --reset-data emptying) empties
// the target and then fails, as an emptying cut short does.
type failingReset struct {
	volumetest.DirMover
	failed *bool
}

func (m failingReset) Restore(ctx context.Context, t volume.Target, r io.Reader, opts volume.RestoreOptions) (archive.Stats, error) {
	st, err := m.DirMover.Restore(ctx, t, r, opts)
	if !*m.failed {
		*m.failed = true
		return st, errors.New("disk gone")
	}
	return st, err
}

// RestoreDiff fails the same way when the first data write is a differential restore.
func (m failingReset) RestoreDiff(ctx context.Context, t volume.Target, opts volume.DiffOptions) (diffrestore.Result, error) {
	res, err := m.DirMover.RestoreDiff(ctx, t, opts)
	if !*m.failed {
		*m.failed = true
		return res, errors.New("disk gone")
	}
	return res, err
}

// failingDelta fails pass two of every two-pass backup (the changes since pass one).
type failingDelta struct{ volumetest.DirMover }

func (m failingDelta) Backup(ctx context.Context, t volume.Target, w io.Writer, opts volume.BackupOptions) (archive.Stats, error) {
	if opts.Since != nil {
		return archive.Stats{}, errors.New("delta boom")
	}
	return m.DirMover.Backup(ctx, t, w, opts)
}

const composeWithImages = "services:\n  db:\n    image: db:16\n  bot:\n    image: bot:latest\n"

func TestUpgradeFailureInLaterPhasesRollsBack(t *testing.T) {
	cases := []struct {
		name  string
		setup func(r *txRig, opts *Options)
		cause string
		// the journal's phase when the upgrade failed (--no-auto-rollback)
		phase Phase
		// checked after the rollback
		check func(r *txRig)
	}{
		{
			name: "merge",
			setup: func(r *txRig, opts *Options) {
				r.withMerge()
				// the merged file is written, then saving the merge report beside the backup fails
				r.eng.hooks["tag docker-maim/pin:demo.bot"] = func() {
					if err := os.Mkdir(filepath.Join(r.store.Dir("demo", r.backups()[0].ID), "config-merge.json"), 0o755); err != nil {
						r.t.Fatal(err)
					}
				}
			},
			cause: "config merge: ",
			phase: PhaseMerging,
			check: func(r *txRig) {
				if got := r.read("conf/app.env"); got != confBefore {
					t.Errorf("conf/app.env %q after the rollback, want %q", got, confBefore)
				}
			},
		},
		{
			name: "reset-data emptying",
			setup: func(r *txRig, opts *Options) {
				r.m.Snapshots.Mover = failingReset{DirMover: r.mover, failed: new(bool)}
				opts.ResetData = []string{"./data"}
			},
			cause: "reset-data: emptying ./data: disk gone",
			phase: PhaseResetting,
		},
		{
			name: "reload after the --image edit",
			setup: func(r *txRig, opts *Options) {
				if err := os.WriteFile(filepath.Join(r.dir, "compose.yaml"), []byte(composeWithImages), 0o644); err != nil {
					r.t.Fatal(err)
				}
				r.eng.pullTo["bot:2"] = "sha256:new"
				opts.Images = map[string]string{"bot": "bot:2"}
				loads := 0
				r.m.Load = func(context.Context, project.Options) (*project.Project, error) {
					if loads++; loads == 1 {
						return nil, errors.New("yaml: line 5: did not find expected key")
					}
					return r.model(), nil
				}
			},
			cause: "loading the edited compose files: yaml: line 5",
			phase: PhaseRecreating,
			check: func(r *txRig) {
				if got := r.read("compose.yaml"); got != composeWithImages {
					t.Errorf("compose.yaml after the rollback:\n%s\nwant it as before the edit:\n%s", got, composeWithImages)
				}
			},
		},
	}
	for _, tc := range cases {
		for _, auto := range []bool{true, false} {
			name := tc.name
			if !auto {
				name += " no-auto-rollback"
			}
			t.Run(name, func(t *testing.T) {
				r := newTxRig(t)
				opts := Options{Health: fastHealth, NoAutoRollback: !auto}
				tc.setup(r, &opts)
				res, err := r.m.Upgrade(context.Background(), r.p, opts)
				var ue *Error
				if !errors.As(err, &ue) || !strings.Contains(ue.Cause.Error(), tc.cause) {
					t.Fatalf("Upgrade error = %v, want an *Error whose cause contains %q", err, tc.cause)
				}
				if auto {
					if ue.Outcome != OutcomeRolledBack || res.Outcome != OutcomeRolledBack || ue.Rollback != nil {
						t.Fatalf("outcome %s (%v), want rolled-back", res.Outcome, ue.Rollback)
					}
					if jr := r.journal(); jr != nil {
						t.Errorf("journal left after the rollback: %+v", jr)
					}
					h := r.history()
					if len(h) != 1 || h[0].Op != "upgrade" || h[0].Result != string(OutcomeRolledBack) || h[0].Error != ue.Cause.Error() || h[0].BackupID != res.BackupID {
						t.Errorf("history %+v, want one upgrade record rolled-back with the cause", h)
					}
				} else {
					if ue.Outcome != OutcomeFailed || res.Outcome != OutcomeFailed {
						t.Fatalf("outcome %s, want failed", res.Outcome)
					}
					jr := r.journal()
					if jr == nil || jr.Phase != tc.phase || jr.BackupID == "" || jr.BackupID != res.BackupID {
						t.Fatalf("journal %+v, want it kept in phase %s with the backup", jr, tc.phase)
					}
					if h := r.history(); len(h) != 0 {
						t.Errorf("history %+v, want none while the journal is pending", h)
					}
					rb, err := rollback.Rollback(context.Background(), r.m.Shared(), r.model(), maim.RollbackOptions{Health: fastHealth, NoSafetyBackup: true})
					if err != nil {
						t.Fatalf("Rollback: %v", err)
					}
					if rb.Resolved != "upgrade in phase "+string(tc.phase) {
						t.Errorf("resolved %q", rb.Resolved)
					}
					if jr := r.journal(); jr != nil {
						t.Errorf("journal left after the rollback: %+v", jr)
					}
				}
				if got, want := r.eng.running(), []string{"bot=sha256:old", "db=sha256:db"}; !reflect.DeepEqual(got, want) {
					t.Errorf("containers %q, want %q", got, want)
				}
				if id := r.eng.tags["bot:latest"]; id != "sha256:old" {
					t.Errorf("bot:latest names %s after the rollback, want the old image", id)
				}
				if d := r.dataNow(); d != "v1" {
					t.Errorf("data %q after the rollback, want v1", d)
				}
				if tc.check != nil {
					tc.check(r)
				}
			})
		}
	}
}

// The dry-run lists the phases an upgrade runs: with --reset-data and a merge, every
// phase applies, and the upgrade runs exactly the ones listed, in that order.
func TestDryRunListsThePhasesRun(t *testing.T) {
	r := newTxRig(t)
	r.withMerge()
	opts := Options{Health: fastHealth, ResetData: []string{"./data"}}
	dry := opts
	dry.DryRun = true
	res, err := r.m.Upgrade(context.Background(), r.p, dry)
	if err != nil || res.Outcome != OutcomeDryRun {
		t.Fatalf("dry run = %+v, %v", res, err)
	}
	var listed []string
	for _, ph := range res.Plan.Phases {
		if ph.Name == "adopt" && ph.Skipped {
			continue // --compose-file: adopt_test.go
		}
		if ph.Name == "post-upgrade" && ph.Skipped {
			continue // service commands run in containers: test/e2e/svchooks_test.go
		}
		if ph.Name == "migrate-db" && ph.Skipped {
			continue // a PostgreSQL server loads a dump: test/e2e/db_migrate_test.go
		}
		if ph.Skipped || ph.Description == "" {
			t.Errorf("phase %+v skipped or undescribed in an upgrade with --reset-data and a merge", ph)
		}
		listed = append(listed, ph.Name)
	}
	if want := []string{"backup-hot", "stop", "backup", "verify", "reset", "merge", "recreate", "gate", "commit"}; !reflect.DeepEqual(listed, want) {
		t.Errorf("dry run lists %q, want %q", listed, want)
	}
	if len(r.backups()) != 0 || r.journal() != nil || r.read("conf/app.env") != confBefore {
		t.Fatal("the dry run changed something")
	}

	res, err = r.m.Upgrade(context.Background(), r.p, opts)
	if err != nil || res.Outcome != OutcomeUpgraded {
		t.Fatalf("Upgrade = %+v, %v", res, err)
	}
	if !reflect.DeepEqual(r.m.phasesRun, listed) {
		t.Errorf("the upgrade ran %q, the dry run listed %q", r.m.phasesRun, listed)
	}
	if got := r.read("conf/app.env"); !strings.Contains(got, "B=2") {
		t.Errorf("conf/app.env %q: not merged", got)
	}

	// without --reset-data and merges those phases are listed as skipped, with why, and not run
	r2 := newTxRig(t)
	dry = Options{Health: fastHealth, DryRun: true}
	res, err = r2.m.Upgrade(context.Background(), r2.p, dry)
	if err != nil {
		t.Fatal(err)
	}
	var run, skipped []string
	for _, ph := range res.Plan.Phases {
		if ph.Skipped {
			skipped = append(skipped, ph.Name+": "+ph.Reason)
		} else {
			run = append(run, ph.Name)
		}
	}
	if want := []string{"verify: no --reset-data", "reset: no --reset-data", "merge: no config file to merge", "adopt: no --compose-file", "migrate-db: no --migrate-db", "post-upgrade: no post-upgrade or post-backup command"}; !reflect.DeepEqual(skipped, want) {
		t.Errorf("skipped %q, want %q", skipped, want)
	}
	res, err = r2.m.Upgrade(context.Background(), r2.p, Options{Health: fastHealth})
	if err != nil || !reflect.DeepEqual(r2.m.phasesRun, run) {
		t.Errorf("the upgrade ran %q (%v), the dry run listed %q", r2.m.phasesRun, err, run)
	}
}

// A failure in each of the rollback's own phases (resolving an upgrade left failed at the
// health gate) ends the rollback with the journal kept in rolling-back and the backup; once
// the fault is gone, `rollback` again finishes the job.
func TestRollbackFailureAtEachPhaseKeepsTheJournal(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name   string
		inject func(r *txRig) (heal func())
		cause  string
	}{
		{"stop", func(r *txRig) func() {
			r.eng.errs["stop bot"] = boom
			return func() { delete(r.eng.errs, "stop bot") }
		}, "stopping bot: boom"},
		{"safety-hot", func(r *txRig) func() {
			r.mover.FailBackup["data"] = boom
			return func() { delete(r.mover.FailBackup, "data") }
		}, "safety backup failed (pass one, while the services ran), nothing was stopped or rolled back"},
		{"safety-backup", func(r *txRig) func() {
			r.m.Snapshots.Mover = failingDelta{DirMover: r.mover}
			return func() { r.m.Snapshots.Mover = r.mover }
		}, "safety backup failed, nothing was rolled back (add --no-safety-backup to skip it): backing up ./data: delta boom"},
		{"restore", func(r *txRig) func() {
			r.m.Snapshots.Mover = failingReset{DirMover: r.mover, failed: new(bool)}
			return func() { r.m.Snapshots.Mover = r.mover }
		}, "disk gone"},
		{"repin", func(r *txRig) func() {
			load := r.m.Load
			r.m.Load = func(context.Context, project.Options) (*project.Project, error) { return nil, boom }
			return func() { r.m.Load = load }
		}, "loading the restored compose files: boom"},
		{"recreate", func(r *txRig) func() {
			r.comp.fail[2] = boom
			return func() {}
		}, "recreate: boom"},
		{"gate", func(r *txRig) func() {
			r.eng.unhealthy["sha256:old"] = true
			return func() { delete(r.eng.unhealthy, "sha256:old") }
		}, "unhealthy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTxRig(t)
			r.eng.unhealthy["sha256:new"] = true
			res, err := r.m.Upgrade(context.Background(), r.p, Options{Health: fastHealth, NoAutoRollback: true})
			if res == nil || res.Outcome != OutcomeFailed {
				t.Fatalf("Upgrade = %+v, %v; want failed", res, err)
			}
			delete(r.eng.unhealthy, "sha256:new")
			heal := tc.inject(r)
			_, err = rollback.Rollback(context.Background(), r.m.Shared(), r.model(), maim.RollbackOptions{Health: fastHealth})
			if err == nil || !strings.Contains(err.Error(), tc.cause) {
				t.Fatalf("Rollback error = %v, want it to contain %q", err, tc.cause)
			}
			if jr := r.journal(); jr == nil || jr.Phase != PhaseRollingBack || jr.BackupID != res.BackupID {
				t.Fatalf("journal %+v, want it kept in rolling-back with backup %s", jr, res.BackupID)
			}
			if h := r.history(); len(h) != 0 {
				t.Errorf("history %+v, want none while the journal is pending", h)
			}
			heal()
			rb, err := rollback.Rollback(context.Background(), r.m.Shared(), r.model(), maim.RollbackOptions{Health: fastHealth})
			if err != nil || rb.Resolved != "upgrade in phase rolling-back" {
				t.Fatalf("second Rollback = %+v, %v", rb, err)
			}
			if jr := r.journal(); jr != nil {
				t.Errorf("journal left: %+v", jr)
			}
			if got, want := r.eng.running(), []string{"bot=sha256:old", "db=sha256:db"}; !reflect.DeepEqual(got, want) {
				t.Errorf("containers %q, want %q", got, want)
			}
			if d := r.dataNow(); d != "v1" {
				t.Errorf("data %q after the rollback, want v1", d)
			}
		})
	}
}

// startsDuringPassOne is the rig's mover that, during pass one of the backup (the first
// Backup recording an index), runs start: something of the project starts meanwhile.
type startsDuringPassOne struct {
	volumetest.DirMover
	start func()
}

func (m *startsDuringPassOne) Backup(ctx context.Context, t volume.Target, w io.Writer, opts volume.BackupOptions) (archive.Stats, error) {
	if opts.Record != nil && m.start != nil {
		m.start()
		m.start = nil
	}
	return m.DirMover.Backup(ctx, t, w, opts)
}

// TestUpgradeStopListsWhatRunsAgain: db is stopped when the upgrade is planned and started
// during pass one; the stop phase lists what runs again, journals it before it stops
// anything, stops db with bot, and the backup records both as what ran. Before, the stop
// took the plan's list: db ran on through pass two.
func TestUpgradeStopListsWhatRunsAgain(t *testing.T) {
	r := newTxRig(t)
	db := r.eng.ctrs[0]
	db.running = false
	mv := &startsDuringPassOne{DirMover: r.mover, start: func() {
		r.eng.mu.Lock()
		db.running = true
		r.eng.mu.Unlock()
	}}
	r.m.Snapshots.Mover = mv
	var journaled []string
	r.eng.hooks["stop "] = func() {
		jr, err := r.m.journals("demo").Load()
		if err == nil && jr != nil {
			journaled = jr.Running
		}
	}
	res, err := r.m.Upgrade(context.Background(), r.p, Options{Health: fastHealth})
	if err != nil || res.Outcome != OutcomeUpgraded {
		t.Fatalf("Upgrade = %+v, %v", res, err)
	}
	var stops []string
	for _, c := range r.eng.Calls() {
		if strings.HasPrefix(c, "stop ") {
			stops = append(stops, c)
		}
	}
	if want := []string{"stop bot", "stop db"}; !reflect.DeepEqual(stops, want) {
		t.Errorf("stops %q, want %q", stops, want)
	}
	if want := []string{"db", "bot"}; !reflect.DeepEqual(journaled, want) {
		t.Errorf("the journal at the first stop records %q as what ran, want %q", journaled, want)
	}
	e, err := r.store.Get("demo", res.BackupID)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"db", "bot"}; !reflect.DeepEqual(e.Manifest.Running, want) {
		t.Errorf("the backup records %q as what ran, want %q", e.Manifest.Running, want)
	}
}
