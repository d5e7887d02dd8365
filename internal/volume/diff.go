package volume

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/docker-maim/docker-maim/internal/diffrestore"
	"github.com/docker-maim/docker-maim/internal/helper"
)

// DiffOptions ask for a differential restore (internal/diffrestore): the target is made
// equal to a backup of it by rewriting only what differs from the backup's final index,
// when that is exact; otherwise nothing is touched and the result says why (Fallback), and
// the caller restores in full.
type DiffOptions struct {
	// IndexFile is the source's index file and Archives its archive files (base, then
	// delta), all local files of one backup dir, whose hashes the caller checks (Ready).
	IndexFile string
	Archives  []string
	Excludes  []string
	Progress  func(int64)
	// Ready is waited for before the first change (see RestoreOptions.Ready).
	Ready func() error
}

// DiffRestorer is a Mover that can restore differentially.
type DiffRestorer interface {
	RestoreDiff(ctx context.Context, t Target, opts DiffOptions) (diffrestore.Result, error)
}

// RestoreDiff implements DiffRestorer: on the host path in this process, on the helper path
// in a helper container that reads the files from the backup dir bind-mounted read-only
// (as a direct restore does); the archive API, and a helper that cannot see the backup dir,
// fall back.
func (m *EngineMover) RestoreDiff(ctx context.Context, t Target, opts DiffOptions) (diffrestore.Result, error) {
	if err := t.validate(); err != nil {
		return diffrestore.Result{}, err
	}
	if t.IsFile {
		return diffrestore.Result{Fallback: "a single file is restored whole"}, nil
	}
	if err := m.removeLeftovers(ctx, t); err != nil {
		return diffrestore.Result{}, err
	}
	p, hp, err := m.pickFor(ctx, t, true)
	if err != nil {
		return diffrestore.Result{}, err
	}
	switch p {
	case PathHost:
		if err := opts.ready(); err != nil {
			return diffrestore.Result{}, err
		}
		return hostDiffRestore(ctx, hp, opts)
	case PathHelper:
		return m.helperDiffRestore(ctx, t, opts)
	}
	return diffrestore.Result{Fallback: "the data path is the archive API, which cannot compare the target"}, nil
}

func (o DiffOptions) ready() error {
	if o.Ready == nil {
		return nil
	}
	return o.Ready()
}

// hostDiffRestore is the differential restore of the host path p.
func hostDiffRestore(ctx context.Context, p string, opts DiffOptions) (diffrestore.Result, error) {
	f, err := os.Open(opts.IndexFile)
	if err != nil {
		return diffrestore.Result{}, err
	}
	defer f.Close()
	progress := opts.Progress
	if progress == nil {
		progress = func(int64) {}
	}
	return helper.DiffRestore(ctx, p, f, opts.Archives, opts.Excludes, progress)
}

// helperDiffRestore runs `maim-helper diffrestore` with the backup dir mounted.
func (m *EngineMover) helperDiffRestore(ctx context.Context, t Target, opts DiffOptions) (diffrestore.Result, error) {
	// One backup dir is mounted; an incremental chain spans backups, so then the project's
	// dir that holds them all (read-only, as the backup dir is).
	dir, rel, within := filepath.Dir(opts.IndexFile), filepath.Base, filepath.Dir
	for _, a := range opts.Archives {
		if filepath.Dir(a) != dir {
			dir = filepath.Dir(dir)
			rel = func(f string) string { return filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f) }
			within = func(f string) string { return filepath.Dir(filepath.Dir(f)) }
			break
		}
	}
	if why := m.directBlocked(dir); why != "" {
		return diffrestore.Result{Fallback: "the helper cannot read the backup dir directly (" + why + ")"}, nil
	}
	mounts, binds, p := helperMounts(t, false)
	args := []string{"diffrestore"}
	for _, a := range opts.Archives {
		if within(a) != dir {
			return diffrestore.Result{Fallback: "the archives are not in the backups of one project dir"}, nil
		}
		args = append(args, "--archive", path.Join(backupDirMount, rel(a)))
	}
	for _, ex := range opts.Excludes {
		args = append(args, "--exclude", ex)
	}
	args = append(args, p)
	h := helperRun{labels: m.targetLabels(t), args: args, mounts: mounts, binds: binds, progress: opts.Progress, ready: opts.Ready, lifeline: true}
	// The data path is the direct restore's (how the data is reached); the event of the
	// differential restore says how much it rewrote.
	res, err := m.runDirectIn(ctx, h, dir, rel(opts.IndexFile), "in", true, m.describe(PathHelper, nil)+", reading from the backup dir directly")
	if err != nil {
		if _, nv := err.(*errNotVisible); nv {
			return diffrestore.Result{Fallback: "the helper does not see the backup dir"}, nil
		}
		return diffrestore.Result{}, fmt.Errorf("differential restore of %s: %w", t, err)
	}
	if res.diff == nil {
		return diffrestore.Result{}, fmt.Errorf("differential restore of %s: the helper reported no result", t)
	}
	d := res.diff
	return diffrestore.Result{Fallback: d.Fallback, Files: d.Files, Rewritten: d.Rewritten, Removed: d.Removed, Stats: res.stats}, nil
}
