// Package rollback owns going back: the rollback to a backup (`docker maim rollback`, and
// the upgrade's automatic one), a list of phases on the journal's runner (phase_*.go:
// safety-hot, stop, safety-backup, restore, repin, recreate, gate; the safety backup in
// two passes, pass one while what runs still runs), and crash resolution: an
// interrupted operation's journal is resolved by rolling it back (Resolve: start what ran
// when nothing had changed, else roll back from its backup; a restore's own undo is
// restore.Resolve).
package rollback

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/dbside"
	"github.com/docker-maim/docker-maim/internal/health"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/restore"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/stack"
)

// ImageChange is one service's image before and after (journal.ImageChange).
type ImageChange = journal.ImageChange

// Rollback returns the project to a backup: the interrupted operation's, or the last
// upgrade's, or the one named. The caller holds the project lock.
func Rollback(ctx context.Context, m *stack.Env, p *project.Project, opts maim.RollbackOptions) (*maim.RollbackReport, error) {
	journals := m.Journals(p.Name)
	jr, err := journals.Load()
	if err != nil {
		return nil, err
	}
	if jr != nil && (opts.ID == "" || opts.ID == jr.BackupID) {
		m.Logf("resolving the interrupted %s (phase %s)", jr.Op, jr.Phase)
		res := &maim.RollbackReport{BackupID: jr.BackupID, Resolved: jr.Op + " in phase " + string(jr.Phase), Images: jr.Images}
		rm, err := m.ForJournal(jr)
		if err != nil {
			return nil, err
		}
		if rm != m {
			// The caller locked its own backup dir; this one is written too (the
			// safety backup, the partial backup removed): every writer takes its lock.
			unlock, err := rm.Store.Lock(p.Name)
			if err != nil {
				return nil, err
			}
			defer unlock()
		}
		if err := Resolve(ctx, rm, p, jr, opts, res); err != nil {
			return res, err
		}
		return res, journals.Append(journal.Record{Op: "rollback", Result: "rolled-back", Started: jr.Started, BackupID: jr.BackupID, Images: jr.Images})
	}
	if jr != nil {
		return nil, fmt.Errorf("%w: an interrupted %s (backup %s) must be rolled back first: `docker maim rollback`", journal.ErrInterrupted, jr.Op, jr.BackupID)
	}
	id := opts.ID
	if id == "" {
		if id, err = journals.LastUpgradeBackup(); err != nil {
			return nil, err
		}
	}
	entry, err := m.Store.Get(p.Name, id)
	if err != nil {
		return nil, err
	}
	if entry.Status != backup.StatusComplete {
		return nil, fmt.Errorf("backup %s is %s: %s", id, entry.Status, entry.Problem)
	}
	var notice string
	if notice = stack.OriginNotice(entry); notice != "" {
		m.Logf("%s", notice)
	}
	if err := checkRoot(ctx, m, p, entry.Manifest); err != nil {
		return nil, err
	}
	// The archives are checked while everything still runs: a damaged backup is refused
	// without downtime, and the restore does not check them again while the services are
	// stopped.
	m.Logf("checking backup %s", id)
	if err := snapshot.CheckError(m.Store.CheckHashes(entry, nil)); err != nil {
		return nil, err
	}
	start := time.Now().UTC()
	jr = &journal.Journal{
		Op: "rollback", Project: p.Name, PID: os.Getpid(), Started: start, Phase: journal.PhaseBackedUp, BackupID: id,
		WorkingDir: entry.Manifest.WorkingDir, ComposeFiles: entry.Manifest.ComposeFiles, EnvFiles: entry.Manifest.EnvFiles, Profiles: entry.Manifest.Profiles,
	}
	for _, s := range entry.Manifest.Services {
		jr.Images = append(jr.Images, journal.ImageChange{Service: s.Name, OldRef: s.Image, OldID: s.ImageID, OldDigests: s.RepoDigests, OldVersion: s.Version})
	}
	if err := journals.Save(jr); err != nil {
		return nil, err
	}
	res := &maim.RollbackReport{BackupID: id, Images: jr.Images}
	if notice != "" {
		defer func() { res.Warnings = append([]string{notice}, res.Warnings...) }()
	}
	if err := rollbackTo(ctx, m, p, jr, entry, opts, true, res); err != nil {
		return res, err
	}
	return res, journals.Finish(journal.Record{Op: "rollback", Result: "rolled-back", Started: start, BackupID: id, Images: jr.Images})
}

// Resolve undoes an operation recorded in a journal and removes the journal.
// Before the backup completed nothing was changed: start what ran, drop the partial
// backup, put floating tags back. After: a full rollback from the backup.
// res receives the safety backup's ID.
func Resolve(ctx context.Context, m *stack.Env, p *project.Project, jr *journal.Journal, opts maim.RollbackOptions, res *maim.RollbackReport) error {
	if jr.Op == journal.OpRestore {
		rr := restore.Resolved{BackupID: res.BackupID, FileEdits: res.FileEdits, Warnings: res.Warnings, WorkingDir: res.WorkingDir}
		err := restore.Resolve(ctx, m, p, jr, health.From(opts.Health), &rr)
		res.BackupID, res.FileEdits, res.Warnings, res.WorkingDir = rr.BackupID, rr.FileEdits, rr.Warnings, rr.WorkingDir
		return err
	}
	if err := cleanSides(ctx, m, p.Name); err != nil {
		return err
	}
	journals := m.Journals(p.Name)
	if !journal.DataChanged(jr.Phase) || jr.BackupID == "" {
		for _, c := range jr.Images {
			if c.OldRef == c.NewRef && c.OldID != "" {
				_ = stack.Repoint(ctx, m.Engine, c.OldID, c.OldRef)
			}
		}
		if jr.BackupID != "" {
			if e, err := m.Store.Get(p.Name, jr.BackupID); err == nil && e.Status != backup.StatusComplete {
				_ = m.Store.Remove(p.Name, jr.BackupID)
			}
		}
		m.RemoveIncomplete(p.Name)
		// The files may name what the user edited them to for the upgrade: name what runs.
		want := map[string]string{}
		for _, c := range jr.Images {
			if c.OldID != "" && c.OldRef != "" {
				want[c.Service] = c.OldRef
			}
		}
		res.WorkingDir = p.WorkingDir
		res.FileEdits, res.Warnings = m.NameWhatRuns(p, want, "the one the service runs")
		r := journal.Ran(jr)
		m.Logf("nothing was changed yet: starting %s again", r.Describe())
		if err := p.Start(ctx, m.Engine, r); err != nil {
			return err
		}
		if err := m.GateServices(ctx, p, r.Services, health.From(opts.Health)); err != nil {
			return err
		}
		return os.Remove(journals.Path())
	}
	entry, err := m.Store.Get(p.Name, jr.BackupID)
	if err != nil {
		return err
	}
	if entry.Status != backup.StatusComplete {
		return fmt.Errorf("backup %s of the interrupted operation is %s", jr.BackupID, entry.Status)
	}
	if err := checkRoot(ctx, m, p, entry.Manifest); err != nil {
		return err
	}
	// An encrypted backup without a fitting identity: refused before anything stops; the
	// journal stays for a run with --identity.
	if err := snapshot.CheckError(entry.CheckIdentity()); err != nil {
		return err
	}
	// A safety backup the interrupted run began (killed in safety-hot or before its
	// manifest) is incomplete, never restored: it goes.
	m.RemoveIncomplete(p.Name)
	journal.DiscardRenames(jr) // the restore puts the old files back
	if jr.Phase != journal.PhaseRollingBack {
		jr.Phase = journal.PhaseRollingBack
		if err := journals.Save(jr); err != nil {
			return err
		}
	}
	if err := rollbackTo(ctx, m, p, jr, entry, opts, false, res); err != nil {
		return err
	}
	return os.Remove(journals.Path())
}

// cleanSides removes the side clusters an interrupted upgrade --migrate-db left (their
// containers and side directories, found by their labels: dbside.Cleanup): before its swap
// the old data directory is as it was but for them; after it the restore puts it back.
func cleanSides(ctx context.Context, m *stack.Env, project string) error {
	eng, ok := m.Engine.(dbside.Engine)
	mv, ok2 := m.Snapshots.Mover.(dbside.Mover)
	if !ok || !ok2 {
		return nil
	}
	n, err := dbside.Cleanup(ctx, eng, mv, project)
	if n > 0 {
		m.Logf("removed %d side cluster(s) of an interrupted --migrate-db", n)
	}
	return err
}

// checkRoot refuses, before anything stops, a backup dir that lies in or holds a source
// the rollback overwrites (the backup's) or its safety backup archives (the project's now).
func checkRoot(ctx context.Context, m *stack.Env, p *project.Project, man *backup.Manifest) error {
	cur, err := p.Sources(ctx, m.Engine)
	if err != nil {
		return err
	}
	return backup.CheckRoot(m.Store.LocalRoot(), append(cur, backup.ManifestSources(man.Sources)...))
}

// rtxn is one rollback to a backup in progress: what its phases (phase_*.go) read
// and write.
type rtxn struct {
	env  *stack.Env
	p    *project.Project
	man  *backup.Manifest
	opts maim.RollbackOptions
	// checked: the backup's archives passed the hash check before anything stopped.
	checked bool
	res     *maim.RollbackReport
	*journal.Runner
	// running is what ran when the rollback began (phase stop).
	running project.Running
	// safety is the safety backup safety-hot began (nil without one); idle (dry-run only):
	// running was listed before anything and nothing runs.
	safety *snapshot.BackupPlan
	idle   bool
	// staged is the restore planned before the stop whose sources safety-hot staged
	// (restore.Prestage); the restore phase takes the stages over.
	staged *snapshot.RestorePlan
	// target is the project as the backup's files describe it, each service on the
	// image it ran (phase repin), the one recreated and gated.
	target *project.Project
}

// rollbackPhases are the phases of a rollback to a backup, in order, all in the journal
// phase rolling-back. A failure ends the rollback with the journal kept: `rollback` again
// resolves it from the same backup.
var rollbackPhases = []journal.Step[*rtxn]{
	rollbackSafetyHot, // phase_safety_hot.go
	rollbackStop,      // phase_stop.go
	rollbackSafety,    // phase_safety.go
	rollbackRestore,   // phase_restore.go
	rollbackRepin,     // phase_repin.go
	rollbackRecreate,  // phase_recreate.go
	rollbackGate,      // phase_gate.go
}

// rollbackTo makes the project what it was at backup entry: data, config and compose
// files restored, the old images re-pinned by ID under their references, containers
// recreated, the health gate passed. checked: the backup's archives passed the hash check
// before anything stopped.
func rollbackTo(ctx context.Context, m *stack.Env, p *project.Project, jr *journal.Journal, entry backup.Entry, opts maim.RollbackOptions, checked bool, res *maim.RollbackReport) error {
	journals := m.Journals(p.Name)
	jr.Phase = journal.PhaseRollingBack
	if err := journals.Save(jr); err != nil {
		return err
	}
	t := &rtxn{env: m, p: p, man: entry.Manifest, opts: opts, checked: checked, res: res, Runner: &journal.Runner{Journals: journals, Journal: jr, Op: journal.OpRollback, Progress: m.Progress}}
	_, err := journal.MustUndo(journal.RunPhases(ctx, t.Runner, rollbackPhases, t))
	if t.safety != nil {
		t.safety.Abort() // a safety backup begun and never committed (a no-op once it was)
	}
	m.Snapshots.DropStaged(context.WithoutCancel(ctx), t.staged) // not taken by a restore: the stages go
	return err
}

func envFilesFor(man *backup.Manifest) []string {
	// The project's .env is found by compose itself; only explicit ones need passing.
	var out []string
	for _, f := range man.EnvFiles {
		if !strings.HasSuffix(f, string(os.PathSeparator)+".env") {
			out = append(out, f)
		}
	}
	return out
}
