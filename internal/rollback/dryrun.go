package rollback

import (
	"context"
	"fmt"

	maim "github.com/docker-maim/docker-maim/internal/api"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/restore"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/stack"
)

// Plan says what Rollback would do with opts (rollback --dry-run), worked out as Rollback
// works it out before anything stops: the interrupted operation it would resolve, else
// the backup it would go back to, complete, its archives checked and the backup dir
// checked against the sources; then what runs now (stopped first), where each source
// would be written, the images put back and the phases. Nothing is journaled, stopped or
// written. The caller holds the project lock.
func Plan(ctx context.Context, m *stack.Env, p *project.Project, opts maim.RollbackOptions) (*maim.RollbackReport, *maim.RestorePlan, error) {
	journals := m.Journals(p.Name)
	jr, err := journals.Load()
	if err != nil {
		return nil, nil, err
	}
	running, err := p.RunningContainers(ctx, m.Engine)
	if err != nil {
		return nil, nil, err
	}
	plan := &maim.RestorePlan{Stop: restore.StopList(running), Write: []maim.PlannedWrite{}, SafetyBackup: !opts.NoSafetyBackup}
	if jr != nil && (opts.ID == "" || opts.ID == jr.BackupID) {
		res := &maim.RollbackReport{BackupID: jr.BackupID, Resolved: jr.Op + " in phase " + string(jr.Phase), Images: jr.Images}
		plan.Images = jr.Images
		if jr.Op == journal.OpRestore || !journal.DataChanged(jr.Phase) || jr.BackupID == "" {
			plan.SafetyBackup = false
			plan.Phases = []maim.PlannedPhase{{Name: "resolve", Description: resolveText(jr)}}
			return res, plan, nil
		}
		rm, err := m.ForJournal(jr)
		if err != nil {
			return nil, nil, err
		}
		return res, plan, planTo(ctx, rm, p, jr.BackupID, opts, res, plan)
	}
	if jr != nil {
		return nil, nil, fmt.Errorf("%w: an interrupted %s (backup %s) must be rolled back first: `docker maim rollback`", journal.ErrInterrupted, jr.Op, jr.BackupID)
	}
	id := opts.ID
	if id == "" {
		if id, err = journals.LastUpgradeBackup(); err != nil {
			return nil, nil, err
		}
	}
	res := &maim.RollbackReport{BackupID: id}
	if err := planTo(ctx, m, p, id, opts, res, plan); err != nil {
		return nil, nil, err
	}
	res.Images = plan.Images
	return res, plan, nil
}

// planTo fills in plan for a rollback to backup id, refusing what Rollback refuses
// before anything stops (an incomplete or damaged backup, a backup dir in a source).
func planTo(ctx context.Context, m *stack.Env, p *project.Project, id string, opts maim.RollbackOptions, res *maim.RollbackReport, plan *maim.RestorePlan) error {
	entry, err := m.Store.Get(p.Name, id)
	if err != nil {
		return err
	}
	if entry.Status != backup.StatusComplete {
		return fmt.Errorf("backup %s is %s: %s", id, entry.Status, entry.Problem)
	}
	if err := checkRoot(ctx, m, p, entry.Manifest); err != nil {
		return err
	}
	if err := snapshot.CheckError(m.Store.CheckHashes(entry, nil)); err != nil {
		return err
	}
	sp, err := m.Snapshots.PlanRestore(ctx, p, entry, snapshot.RestoreOptions{ID: id, ToRecordedPaths: true})
	if err != nil {
		return err
	}
	plan.Write = restore.PlannedWrites(sp)
	for _, l := range entry.Manifest.LeftOut { // a source whose policy is never: not rolled back
		res.Warnings = append(res.Warnings, snapshot.LeftAlone(l))
	}
	res.Warnings = append(res.Warnings, goneImages(ctx, m, entry.Manifest)...)
	if plan.Images == nil {
		for _, s := range entry.Manifest.Services {
			plan.Images = append(plan.Images, journal.ImageChange{Service: s.Name, OldRef: s.Image, OldID: s.ImageID, OldDigests: s.RepoDigests, OldVersion: s.Version})
		}
	}
	running, err := p.RunningContainers(ctx, m.Engine)
	if err != nil {
		return err
	}
	plan.Phases = journal.DescribePhases(rollbackPhases, &rtxn{env: m, p: p, man: entry.Manifest, opts: opts, running: running, idle: running.Empty()})
	return nil
}

// goneImages says which images the backup recorded are gone: the rollback would pull them
// by digest (the dry run pulls nothing), or fail on one without a digest.
func goneImages(ctx context.Context, m *stack.Env, man *backup.Manifest) []string {
	var out []string
	for _, s := range man.Services {
		if s.ImageID == "" {
			continue
		}
		if _, err := m.Engine.ImageInspect(ctx, s.ImageID); err == nil {
			continue
		}
		if len(s.RepoDigests) > 0 {
			out = append(out, fmt.Sprintf("the image %s ran at the backup (%s) is gone: the rollback would pull it by digest %s", s.Name, stack.ShortID(s.ImageID), s.RepoDigests[0]))
		} else {
			out = append(out, fmt.Sprintf("the image %s ran at the backup (%s) is gone and has no digest to pull it by: the rollback would fail at repin", s.Name, stack.ShortID(s.ImageID)))
		}
	}
	return out
}

// resolveText says what resolving an interrupted operation that changed no data yet (or
// a restore, whose own undo puts its safety backup back) would do.
func resolveText(jr *journal.Journal) string {
	switch {
	case jr.Op == journal.OpRestore && journal.DataChanged(jr.Phase) && jr.BackupID != "":
		return "put back safety backup " + jr.BackupID + " of the interrupted restore, then start what ran"
	case jr.Op == journal.OpRestore && journal.DataChanged(jr.Phase) && jr.Restore != nil:
		return "finish the interrupted restore of backup " + jr.Restore.ID + " (it took no safety backup)"
	}
	return "nothing had changed yet: start what ran again (" + journal.Ran(jr).Describe() + ") and remove the partial backup"
}
