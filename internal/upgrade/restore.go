package upgrade

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/composefile"
	"github.com/docker-maim/docker-maim/internal/health"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/stack"
)

// RestoreOptions tune a journaled restore.
type RestoreOptions struct {
	// ID of the backup; "" is the newest complete one that is not a safety backup.
	ID              string
	Sources         []string
	NoSafetyBackup  bool
	ToRecordedPaths bool
	Compression     archive.Compression
	Health          health.Options
}

// RestoreResult says what a restore did.
type RestoreResult struct {
	BackupID string `json:"backup_id"`
	// Chosen says why this backup was restored (no ID given).
	Chosen   string   `json:"chosen,omitempty"`
	SafetyID string   `json:"safety_backup_id,omitempty"`
	Restored []string `json:"restored"`
	Skipped  []string `json:"skipped,omitempty"`
	Started  []string `json:"started,omitempty"`
	// Recreated are the services recreated from the restored compose files (they described
	// them otherwise than their containers), on the images the backup recorded.
	Recreated []Recreated `json:"recreated,omitempty"`
	// FileEdits are the edits that made the restored files name the image a recreated
	// service runs (the backup's files named another than its container ran).
	FileEdits []composefile.Edit `json:"file_edits,omitempty"`
	// WorkingDir is the project directory (the edits' files are described from it).
	WorkingDir string   `json:"-"`
	Warnings   []string `json:"warnings,omitempty"`
}

// safetyReasons are the reasons of backups made to undo a restore or rollback.
var safetyReasons = map[string]bool{"pre-restore": true, "pre-rollback": true}

// RestoreError is a restore that failed. LeftStopped means the data may be mixed (the
// safety backup could not be put back, or there was none): the services were not started
// and Recovery lists what to run.
type RestoreError struct {
	Cause       error
	PutBack     error
	LeftStopped []string
	Recovery    []string
}

func (e *RestoreError) Error() string {
	if e.Recovery == nil {
		return e.Cause.Error()
	}
	msg := e.Cause.Error()
	if e.PutBack != nil {
		msg += "; putting the safety backup back also failed: " + e.PutBack.Error()
	}
	stopped := "nothing was running"
	if len(e.LeftStopped) > 0 {
		stopped = strings.Join(e.LeftStopped, ", ") + " left stopped: the data may be mixed"
	}
	return fmt.Sprintf("%s; %s; to recover: %s", msg, stopped, strings.Join(e.Recovery, " ; "))
}

func (e *RestoreError) Unwrap() error { return e.Cause }

// Restore makes the project's data and files equal to a backup, journaled like the
// upgrade, so a kill -9 at any point is reported by every command and resolved by `docker
// maim rollback`. When the backup's compose or env files come back, the services they
// describe otherwise than their containers are recreated from them, on the images the
// backup recorded, so a plain `docker compose up -d` recreates nothing afterwards. The
// caller holds the project lock. Read it top to bottom.
func (m *Manager) Restore(ctx context.Context, p *project.Project, opts RestoreOptions) (*RestoreResult, error) {
	journals := m.journals(p.Name)
	if err := journals.NonePending(); err != nil {
		return nil, err
	}

	// 1. Which backup, verified, and where each source goes: refusals touch nothing.
	entry, chosen, err := m.restoreTarget(p.Name, opts.ID)
	if err != nil {
		return nil, err
	}
	res := &RestoreResult{BackupID: entry.ID, Chosen: chosen}
	if chosen != "" {
		m.logf("restoring backup %s: %s", entry.ID, chosen)
	}
	if notice := originNotice(entry); notice != "" {
		m.logf("%s", notice)
		defer func() { res.Warnings = append([]string{notice}, res.Warnings...) }()
	}
	// The archives' hashes are checked while the restore gets ready; nothing stops, and no
	// safety backup is taken, before the check passed. With neither, the first write waits
	// for it (a helper container is already started then, waiting for the go-ahead).
	m.logf("checking backup %s", entry.ID)
	ready, err := m.Snapshots.StartCheck(entry, opts.Sources)
	if err != nil {
		return nil, err
	}
	sopts := snapshot.RestoreOptions{ID: entry.ID, Sources: opts.Sources, ToRecordedPaths: opts.ToRecordedPaths}
	plan, err := m.Snapshots.PlanRestore(ctx, p, entry, sopts)
	if err != nil {
		return nil, errors.Join(err, ready())
	}
	plan.Ready = ready
	res.Skipped = plan.Skipped
	for _, s := range plan.Skipped {
		m.logf("not restored: %s", s)
	}
	running, err := p.RunningContainers(ctx, m.Engine)
	if err != nil {
		return nil, errors.Join(err, ready())
	}
	if err := m.recordedImagesPresent(ctx, p, entry.Manifest, plan); err != nil {
		return nil, errors.Join(err, ready())
	}
	if !opts.NoSafetyBackup {
		m.Snapshots.MeasureTargets(ctx, plan) // the safety backup's totals, before anything stops
	}
	if len(running.Services) > 0 || !opts.NoSafetyBackup {
		if err := ready(); err != nil {
			return nil, err
		}
	}
	start := time.Now().UTC()
	jr := &Journal{
		Op: OpRestore, Project: p.Name, PID: os.Getpid(), Started: start, Phase: PhasePlanned,
		Running: running.Services, Containers: running.IDs, OneOffs: running.OneOffs,
		Restore:    &RestoreInfo{ID: entry.ID, Sources: opts.Sources, ToRecordedPaths: opts.ToRecordedPaths},
		WorkingDir: p.WorkingDir, ComposeFiles: p.ComposeFiles, EnvFiles: p.EnvFiles, Profiles: p.Profiles,
	}
	if err := journals.Save(jr); err != nil {
		return nil, err
	}
	fail := func(err error) (*RestoreResult, error) {
		_ = journals.Finish(Record{Op: OpRestore, Result: string(OutcomeFailed), Started: start, BackupID: entry.ID, Error: err.Error()})
		return res, err
	}

	// 2. Stop, and keep everything about to be overwritten. Until the safety backup is
	// complete nothing has changed.
	jr.Phase = PhaseBackingUp
	if err := journals.Save(jr); err != nil {
		return nil, err
	}
	// What runs is listed again right before the stop (the list above is from before the
	// hash check): a container of the project started meanwhile (a service, a `compose run`
	// one-off) is stopped with the rest, journaled as what ran, and started again.
	now, err := p.RunningContainers(ctx, m.Engine)
	if err != nil {
		return fail(fmt.Errorf("listing what runs: %w", err))
	}
	if len(running.Services) == 0 && !now.Empty() {
		// Nothing ran when the check was left to the first write; now something stops first.
		if err := ready(); err != nil {
			_ = journals.Finish(Record{Op: OpRestore, Result: string(OutcomeRefused), Started: start, BackupID: entry.ID, Error: err.Error()})
			return nil, err
		}
	}
	running = now
	jr.SetRan(now)
	if err := journals.Save(jr); err != nil {
		return nil, err
	}
	if !now.Empty() {
		m.logf("stopping %s", now.Describe())
	}
	if err := p.Stop(ctx, m.Engine, running); err != nil {
		return fail(errors.Join(fmt.Errorf("stopping: %w", err), m.StartAgain(ctx, p, running)))
	}
	if !opts.NoSafetyBackup {
		safety, err := m.Snapshots.SafetyBackup(ctx, p, plan, &running, opts.Compression)
		if err != nil {
			return fail(errors.Join(fmt.Errorf("safety backup failed, nothing was restored: %w", err), m.StartAgain(ctx, p, running)))
		}
		res.SafetyID, jr.BackupID = safety.ID, safety.ID
	}
	jr.Phase = PhaseBackedUp
	if err := journals.Save(jr); err != nil {
		return res, err
	}

	// 3. Write the data and the project files.
	jr.Phase = PhaseRestoring
	if err := journals.Save(jr); err != nil {
		return res, err
	}
	res.Restored, err = m.Snapshots.RestorePlanned(ctx, plan)
	if err != nil && errors.Is(err, snapshot.ErrVerify) && len(res.Restored) == 0 && len(running.Services) == 0 && jr.BackupID == "" {
		// The check failed while the first source got ready: nothing ran, nothing was written.
		_ = journals.Finish(Record{Op: OpRestore, Result: string(OutcomeRefused), Started: start, BackupID: entry.ID, Error: err.Error()})
		return nil, err
	}
	if err != nil {
		return res, m.restoreFailed(ctx, p, jr, running, err)
	}

	// 4. The restored files name what runs: the services they describe otherwise than their
	// containers are recreated from them (journaled: phase recreating).
	restored, err := m.recreateDescribed(ctx, p, entry.Manifest, plan, jr, res)
	if err != nil {
		return res, m.restoreFailed(ctx, p, jr, running, err)
	}

	// 5. Start what ran, leave stopped what was stopped; the restore is done. Then the
	// health gate.
	if err := m.StartWhatRan(ctx, restored, running, res.recreated()); err != nil {
		return res, err
	}
	res.Started = running.Services
	if err := journals.Finish(Record{Op: OpRestore, Result: "restored", Started: start, BackupID: entry.ID}); err != nil {
		return res, err
	}
	if err := m.gateServices(ctx, restored, running.Services, opts.Health); err != nil {
		return res, fmt.Errorf("restored from backup %s, but the services did not pass the health gate: %w", entry.ID, err)
	}
	return res, nil
}

func (r *RestoreResult) recreated() []string {
	var out []string
	for _, c := range r.Recreated {
		out = append(out, c.Service)
	}
	return out
}

// recordedImagesPresent refuses, before anything stops, a restore that brings the project
// files back while a service runs another image than the backup recorded for it and that
// image is gone and cannot be pulled by digest: the restored files would have to run on it.
func (m *Manager) recordedImagesPresent(ctx context.Context, p *project.Project, man *backup.Manifest, plan *snapshot.RestorePlan) error {
	if !restoresProjectFiles(plan) {
		return nil
	}
	cs, err := project.Containers(ctx, m.Engine, p.Name)
	if err != nil {
		return err
	}
	var gone []string
	for _, s := range man.Services {
		if s.ImageID == "" {
			continue
		}
		other := false
		for _, c := range cs {
			other = other || (c.Labels[project.LabelService] == s.Name && c.ImageID != s.ImageID)
		}
		if !other {
			continue
		}
		if err := stack.EnsureImage(ctx, m.Engine, s.ImageID, s.RepoDigests, m.Auth); err != nil {
			gone = append(gone, fmt.Sprintf("%s (%s): %v", s.Name, stack.RecordedRef(s), err))
		}
	}
	if len(gone) > 0 {
		return fmt.Errorf("%w: backup %s brings back compose files that run images it recorded, and they are gone: %s; bring the image back (docker pull), or restore only the data with --source NAME",
			snapshot.ErrRefused, man.ID, strings.Join(gone, "; "))
	}
	return nil
}

// restoresProjectFiles tells whether plan writes compose or env files.
func restoresProjectFiles(plan *snapshot.RestorePlan) bool {
	for _, it := range plan.Items {
		if it.To.Kind == project.KindProjectFile {
			return true
		}
	}
	return false
}

// recreateDescribed loads the project again from the files the restore wrote and recreates
// the services they describe otherwise than their containers (compose's config hash against
// the container's label), on the image the backup recorded for each. Their images before
// are journaled first, so a failure or a crash can recreate them as they were. It returns
// the project as the restored files describe it.
func (m *Manager) recreateDescribed(ctx context.Context, p *project.Project, man *backup.Manifest, plan *snapshot.RestorePlan, jr *Journal, res *RestoreResult) (*project.Project, error) {
	if !restoresProjectFiles(plan) {
		return p, nil
	}
	restored, err := m.Reload(ctx, p)
	if err != nil {
		return p, err
	}
	cs, err := project.Containers(ctx, m.Engine, p.Name)
	if err != nil {
		return restored, err
	}
	differ, err := stack.Described(restored, cs)
	if err != nil || len(differ) == 0 {
		return restored, err
	}
	only := map[string]bool{}
	var names []string
	for _, d := range differ {
		only[d.Service] = true
		names = append(names, d.Service)
		if slices.ContainsFunc(jr.Images, func(c ImageChange) bool { return c.Service == d.Service }) {
			continue // journaled by the interrupted run this one finishes
		}
		for _, c := range cs {
			if c.Labels[project.LabelService] == d.Service {
				jr.Images = append(jr.Images, ImageChange{Service: d.Service, OldRef: c.Image, OldID: c.ImageID})
				break
			}
		}
	}
	jr.Phase = PhaseRecreating
	if err := m.journals(p.Name).Save(jr); err != nil {
		return restored, err
	}
	target, edits, warns, err := m.RunRecorded(ctx, restored, man, only)
	res.WorkingDir, res.FileEdits, res.Warnings = restored.WorkingDir, edits, warns
	if err != nil {
		return restored, err
	}
	for i := range differ {
		differ[i].Image = target.Services[differ[i].Service].Image
		m.logf("recreating %s: %s", differ[i].Service, differ[i].Why)
	}
	if err := m.Recreate(ctx, target, names...); err != nil {
		return target, fmt.Errorf("recreate: %w", err)
	}
	res.Recreated = differ
	return target, nil
}

// recreateAsBefore recreates the services a restore recreated (jr.Images) from the files
// put back, on the images they ran before, and starts what ran. It returns the project as
// the put-back files describe it.
func (m *Manager) recreateAsBefore(ctx context.Context, p *project.Project, jr *Journal, ran project.Running) (*project.Project, error) {
	if len(jr.Images) == 0 {
		return p, m.StartAgain(ctx, p, ran)
	}
	back, err := m.Reload(ctx, p)
	if err != nil {
		return p, err
	}
	refs := map[string]string{}
	var names []string
	for _, c := range jr.Images {
		s, ok := back.Services[c.Service]
		if !ok {
			continue
		}
		names = append(names, c.Service)
		if c.OldID == "" {
			continue
		}
		if err := stack.EnsureImage(ctx, m.Engine, c.OldID, c.OldDigests, m.Auth); err != nil {
			return back, fmt.Errorf("%s: %w", c.Service, err)
		}
		if err := stack.Repoint(ctx, m.Engine, c.OldID, c.OldRef); err != nil {
			return back, fmt.Errorf("re-pinning %s to %s: %w", c.OldRef, stack.ShortID(c.OldID), err)
		}
		if s.Image != c.OldRef {
			refs[c.Service] = c.OldRef
		}
	}
	target := stack.WithImages(back, refs)
	if len(names) > 0 {
		m.logf("recreating %s as it was before the restore", strings.Join(names, ", "))
		if err := m.Recreate(ctx, target, names...); err != nil {
			return target, fmt.Errorf("recreate: %w", err)
		}
	}
	return target, m.StartWhatRan(ctx, target, ran, names)
}

// restoreFailed puts the safety backup back after a failed restore and starts what ran.
// When that is impossible the services stay stopped (they would run on mixed data), the
// journal stays for `docker maim rollback`, and the error says how to recover.
func (m *Manager) restoreFailed(ctx context.Context, p *project.Project, jr *Journal, running project.Running, cause error) error {
	journals := m.journals(p.Name)
	ctx = context.WithoutCancel(ctx)
	recovery := []string{
		"docker maim -p " + p.Name + " status   # the interrupted restore",
		"docker maim -p " + p.Name + " rollback   # after fixing the cause: " + map[bool]string{true: "puts safety backup " + jr.BackupID + " back", false: "finishes the restore of backup " + jr.Restore.ID}[jr.BackupID != ""] + " and starts " + orNone(running.Services),
	}
	if jr.BackupID == "" {
		return &RestoreError{Cause: fmt.Errorf("restore of backup %s failed without a safety backup: %w", jr.Restore.ID, cause), LeftStopped: running.Services, Recovery: recovery}
	}
	jr.Phase = PhaseRollingBack
	if err := journals.Save(jr); err != nil {
		return &RestoreError{Cause: cause, PutBack: err, LeftStopped: running.Services, Recovery: recovery}
	}
	m.logf("restore failed; putting the data back from safety backup %s", jr.BackupID)
	if err := m.Snapshots.PutBack(ctx, p, jr.BackupID); err != nil {
		return &RestoreError{Cause: fmt.Errorf("restore of backup %s failed: %w", jr.Restore.ID, cause), PutBack: err, LeftStopped: running.Services,
			Recovery: append(recovery, "the data before the restore is in backup "+jr.BackupID+", the data restored from is in backup "+jr.Restore.ID)}
	}
	if _, err := m.recreateAsBefore(ctx, p, jr, running); err != nil {
		return errors.Join(cause, err)
	}
	_ = journals.Finish(Record{Op: OpRestore, Result: string(OutcomeRolledBack), Started: jr.Started, BackupID: jr.Restore.ID, Error: cause.Error()})
	return &RestoreError{Cause: fmt.Errorf("%w (the data was put back from safety backup %s and what ran was started again)", cause, jr.BackupID)}
}

// resolveRestore resolves a restore left by a crash: before its safety backup was complete
// nothing had changed (start what ran); after, the safety backup is put back; without one
// the restore is finished.
func (m *Manager) resolveRestore(ctx context.Context, p *project.Project, jr *Journal, opts RollbackOptions, res *RollbackResult) error {
	journals := m.journals(p.Name)
	ran := jr.Ran()
	if jr.Restore == nil {
		return fmt.Errorf("the journal of the interrupted restore names no backup: %s", journals.Path())
	}
	now, err := p.RunningContainers(ctx, m.Engine)
	if err != nil {
		return err
	}
	switch {
	case !jr.Phase.DataChanged():
		m.removeIncomplete(p.Name)
		res.BackupID = ""
		m.logf("nothing was changed yet: starting %s again", orNone(ran.Services))
	case jr.BackupID != "":
		if err := p.Stop(ctx, m.Engine, now); err != nil {
			return err
		}
		if jr.Phase != PhaseRollingBack {
			jr.Phase = PhaseRollingBack
			if err := journals.Save(jr); err != nil {
				return err
			}
		}
		m.logf("putting the data back from safety backup %s", jr.BackupID)
		if err := m.Snapshots.PutBack(ctx, p, jr.BackupID); err != nil {
			return fmt.Errorf("putting back safety backup %s: %w", jr.BackupID, err)
		}
		back, err := m.recreateAsBefore(ctx, p, jr, ran)
		if err != nil {
			return err
		}
		return m.resolvedRestore(ctx, back, ran, opts)
	default:
		if err := p.Stop(ctx, m.Engine, now); err != nil {
			return err
		}
		m.logf("the restore of backup %s had no safety backup: finishing it", jr.Restore.ID)
		entry, err := m.Store.Get(p.Name, jr.Restore.ID)
		if err != nil {
			return err
		}
		plan, err := m.Snapshots.PlanRestore(ctx, p, entry, snapshot.RestoreOptions{Sources: jr.Restore.Sources, ToRecordedPaths: jr.Restore.ToRecordedPaths})
		if err != nil {
			return err
		}
		if _, err := m.Snapshots.RestorePlanned(ctx, plan); err != nil {
			return err
		}
		// Services the interrupted restore recreated (journaled) already have new containers.
		before := slices.Clone(jr.Images)
		rr := &RestoreResult{}
		restored, err := m.recreateDescribed(ctx, p, entry.Manifest, plan, jr, rr)
		if err != nil {
			return err
		}
		recreated := rr.recreated()
		for _, c := range before {
			recreated = append(recreated, c.Service)
		}
		res.BackupID = jr.Restore.ID
		res.FileEdits, res.Warnings, res.WorkingDir = rr.FileEdits, rr.Warnings, rr.WorkingDir
		if err := m.StartWhatRan(ctx, restored, ran, recreated); err != nil {
			return err
		}
		return m.resolvedRestore(ctx, restored, ran, opts)
	}
	if err := m.StartAgain(ctx, p, ran); err != nil {
		return err
	}
	return m.resolvedRestore(ctx, p, ran, opts)
}

// resolvedRestore ends the resolution of an interrupted restore: the health gate on what
// ran, then the journal goes.
func (m *Manager) resolvedRestore(ctx context.Context, p *project.Project, ran project.Running, opts RollbackOptions) error {
	if err := m.gateServices(ctx, p, ran.Services, opts.Health); err != nil {
		return err
	}
	return os.Remove(m.journals(p.Name).Path())
}

// restoreTarget is the backup named, or without an ID the newest complete one that is not
// a safety backup (restoring that would undo the last restore or rollback); chosen then
// says which and why.
func (m *Manager) restoreTarget(projectName, id string) (backup.Entry, string, error) {
	if id != "" && id != "latest" {
		e, err := m.Store.Get(projectName, id)
		return e, "", err
	}
	all, err := m.Store.List(projectName)
	if err != nil {
		return backup.Entry{}, "", err
	}
	var skipped []string
	for i := len(all) - 1; i >= 0; i-- {
		e := all[i]
		if e.Status != backup.StatusComplete || !e.Owner.SameEngine() {
			continue
		}
		if safetyReasons[e.Manifest.Reason] {
			skipped = append(skipped, e.ID+" ("+e.Manifest.Reason+")")
			continue
		}
		chosen := "the newest backup (" + e.Manifest.Reason + ")"
		if len(skipped) > 0 {
			chosen = fmt.Sprintf("the newest backup that is not a safety backup (%s); skipped %s: name one to restore it", e.Manifest.Reason, strings.Join(skipped, ", "))
		}
		return e, chosen, nil
	}
	if len(skipped) > 0 {
		return backup.Entry{}, "", fmt.Errorf("%w: project %q has only safety backups (%s); name one to restore it", backup.ErrNotFound, projectName, strings.Join(skipped, ", "))
	}
	return backup.Entry{}, "", fmt.Errorf("%w: project %q has no complete backup of this engine in %s%s", backup.ErrNotFound, projectName, m.Store.ProjectDir(projectName), m.Store.Elsewhere(all))
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}
