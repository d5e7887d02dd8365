package snapshot

import (
	"context"
	"fmt"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/volume"
)

// The two-pass differential restore, the mirror of two-pass backups. Prestage, while the
// services still run (after the safety backup's pass one), stages in each directory target
// that takes the differential path the backup's version of every file the restore will
// rewrite (diffrestore.Stage: a fresh stage dir at the target's root, nothing else
// touched), and adds that dir to the safety backup as transient (BackupOptions.Transient:
// left out of its archive and index, never recorded as an exclude). After the stop the
// restore (tryDiff) renames each staged file whose target path and staged copy nobody
// touched since into place, extracts the rest as before, and removes the stage. A source
// whose staging fails or falls back is restored as before; DropStaged removes the stages of
// a restore that ends before it writes.

// TransientKey is the key of src in BackupOptions.Transient: its volume, or its host path.
func TransientKey(src project.Source) string {
	if src.Kind == project.KindVolume {
		return "volume:" + src.VolumeName
	}
	return "path:" + src.HostPath
}

// AddTransient leaves the dir name at the root of the source with key (TransientKey) out of
// the backup pl takes (archive and index), without recording it as an exclude.
func (pl *BackupPlan) AddTransient(key, name string) {
	if pl.opts.Transient == nil {
		pl.opts.Transient = map[string][]string{}
	}
	pl.opts.Transient[key] = append(pl.opts.Transient[key], name)
}

// PrestageResult is what Prestage staged: files and their bytes, over how many sources.
type PrestageResult struct {
	Sources int
	Files   int64
	Bytes   int64
}

// Prestage is pass one of the two-pass differential restore of plan (see above), run while
// the services still run and after plan.Ready passed; safety, when set, is the safety
// backup the stop is followed by: each stage dir becomes transient in it. It never fails
// the restore: a source it cannot stage is restored as before (an event says why).
func (s *Service) Prestage(ctx context.Context, plan *RestorePlan, safety *BackupPlan) PrestageResult {
	var out PrestageResult
	st, can := s.Mover.(volume.DiffStager)
	if !can {
		return out
	}
	for i := range plan.Items {
		it := &plan.Items[i]
		links := []backup.Link{{Entry: plan.Entry, Source: it.From}}
		if it.From.Base != nil {
			var err error
			if links, err = s.Store.Chain(plan.Entry, it.From); err != nil {
				continue
			}
		}
		e := links[0].Entry
		comp, err := archive.ParseCompression(e.Manifest.Compression)
		if err != nil {
			comp = archive.DetectCompression(links[0].Source.Archive)
		}
		t, ok := TargetOf(it.To, plan.Dir)
		paths, why, try := s.diffInputs(ctx, links, *it, t, ok, comp)
		if !try || why != "" {
			continue
		}
		name := it.From.Name
		task := s.task("stage "+name+" (while running)", name, 0)
		res, err := st.StageDiff(ctx, t, volume.DiffOptions{IndexFile: paths[0], Archives: paths[1:],
			Excludes: manifestExcludes(e.Manifest), Progress: task.Add, Ready: plan.Ready})
		task.Done(err)
		switch {
		case err != nil:
			s.event(fmt.Sprintf("%s: nothing staged: %v", name, err))
			continue
		case res.Staged == nil:
			if res.Fallback != "" && res.Fallback != "nothing to stage" {
				s.event(name + ": nothing staged: " + res.Fallback)
			}
			continue
		}
		it.Staged = res.Staged
		if safety != nil {
			safety.AddTransient(TransientKey(it.To), res.Staged.Dir)
		}
		out.Sources++
		out.Files += res.Files
		out.Bytes += res.Bytes
		s.event(fmt.Sprintf("%s: staged %d file(s) to rewrite while the services run", name, res.Files))
	}
	return out
}

// Staged is how many files plan's sources have staged and not yet used.
func (pl *RestorePlan) Staged() int64 {
	var n int64
	for _, it := range pl.Items {
		if it.Staged != nil {
			n += int64(len(it.Staged.Files))
		}
	}
	return n
}

// StagedUsed records that the restore of plan ran: each stage was used and removed by it,
// or by the full restore that replaced it.
func (pl *RestorePlan) StagedUsed() {
	for i := range pl.Items {
		pl.Items[i].Staged = nil
	}
}

// TakeStaged moves to pl the stage of each source from staged for the same backup entry,
// source name and target (a plan made before the stop); the others stay in from, for
// DropStaged. from nil does nothing.
func (pl *RestorePlan) TakeStaged(from *RestorePlan) {
	if from == nil || from.Entry.ID != pl.Entry.ID {
		return
	}
	for i := range from.Items {
		f := &from.Items[i]
		for j := range pl.Items {
			it := &pl.Items[j]
			if f.Staged != nil && it.Staged == nil && it.From.Name == f.From.Name && TransientKey(it.To) == TransientKey(f.To) && it.To.Kind == f.To.Kind {
				it.Staged, f.Staged = f.Staged, nil
			}
		}
	}
}

// DropStaged removes the stage dirs of plan that no restore used (it ended before it
// wrote); what cannot be removed is reported as an event (any later restore removes it:
// it is not in a backup).
func (s *Service) DropStaged(ctx context.Context, plan *RestorePlan) {
	if plan == nil {
		return
	}
	st, can := s.Mover.(volume.DiffStager)
	for i := range plan.Items {
		it := &plan.Items[i]
		if it.Staged == nil || !can {
			continue
		}
		if t, ok := TargetOf(it.To, plan.Dir); ok {
			if err := st.DropStage(ctx, t, it.Staged.Dir); err != nil {
				s.event(fmt.Sprintf("%s: the stage %s was not removed: %v", it.From.Name, it.Staged.Dir, err))
			}
		}
		it.Staged = nil
	}
}
