package restore

import (
	"context"
	"fmt"
	"os"
	"slices"

	maim "github.com/docker-maim/docker-maim/internal/api"

	"github.com/docker-maim/docker-maim/internal/composefile"
	"github.com/docker-maim/docker-maim/internal/health"
	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/stack"
)

// Resolved is what resolving an interrupted restore did: the caller's values (the rollback's
// result) in, what it changed out.
type Resolved struct {
	BackupID   string
	FileEdits  []composefile.Edit
	Warnings   []string
	WorkingDir string
}

// Resolve resolves a restore left by a crash (internal/rollback resolves every interrupted
// operation; a restore's undo is the restore's own): before its safety backup was complete
// nothing had changed (start what ran); after, the safety backup is put back; without one
// the restore is finished.
func Resolve(ctx context.Context, m *stack.Env, p *project.Project, jr *journal.Journal, h health.Options, res *Resolved) error {
	journals := m.Journals(p.Name)
	ran := journal.Ran(jr)
	if jr.Restore == nil {
		return fmt.Errorf("the journal of the interrupted restore names no backup: %s", journals.Path())
	}
	now, err := p.RunningContainers(ctx, m.Engine)
	if err != nil {
		return err
	}
	switch {
	case !journal.DataChanged(jr.Phase):
		m.RemoveIncomplete(p.Name)
		res.BackupID = ""
		m.Logf("nothing was changed yet: starting %s again", orNone(ran.Services))
	case jr.BackupID != "":
		if err := p.Stop(ctx, m.Engine, now); err != nil {
			return err
		}
		if jr.Phase != journal.PhaseRollingBack {
			jr.Phase = journal.PhaseRollingBack
			if err := journals.Save(jr); err != nil {
				return err
			}
		}
		m.Logf("putting the data back from safety backup %s", jr.BackupID)
		if err := m.Snapshots.PutBack(ctx, p, jr.BackupID); err != nil {
			return fmt.Errorf("putting back safety backup %s: %w", jr.BackupID, err)
		}
		back, err := recreateAsBefore(ctx, m, p, jr, ran)
		if err != nil {
			return err
		}
		return resolvedRestore(ctx, m, back, ran, h)
	default:
		if err := p.Stop(ctx, m.Engine, now); err != nil {
			return err
		}
		m.Logf("the restore of backup %s had no safety backup: finishing it", jr.Restore.ID)
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
		rr := &maim.RestoreResult{}
		restored, err := recreateDescribed(ctx, m, p, entry.Manifest, plan, jr, rr)
		if err != nil {
			return err
		}
		recreated := recreatedOf(rr)
		for _, c := range before {
			recreated = append(recreated, c.Service)
		}
		res.BackupID = jr.Restore.ID
		res.FileEdits, res.Warnings, res.WorkingDir = rr.FileEdits, rr.Warnings, rr.WorkingDir
		if err := m.StartWhatRan(ctx, restored, ran, recreated); err != nil {
			return err
		}
		return resolvedRestore(ctx, m, restored, ran, h)
	}
	if err := m.StartAgain(ctx, p, ran); err != nil {
		return err
	}
	return resolvedRestore(ctx, m, p, ran, h)
}

// resolvedRestore ends the resolution of an interrupted restore: the health gate on what
// ran, then the journal goes.
func resolvedRestore(ctx context.Context, m *stack.Env, p *project.Project, ran project.Running, h health.Options) error {
	if err := m.GateServices(ctx, p, ran.Services, h); err != nil {
		return err
	}
	return os.Remove(m.Journals(p.Name).Path())
}
