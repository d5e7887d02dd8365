package restore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	maim "github.com/docker-maim/docker-maim/internal/api"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/stack"
)

// prepare chooses the backup, starts its hash check, plans where each source goes and
// lists what runs; refusals touch nothing. Once the services run or a safety backup is to
// be taken, it waits for the check to pass: nothing stops before that. Without either the
// first write waits for it (a helper container is already started then, waiting for the
// go-ahead).
func (t *rtxn) prepare(ctx context.Context) error {
	m, p, opts := t.env, t.p, t.opts
	entry, chosen, err := Target(m, p.Name, opts.ID)
	if err != nil {
		return err
	}
	t.entry, t.res = entry, &maim.RestoreResult{BackupID: entry.ID, Chosen: chosen}
	if chosen != "" {
		m.Logf("restoring backup %s: %s", entry.ID, chosen)
	}
	if t.notice = stack.OriginNotice(entry); t.notice != "" {
		m.Logf("%s", t.notice)
	}
	m.Logf("checking backup %s", entry.ID)
	ready, err := m.Snapshots.StartCheck(entry, opts.Sources)
	if err != nil {
		return err
	}
	t.ready = ready
	sopts := snapshot.RestoreOptions{ID: entry.ID, Sources: opts.Sources, ToRecordedPaths: opts.ToRecordedPaths}
	plan, err := m.Snapshots.PlanRestore(ctx, p, entry, sopts)
	if err != nil {
		return errors.Join(err, ready())
	}
	plan.Ready = ready
	t.plan = plan
	t.res.Skipped = plan.Skipped
	for _, s := range plan.Skipped {
		m.Logf("not restored: %s", s)
	}
	if t.running, err = p.RunningContainers(ctx, m.Engine); err != nil {
		return errors.Join(err, ready())
	}
	var wouldPull func(service, digest string) // a real restore pulls; a dry run says it would
	if opts.DryRun {
		wouldPull = t.pullPlanned
	}
	if err := recordedImagesPresent(ctx, m, p, entry.Manifest, plan, wouldPull); err != nil {
		return errors.Join(err, ready())
	}
	if !opts.NoSafetyBackup {
		m.Snapshots.MeasureTargets(ctx, plan) // the safety backup's totals, before anything stops
	}
	if len(t.running.Services) > 0 || !opts.NoSafetyBackup {
		return ready()
	}
	return nil
}

// Target is the backup named, or without an ID the newest complete one that is not
// a safety backup (restoring that would undo the last restore or rollback); chosen then
// says which and why.
func Target(m *stack.Env, projectName, id string) (backup.Entry, string, error) {
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

// recordedImagesPresent refuses, before anything stops, a restore that brings the project
// files back while a service runs another image than the backup recorded for it and that
// image is gone and cannot be pulled by digest: the restored files would have to run on it.
// With wouldPull (a dry run) nothing is pulled: a gone image that has digests is handed to
// wouldPull instead, and only one without any is refused.
func recordedImagesPresent(ctx context.Context, m *stack.Env, p *project.Project, man *backup.Manifest, plan *snapshot.RestorePlan, wouldPull func(service, digest string)) error {
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
		if wouldPull != nil {
			if _, err := m.Engine.ImageInspect(ctx, s.ImageID); err == nil {
				continue
			}
			if len(s.RepoDigests) > 0 {
				wouldPull(s.Name, s.RepoDigests[0])
				continue
			}
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
