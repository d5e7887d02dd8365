// Package upgrade owns the upgrade transaction of a Compose project and what surrounds
// it: the plan (pull first, breaking-change policy, config merges, space check), the
// journal that makes every phase recoverable after a crash, the automatic and manual
// rollback, the journaled restore, status and prune. After an upgrade, a rollback or a
// restore the compose file names what runs (filenames.go: minimal edits through
// internal/composefile; a restore recreates what the restored files describe otherwise).
// Read Upgrade top to bottom: each phase is written to the journal before it acts.
package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/composefile"
	"github.com/docker-maim/docker-maim/internal/config"
	"github.com/docker-maim/docker-maim/internal/health"
	"github.com/docker-maim/docker-maim/internal/progress"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/client"
)

// Engine is what the transaction needs from the Docker engine.
type Engine interface {
	snapshot.Engine
	health.Engine
	ImageEngine
	config.ImageFileReader
	DiskUsage(ctx context.Context, options client.DiskUsageOptions) (client.DiskUsageResult, error)
	Pinger
}

// Composer recreates services; api.Compose satisfies it.
type Composer interface {
	Up(ctx context.Context, project *types.Project, options api.UpOptions) error
}

// Manager runs upgrades and rollbacks of one project.
type Manager struct {
	Engine    Engine
	Compose   Composer
	Snapshots *snapshot.Service
	Store     backup.Store
	// State is the engine's state directory: the project's journal and history.
	State    backup.State
	Progress *progress.Reporter
	// Load loads the project again from files (after a rollback restored them).
	Load func(ctx context.Context, o project.Options) (*project.Project, error)
	// Auth returns the registry credential for a reference ("" for none).
	Auth func(ref string) string
	// Log receives human-readable progress lines (may be nil).
	Log io.Writer
}

func (m *Manager) logf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if m.Progress != nil {
		m.Progress.Event(msg)
	} else if m.Log != nil {
		fmt.Fprintln(m.Log, msg)
	}
}

func (m *Manager) auth(ref string) string {
	if m.Auth == nil {
		return ""
	}
	return m.Auth(ref)
}

// Options tune an upgrade.
type Options struct {
	Images         map[string]string // --image SERVICE=REF
	Force          bool
	DryRun         bool
	AcceptBreaking bool
	NoAutoRollback bool
	ResetData      []string
	KeepUnknown    bool
	ShowSecrets    bool // the plan's config diffs show secret values (see config.Diff)
	Health         health.Options
	Compression    archive.Compression
	Level          int

	// IncludeHostPaths are host paths backed up as data (--include-host-path).
	IncludeHostPaths []string
}

// Outcome is how an upgrade ended.
type Outcome string

const (
	OutcomeUpgraded       Outcome = "upgraded"
	OutcomeNothingToDo    Outcome = "nothing-to-do"
	OutcomeDryRun         Outcome = "dry-run"
	OutcomeRefused        Outcome = "refused"
	OutcomeFailed         Outcome = "failed" // failed, not rolled back (--no-auto-rollback)
	OutcomeRolledBack     Outcome = "rolled-back"
	OutcomeRollbackFailed Outcome = "rollback-failed"
)

// Result reports an upgrade.
type Result struct {
	Plan     *Plan         `json:"plan"`
	Outcome  Outcome       `json:"outcome"`
	BackupID string        `json:"backup_id,omitempty"`
	Downtime time.Duration `json:"downtime_ns,omitempty"`
	Error    string        `json:"error,omitempty"`
	// Recovery lists the commands to run by hand when the rollback failed.
	Recovery []string `json:"recovery,omitempty"`
	// FileEdits are the edits the upgrade wrote into the compose or env files (--image).
	FileEdits []composefile.Edit `json:"file_edits,omitempty"`
	// Rollback says what the automatic rollback did (outcome rolled-back).
	Rollback *RollbackResult `json:"rollback,omitempty"`
}

// Error is returned when an upgrade did not end upgraded; Outcome says how it ended.
type Error struct {
	Outcome  Outcome
	Cause    error
	Rollback error
	Recovery []string
}

func (e *Error) Error() string {
	switch e.Outcome {
	case OutcomeRolledBack:
		return fmt.Sprintf("upgrade failed and was rolled back: %v", e.Cause)
	case OutcomeRollbackFailed:
		return fmt.Sprintf("upgrade failed (%v) and the rollback failed too: %v; to recover: %s", e.Cause, e.Rollback, strings.Join(e.Recovery, " ; "))
	case OutcomeRefused:
		return fmt.Sprintf("upgrade refused, nothing was changed: %v", e.Cause)
	}
	return fmt.Sprintf("upgrade failed: %v", e.Cause)
}

func (e *Error) Unwrap() error { return e.Cause }

// ErrInterrupted means an earlier operation left a journal: resolve it first.
var ErrInterrupted = errors.New("an interrupted operation must be resolved first")

// Upgrade runs the transaction. The caller holds the project lock.
func (m *Manager) Upgrade(ctx context.Context, p *project.Project, opts Options) (*Result, error) {
	journals := m.journals(p.Name)
	if err := journals.NonePending(); err != nil {
		return nil, err
	}

	// 1. Plan and preflight: pull the targets while everything still runs.
	plan, err := m.makePlan(ctx, p, opts)
	if err != nil {
		if plan != nil {
			m.unpull(ctx, plan)
			return &Result{Plan: plan, Outcome: OutcomeRefused, Error: err.Error()}, &Error{Outcome: OutcomeRefused, Cause: err}
		}
		return nil, err
	}
	res := &Result{Plan: plan}
	if plan.NothingToDo && !opts.Force {
		res.Outcome = OutcomeNothingToDo
		return res, nil
	}
	// 2. Breaking-change policy.
	if len(plan.Breaking) > 0 && !opts.AcceptBreaking && !opts.DryRun {
		m.unpull(ctx, plan)
		var lines []string
		for _, f := range plan.Breaking {
			lines = append(lines, f.String())
		}
		cause := fmt.Errorf("breaking change: %s; read the notes, then run again with --accept-breaking (and --reset-data SOURCE to start that data afresh)", strings.Join(lines, "; "))
		res.Outcome, res.Error = OutcomeRefused, cause.Error()
		_ = journals.Append(Record{Op: "upgrade", Result: string(OutcomeRefused), Started: plan.Created, Images: plan.Changes, Error: cause.Error()})
		return res, &Error{Outcome: OutcomeRefused, Cause: cause}
	}
	if opts.DryRun {
		m.unpull(ctx, plan)
		res.Outcome = OutcomeDryRun
		return res, nil
	}

	jr := &Journal{
		Op: "upgrade", Project: p.Name, PID: os.Getpid(), Started: plan.Created, Phase: PhasePlanned,
		Running: plan.running.Services, Containers: plan.running.IDs, Images: plan.Changes,
		WorkingDir: p.WorkingDir, ComposeFiles: p.ComposeFiles, EnvFiles: p.EnvFiles, Profiles: p.Profiles,
	}
	if err := journals.Save(jr); err != nil {
		return nil, err
	}

	// 3. Stop and back up. Until the backup is complete the data is untouched.
	stopAt := time.Now()
	jr.Phase = PhaseBackingUp
	if err := journals.Save(jr); err != nil {
		return nil, err
	}
	m.logf("stopping %s", strings.Join(plan.running.Services, ", "))
	if err := p.Stop(ctx, m.Engine, plan.running); err != nil {
		return m.fail(ctx, p, jr, res, opts, fmt.Errorf("stopping: %w", err))
	}
	info := &backup.UpgradeInfo{From: map[string]string{}, To: map[string]string{}}
	for _, c := range plan.Changes {
		info.From[c.Service], info.To[c.Service] = c.From(), c.To()
	}
	man, err := m.Snapshots.Backup(ctx, p, snapshot.BackupOptions{
		Reason: "upgrade", Stopped: &plan.running, Upgrade: info,
		Compression: opts.Compression, Level: opts.Level, ExtraFiles: plan.mergeFiles(),
		IncludeHostPaths: opts.IncludeHostPaths, Sizes: plan.sizeMap(),
	})
	if err != nil {
		return m.fail(ctx, p, jr, res, opts, fmt.Errorf("backup: %w", err))
	}
	res.BackupID = man.ID
	jr.BackupID = man.ID
	jr.Phase = PhaseBackedUp
	if jr.Images, err = pinImages(ctx, m.Engine, p.Name, man.ID, jr.Images); err != nil {
		return m.fail(ctx, p, jr, res, opts, err)
	}
	plan.Changes = jr.Images
	if err := journals.Save(jr); err != nil {
		return m.fail(ctx, p, jr, res, opts, err)
	}
	m.logf("backup %s complete", man.ID)

	// 3b. --reset-data: empty the named sources, once their archives have been read back
	// and verified. A failure there changed nothing: the rollback starts what ran.
	if len(opts.ResetData) > 0 {
		jr.Phase = PhaseVerifying
		if err := journals.Save(jr); err != nil {
			return m.fail(ctx, p, jr, res, opts, err)
		}
		if err := m.verifyReset(man, opts.ResetData); err != nil {
			return m.fail(ctx, p, jr, res, opts, fmt.Errorf("reset-data: %w; nothing was emptied", err))
		}
		jr.Phase = PhaseResetting
		if err := journals.Save(jr); err != nil {
			return m.fail(ctx, p, jr, res, opts, err)
		}
		if err := m.resetData(ctx, man, opts.ResetData); err != nil {
			return m.fail(ctx, p, jr, res, opts, fmt.Errorf("reset-data: %w", err))
		}
	}

	// 4. Merge configs into the new templates (the old files are in the backup).
	if len(plan.merges) > 0 {
		jr.Phase = PhaseMerging
		if err := journals.Save(jr); err != nil {
			return m.fail(ctx, p, jr, res, opts, err)
		}
		if err := m.applyMerges(man.ID, plan); err != nil {
			return m.fail(ctx, p, jr, res, opts, fmt.Errorf("config merge: %w", err))
		}
	}

	// 5. Recreate on the new images. --image: first the compose file names them too (the
	// files before the edit are in the backup; a rollback puts them back).
	jr.Phase = PhaseRecreating
	if err := journals.Save(jr); err != nil {
		return m.fail(ctx, p, jr, res, opts, err)
	}
	target := withImages(p, opts.Images)
	if len(plan.FileEdits) > 0 {
		if err := composefile.Apply(plan.FileEdits); err != nil {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("writing the new image references into the compose files failed (%v): they still name the old ones; edit them by hand before the next `docker compose up -d`", err))
		} else {
			res.FileEdits = plan.FileEdits
			for _, e := range plan.FileEdits {
				m.logf("edited %s", e.Describe(p.WorkingDir))
			}
			np, err := m.reload(ctx, p)
			if err != nil {
				return m.fail(ctx, p, jr, res, opts, err)
			}
			target = withImages(np, opts.Images)
		}
	}
	m.logf("recreating %s", strings.Join(target.ServiceNames(), ", "))
	if err := m.recreate(ctx, target); err != nil {
		return m.fail(ctx, p, jr, res, opts, fmt.Errorf("recreate: %w", err))
	}

	// 6. Health gate.
	jr.Phase = PhaseHealth
	if err := journals.Save(jr); err != nil {
		return m.fail(ctx, p, jr, res, opts, err)
	}
	if err := m.gateServices(ctx, target, allServices(target), opts.Health); err != nil {
		return m.fail(ctx, p, jr, res, opts, err)
	}

	// 7. Commit.
	res.Downtime = time.Since(stopAt)
	res.Outcome = OutcomeUpgraded
	if err := journals.Finish(Record{Op: "upgrade", Result: string(OutcomeUpgraded), Started: jr.Started, BackupID: man.ID, Images: plan.Changes, Downtime: res.Downtime}); err != nil {
		return res, err
	}
	return res, nil
}

// fail ends an upgrade that failed after something was stopped: roll back unless told not to.
func (m *Manager) fail(ctx context.Context, p *project.Project, jr *Journal, res *Result, opts Options, cause error) (*Result, error) {
	journals := m.journals(p.Name)
	res.Error = cause.Error()
	if opts.NoAutoRollback {
		res.Outcome = OutcomeFailed
		res.Recovery = recoveryCommands(p.Name, jr)
		m.logf("upgrade failed; --no-auto-rollback: left as it is. The journal stays; `docker maim rollback` returns to the state before.")
		return res, &Error{Outcome: OutcomeFailed, Cause: cause, Recovery: res.Recovery}
	}
	m.logf("upgrade failed: %v; rolling back", cause)
	rctx := context.WithoutCancel(ctx)
	rb := &RollbackResult{BackupID: jr.BackupID}
	err := m.retryOnEngineTrouble(rctx, "the rollback", func() error {
		return m.resolve(rctx, p, jr, RollbackOptions{NoSafetyBackup: true, Health: opts.Health}, rb)
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

// withImages returns the project with --image overrides applied.
func withImages(p *project.Project, images map[string]string) *project.Project {
	if len(images) == 0 {
		return p
	}
	cp := *p.Project
	cp.Services = types.Services{}
	for name, s := range p.Services {
		if ref, ok := images[name]; ok {
			s.Image = ref
		}
		cp.Services[name] = s
	}
	return &project.Project{Project: &cp, EnvFiles: p.EnvFiles}
}

// recreate recreates every service of the project on its (present) images, keeping
// anonymous volumes, never pulling, never removing orphans. With services, only those are
// recreated: their dependencies are started (created when they have no container) as
// they are. The services are handed over as `docker compose up` models them
// (asComposeUp), so the user's next `docker compose up -d` finds the same config hash.
func (m *Manager) recreate(ctx context.Context, p *project.Project, services ...string) error {
	pp := *p.Project
	pp.Services = types.Services{}
	for name, s := range p.Services {
		if s.PullPolicy == "" || s.PullPolicy == types.PullPolicyAlways || s.PullPolicy == types.PullPolicyMissing {
			s.PullPolicy = types.PullPolicyNever
		}
		pp.Services[name] = asComposeUp(s)
	}
	create := api.CreateOptions{Recreate: api.RecreateForce, RecreateDependencies: api.RecreateForce, Inherit: true, QuietPull: true}
	if len(services) > 0 {
		narrowed, err := pp.WithSelectedServices(services)
		if err != nil {
			return err
		}
		pp = *narrowed
		create.Services, create.RecreateDependencies = services, api.RecreateNever
	}
	return m.Compose.Up(ctx, &pp, api.UpOptions{Create: create, Start: api.StartOptions{Project: &pp}})
}

// asComposeUp is a service as `docker compose up` hands it to the engine: env_file already
// merged into environment (the loader did that) and the env_file list dropped. compose's
// config hash covers the whole service, so a container created with the list would be
// recreated by the user's next `docker compose up -d`.
func asComposeUp(s types.ServiceConfig) types.ServiceConfig {
	s.EnvFiles = nil
	return s
}
