// Package upgrade owns the upgrade transaction of a Compose project: the plan (pull
// first, breaking-change policy, config merges, space check), then its phases, each
// written to the journal before it acts by the journal's runner (internal/journal), and
// one failure path (fail: the rollback, internal/rollback). Read Upgrade top to bottom: the
// plan, the policy, then the phases (phase_*.go). With --compose-file the upgrade adopts a
// release's new compose files (adopt.go: the merge and what the plan shows; phase_adopt.go:
// the files written in place; the MaiBot checks called from adopt_maibot.go, their glue in
// internal/maibotgate). Manager runs in the environment every journaled operation shares
// (internal/stack); Shared is that environment with MaiBot's ready rule in every gate,
// which the application layer hands to the restore (internal/restore), the rollback
// (internal/rollback) and prune (internal/retention).
package upgrade

import (
	"context"
	"os"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/dbside"
	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/rollback"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/stack"
)

// Manager runs upgrades and rollbacks of one project, in the environment every journaled
// operation shares (internal/stack).
type Manager struct {
	stack.Env

	// phasesRun are the names of the phases the last upgrade ran, in order (tests compare
	// them with Plan.Phases).
	phasesRun []string
}

// Options tune an upgrade: api.UpgradeOptions as a Service gets them (Scope is not read
// here). ComposeFiles are merged with the project's files they replace positionally and
// written in place (adopt.go); with OnePass phase backup-hot does not run.
type Options = maim.UpgradeOptions

// Outcome is how an upgrade ended.
type Outcome = maim.Outcome

const (
	OutcomeUpgraded       = maim.OutcomeUpgraded
	OutcomeNothingToDo    = maim.OutcomeNothingToDo
	OutcomeDryRun         = maim.OutcomeDryRun
	OutcomeRefused        = maim.OutcomeRefused
	OutcomeFailed         = maim.OutcomeFailed // failed, not rolled back (--no-auto-rollback)
	OutcomeRolledBack     = maim.OutcomeRolledBack
	OutcomeRollbackFailed = maim.OutcomeRollbackFailed
)

// Result reports an upgrade (api.UpgradeResult; Error is the failure as the history
// records it).
type Result = maim.UpgradeResult

// Error is returned when an upgrade did not end upgraded; Outcome says how it ended.
type Error = maim.UpgradeError

// txn is one upgrade in progress: what its phases (phase_*.go) read and write.
type txn struct {
	m        *Manager
	p        *project.Project
	opts     Options
	journals Journals
	plan     *Plan
	res      *Result
	// runner holds the journal (jr) and the phases run so far.
	*runner
	// stopAt is when the services stopped (phase stop): the downtime starts there.
	stopAt time.Time
	// man is the upgrade's backup (phase backup).
	man *backup.Manifest
	// hot is pass one of the backup (phase backup-hot), which phase backup completes.
	hot *snapshot.BackupPlan
	// target is the project as recreated on the new images (phase recreate), the gate's.
	target *project.Project
	// adoption is what --compose-file does (planAdoption), nil without it.
	adoption *Adoption
	// sides are the side clusters of the migrated databases, by service (--migrate-db:
	// preMigrate starts them, phase reset swaps them into place; migrate_side.go).
	sides *dbside.Sides
}

// upgradePhases are the upgrade's phases after the plan (phase_plan.go), in order. Until
// backup has recorded backed-up no data has changed; from there on a failure restores
// from the backup.
var upgradePhases = []phase[*txn]{
	backupHotPhase,   // phase_backup_hot.go (two-pass backups: pass one, nothing stopped)
	stopPhase,        // phase_stop.go
	dumpDBPhase,      // phase_dump_db.go (--migrate-db: the dump, everything else stopped)
	backupPhase,      // phase_backup.go
	verifyPhase,      // phase_reset.go (--reset-data)
	resetPhase,       // phase_reset.go (--reset-data)
	mergePhase,       // phase_merge.go (config merges)
	adoptPhase,       // phase_adopt.go (--compose-file)
	migratePhase,     // phase_migrate.go (--migrate-db)
	recreatePhase,    // phase_recreate.go
	gatePhase,        // phase_gate.go
	postUpgradePhase, // svchooks.go (post-upgrade, post-backup commands)
	commitPhase,      // phase_commit.go
}

// Upgrade runs the transaction. The caller holds the project lock.
func (m *Manager) Upgrade(ctx context.Context, p *project.Project, opts Options) (*Result, error) {
	t := &txn{m: m, p: p, opts: opts, journals: m.journals(p.Name)}
	if err := t.journals.NonePending(); err != nil {
		return nil, err
	}
	// --compose-file: merge the new files with the project's; the plan is the merged project's.
	if len(opts.ComposeFiles) > 0 {
		ad, err := t.planAdoption(ctx)
		if err != nil {
			return nil, &Error{Outcome: OutcomeRefused, Cause: err}
		}
		t.adoption = ad
	}
	// The plan: pull the targets while everything still runs, check, measure.
	if err := t.makePlan(ctx); err != nil {
		return t.res, err
	}
	if t.plan.NothingToDo && !opts.Force {
		t.res.Outcome = OutcomeNothingToDo
		return t.res, nil
	}
	// The breaking-change policy.
	if err := t.policy(ctx); err != nil {
		return t.res, err
	}
	t.plan.Phases = describePhases(upgradePhases, t)
	if opts.DryRun {
		m.unpull(ctx, t.plan)
		t.res.Outcome = OutcomeDryRun
		return t.res, nil
	}
	// The pre-upgrade and pre-backup commands, in the running containers: a failure
	// refuses, nothing stopped.
	if err := t.preCommands(ctx); err != nil {
		return t.res, err
	}
	// The logical dumps, in the running containers: a failure refuses, nothing stopped.
	if err := t.preDumps(ctx); err != nil {
		return t.res, err
	}
	// --migrate-db: the old clusters' locale checked, their dump tool tried (the dumps
	// themselves are phase dump-db's, once everything else stopped); nothing stopped.
	if err := t.preMigrate(ctx); err != nil {
		return t.res, err
	}
	// The journal, then the phases, each recorded in it before it acts.
	if err := t.begin(); err != nil {
		if t.hot != nil {
			t.hot.Abort() // the dumps' begun backup
		}
		t.dropSides(ctx)
		return nil, err
	}
	err := runPhases(ctx, t.runner, upgradePhases, t)
	if err != nil && t.hot != nil {
		t.hot.Abort() // pass one of a backup never completed (a no-op once it was)
	}
	m.phasesRun = t.Ran
	if err == nil {
		return t.res, nil
	}
	undo, cause := journal.MustUndo(err)
	if undo {
		return t.fail(ctx, cause)
	}
	if len(t.Ran) == 0 {
		return nil, cause // the journal could not be written: nothing was touched
	}
	return t.res, cause // committed: the history could not be written
}

// begin writes the journal: planned, nothing stopped yet.
func (t *txn) begin() error {
	p, plan := t.p, t.plan
	jr := &Journal{
		Op: "upgrade", Project: p.Name, PID: os.Getpid(), Started: plan.Created, Phase: PhasePlanned,
		Running: plan.running.Services, Containers: plan.running.IDs, OneOffs: plan.running.OneOffs, Images: plan.Changes,
		WorkingDir: p.WorkingDir, ComposeFiles: p.ComposeFiles, EnvFiles: p.EnvFiles, Profiles: p.Profiles,
	}
	t.runner = &runner{Journals: t.journals, Journal: jr, Op: journal.OpUpgrade, Progress: t.m.Progress}
	return t.journals.Save(jr)
}

// fail is the one failure path of an upgrade that failed after something was stopped:
// roll back (resolve) unless told not to.
func (t *txn) fail(ctx context.Context, cause error) (*Result, error) {
	m, p, jr, res, opts, journals := t.m, t.p, t.Journal, t.res, t.opts, t.journals
	res.Error = cause.Error()
	if opts.NoAutoRollback {
		res.Outcome = OutcomeFailed
		res.Recovery = recoveryCommands(p.Name, jr)
		m.logf("upgrade failed; --no-auto-rollback: left as it is. The journal stays; `docker maim rollback` returns to the state before.")
		return res, &Error{Outcome: OutcomeFailed, Cause: cause, Recovery: res.Recovery}
	}
	m.logf("upgrade failed: %v; rolling back", cause)
	rctx := context.WithoutCancel(ctx)
	rb := &maim.RollbackReport{BackupID: jr.BackupID}
	err := m.RetryOnEngineTrouble(rctx, "the rollback", func() error {
		return rollback.Resolve(rctx, m.Shared(), p, jr, maim.RollbackOptions{NoSafetyBackup: true, Health: opts.Health}, rb)
	})
	res.Rollback = rb
	if err != nil {
		res.Outcome = OutcomeRollbackFailed
		res.Recovery = recoveryCommands(p.Name, jr)
		_ = journals.Append(Record{Op: "upgrade", Result: string(OutcomeRollbackFailed), Started: jr.Started, BackupID: jr.BackupID, Images: jr.Images, Error: cause.Error() + "; rollback: " + err.Error()})
		return res, &Error{Outcome: OutcomeRollbackFailed, Cause: cause, Rollback: err, Recovery: res.Recovery}
	}
	res.Outcome = OutcomeRolledBack
	_ = journals.Append(Record{Op: "upgrade", Result: string(OutcomeRolledBack), Started: jr.Started, BackupID: jr.BackupID, Images: jr.Images, Error: cause.Error()})
	return res, &Error{Outcome: OutcomeRolledBack, Cause: cause}
}

func recoveryCommands(project string, jr *Journal) []string {
	cmds := []string{"docker maim -p " + project + " status"}
	if jr.BackupID != "" {
		cmds = append(cmds,
			"docker maim -p "+project+" rollback "+jr.BackupID,
			"docker maim -p "+project+" restore "+jr.BackupID+" --no-safety-backup   # data and files only, then: docker compose up -d")
	} else {
		cmds = append(cmds, "docker maim -p "+project+" rollback   # restarts what ran; no data was changed")
	}
	return cmds
}
