package volume

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
	// Staged, when set, is what StageDiff staged in the target before the stop (the two-pass
	// differential restore, diffrestore.Stage): RestoreDiff renames the staged files nobody
	// touched since instead of extracting them, and removes the stage in every case but an
	// error before the helper ran (then the caller's full restore or DropStage does).
	Staged *diffrestore.Staged
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
	p, hp, fb, err := m.diffTarget(ctx, t, true)
	if fb != "" || err != nil {
		return diffrestore.Result{Fallback: fb}, err
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

// diffTarget is what a differential restore and its stage (StageDiff) do first: the target
// checked, a single file sent to the whole restore (fallback), the leftover helpers of the
// target removed (leftovers: the restore's, which writes), and the data path picked.
func (m *EngineMover) diffTarget(ctx context.Context, t Target, leftovers bool) (p Path, hp, fallback string, err error) {
	if err := t.validate(); err != nil {
		return "", "", "", err
	}
	if t.IsFile {
		return "", "", "a single file is restored whole", nil
	}
	if leftovers {
		if err := m.removeLeftovers(ctx, t); err != nil {
			return "", "", "", err
		}
	}
	p, hp, err = m.pickFor(ctx, t, true)
	return p, hp, "", err
}

// hostInputs are what the host path of a differential restore or stage reads: the index
// file, opened, and the progress func (never nil).
func (o DiffOptions) hostInputs() (*os.File, func(int64), error) {
	f, err := os.Open(o.IndexFile)
	if err != nil {
		return nil, nil, err
	}
	if o.Progress == nil {
		return f, func(int64) {}, nil
	}
	return f, o.Progress, nil
}

// hostDiffRestore is the differential restore of the host path p.
func hostDiffRestore(ctx context.Context, p string, opts DiffOptions) (diffrestore.Result, error) {
	f, progress, err := opts.hostInputs()
	if err != nil {
		return diffrestore.Result{}, err
	}
	defer f.Close()
	return helper.DiffRestoreStaged(ctx, p, f, opts.Archives, opts.Excludes, progress, opts.Staged)
}

// helperDiffRestore runs `maim-helper diffrestore` with the backup dir mounted (the stage
// record, if any, on its stdin).
func (m *EngineMover) helperDiffRestore(ctx context.Context, t Target, opts DiffOptions) (diffrestore.Result, error) {
	call := diffCall{cmd: "diffrestore"}
	if opts.Staged != nil {
		b, err := opts.Staged.Marshal()
		if err != nil {
			return diffrestore.Result{}, err
		}
		var in bytes.Buffer
		if err := helper.WriteFramedBytes(&in, b); err != nil {
			return diffrestore.Result{}, err
		}
		call.flags, call.stdin = []string{"--staged-stdin"}, &in
	}
	res, fb, err := m.runDiffHelper(ctx, t, opts, call)
	if fb != "" || err != nil {
		return diffrestore.Result{Fallback: fb}, err
	}
	d := res.diff
	return diffrestore.Result{Fallback: d.Fallback, Files: d.Files, Rewritten: d.Rewritten, Removed: d.Removed, Renamed: d.Renamed, Stats: res.stats}, nil
}

// diffCall is one helper run of a differential restore's: its command, extra flags, stdin
// and where the {"index"} pieces go.
type diffCall struct {
	cmd   string
	flags []string
	stdin io.Reader
	index *bytes.Buffer
}

// runDiffHelper runs the helper of c with the backup dir mounted (read-only); a fallback
// reason says it could not (nothing touched).
func (m *EngineMover) runDiffHelper(ctx context.Context, t Target, opts DiffOptions, c diffCall) (helperResult, string, error) {
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
		return helperResult{}, "the helper cannot read the backup dir directly (" + why + ")", nil
	}
	mounts, binds, p := helperMounts(t, false)
	args := append([]string{c.cmd}, c.flags...)
	for _, a := range opts.Archives {
		if within(a) != dir {
			return helperResult{}, "the archives are not in the backups of one project dir", nil
		}
		args = append(args, "--archive", path.Join(backupDirMount, rel(a)))
	}
	for _, ex := range opts.Excludes {
		args = append(args, "--exclude", ex)
	}
	args = append(args, p)
	h := helperRun{labels: m.targetLabels(t), args: args, mounts: mounts, binds: binds, progress: opts.Progress, ready: opts.Ready, lifeline: true,
		stdin: c.stdin, index: c.index}
	// The data path is the direct restore's (how the data is reached); the event of the
	// differential restore says how much it rewrote.
	res, err := m.runDirectIn(ctx, h, dir, rel(opts.IndexFile), "in", true, m.describe(PathHelper, nil)+", reading from the backup dir directly")
	if err != nil {
		if _, nv := err.(*errNotVisible); nv {
			return res, "the helper does not see the backup dir", nil
		}
		return res, "", fmt.Errorf("differential restore of %s: %w", t, err)
	}
	if res.diff == nil {
		return res, "", fmt.Errorf("differential restore of %s: the helper reported no result", t)
	}
	return res, "", nil
}
