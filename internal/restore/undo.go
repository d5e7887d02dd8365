package restore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	maim "github.com/docker-maim/docker-maim/internal/api"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/stack"
)

// restoreFailed puts the safety backup back after a failed restore and starts what ran.
// When that is impossible the services stay stopped (they would run on mixed data), the
// journal stays for `docker maim rollback`, and the error says how to recover.
func restoreFailed(ctx context.Context, m *stack.Env, p *project.Project, jr *journal.Journal, running project.Running, cause error) error {
	journals := m.Journals(p.Name)
	ctx = context.WithoutCancel(ctx)
	recovery := []string{
		"docker maim -p " + p.Name + " status   # the interrupted restore",
		"docker maim -p " + p.Name + " rollback   # after fixing the cause: " + map[bool]string{true: "puts safety backup " + jr.BackupID + " back", false: "finishes the restore of backup " + jr.Restore.ID}[jr.BackupID != ""] + " and starts " + orNone(running.Services),
	}
	if jr.BackupID == "" {
		return &maim.RestoreError{Cause: fmt.Errorf("restore of backup %s failed without a safety backup: %w", jr.Restore.ID, cause), LeftStopped: running.Services, Recovery: recovery}
	}
	jr.Phase = journal.PhaseRollingBack
	if err := journals.Save(jr); err != nil {
		return &maim.RestoreError{Cause: cause, PutBack: err, LeftStopped: running.Services, Recovery: recovery}
	}
	m.Logf("restore failed; putting the data back from safety backup %s", jr.BackupID)
	if err := m.Snapshots.PutBack(ctx, p, jr.BackupID); err != nil {
		return &maim.RestoreError{Cause: fmt.Errorf("restore of backup %s failed: %w", jr.Restore.ID, cause), PutBack: err, LeftStopped: running.Services,
			Recovery: append(recovery, "the data before the restore is in backup "+jr.BackupID+", the data restored from is in backup "+jr.Restore.ID)}
	}
	if _, err := recreateAsBefore(ctx, m, p, jr, running); err != nil {
		return errors.Join(cause, err)
	}
	_ = journals.Finish(journal.Record{Op: journal.OpRestore, Result: "rolled-back", Started: jr.Started, BackupID: jr.Restore.ID, Error: cause.Error()})
	return &maim.RestoreError{Cause: fmt.Errorf("%w (the data was put back from safety backup %s and what ran was started again)", cause, jr.BackupID)}
}

// recreateAsBefore recreates the services a restore recreated (jr.Images) from the files
// put back, on the images they ran before, and starts what ran. It returns the project as
// the put-back files describe it.
func recreateAsBefore(ctx context.Context, m *stack.Env, p *project.Project, jr *journal.Journal, ran project.Running) (*project.Project, error) {
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
		m.Logf("recreating %s as it was before the restore", strings.Join(names, ", "))
		if err := m.Recreate(ctx, target, names...); err != nil {
			return target, fmt.Errorf("recreate: %w", err)
		}
	}
	return target, m.StartWhatRan(ctx, target, ran, names)
}

// recreateDescribed loads the project again from the files the restore wrote and recreates
// the services they describe otherwise than their containers (compose's config hash against
// the container's label), on the image the backup recorded for each. Their images before
// are journaled first, so a failure or a crash can recreate them as they were. It returns
// the project as the restored files describe it.
func recreateDescribed(ctx context.Context, m *stack.Env, p *project.Project, man *backup.Manifest, plan *snapshot.RestorePlan, jr *journal.Journal, res *maim.RestoreResult) (*project.Project, error) {
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
		if slices.ContainsFunc(jr.Images, func(c journal.ImageChange) bool { return c.Service == d.Service }) {
			continue // journaled by the interrupted run this one finishes
		}
		for _, c := range cs {
			if c.Labels[project.LabelService] == d.Service {
				jr.Images = append(jr.Images, journal.ImageChange{Service: d.Service, OldRef: c.Image, OldID: c.ImageID})
				break
			}
		}
	}
	jr.Phase = journal.PhaseRecreating
	if err := m.Journals(p.Name).Save(jr); err != nil {
		return restored, err
	}
	target, edits, warns, err := m.RunRecorded(ctx, restored, man, only)
	res.WorkingDir, res.FileEdits, res.Warnings = restored.WorkingDir, edits, warns
	if err != nil {
		return restored, err
	}
	for i := range differ {
		differ[i].Image = target.Services[differ[i].Service].Image
		m.Logf("recreating %s: %s", differ[i].Service, differ[i].Why)
	}
	if err := m.Recreate(ctx, target, names...); err != nil {
		return target, fmt.Errorf("recreate: %w", err)
	}
	res.Recreated = differ
	return target, nil
}

// recreatedOf names the services r recreated.
func recreatedOf(r *maim.RestoreResult) []string {
	var out []string
	for _, c := range r.Recreated {
		out = append(out, c.Service)
	}
	return out
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}
