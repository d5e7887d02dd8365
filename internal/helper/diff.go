package helper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/diffrestore"
	"github.com/docker-maim/docker-maim/internal/treeindex"
)

// DiffReport is what a differential restore did (diffrestore.Result without its stats),
// reported with the stats: Fallback set means nothing was touched and the host restores in
// full.
type DiffReport struct {
	Fallback  string `json:"fallback,omitempty"`
	Files     int64  `json:"files"`
	Rewritten int64  `json:"rewritten"`
	Removed   int64  `json:"removed"`
	// Staged is how many files pass one (diffstage) staged; Renamed how many of
	// the Rewritten files pass two (--staged-stdin) renamed from the stage.
	Staged  int64 `json:"staged,omitempty"`
	Renamed int64 `json:"renamed,omitempty"`
}

// DiffRestore makes dest equal to the backup whose final index index reads and whose
// archives (base, then delta) are the files archives, rewriting only what differs when that
// is exact (diffrestore.Restore; also the host fast path of internal/volume). Owners are
// restored as Restore restores them.
func DiffRestore(ctx context.Context, dest string, index io.Reader, archives []string, excludes []string, progress func(int64)) (diffrestore.Result, error) {
	return DiffRestoreStaged(ctx, dest, index, archives, excludes, progress, nil)
}

// DiffRestoreStaged is DiffRestore as pass two of a two-pass differential restore: the
// files staged (StageDiff) that nobody touched since are renamed into place, and the stage
// goes (diffrestore.Options.Staged). staged nil is DiffRestore.
func DiffRestoreStaged(ctx context.Context, dest string, index io.Reader, archives []string, excludes []string, progress func(int64), staged *diffrestore.Staged) (diffrestore.Result, error) {
	idx, as, done, err := openDiff(index, archives)
	defer done()
	if err != nil {
		return diffrestore.Result{}, err
	}
	return diffrestore.Restore(ctx, dest, idx, as, diffrestore.Options{Staged: staged,
		Extract: archive.ExtractOptions{SameOwner: true, Excludes: excludes, Progress: progress}})
}

// StageDiff is pass one of a two-pass differential restore (diffrestore.Stage), while the
// services run: the backup's version of each file the restore will rewrite is written into
// a stage dir at dest's root; nothing else is touched.
func StageDiff(ctx context.Context, dest string, index io.Reader, archives []string, excludes []string, progress func(int64)) (diffrestore.StageResult, error) {
	idx, as, done, err := openDiff(index, archives)
	defer done()
	if err != nil {
		return diffrestore.StageResult{}, err
	}
	return diffrestore.Stage(ctx, dest, idx, as, diffrestore.Options{
		Extract: archive.ExtractOptions{SameOwner: true, Excludes: excludes, Progress: progress}})
}

// openDiff reads the index and opens the archives; done closes them.
func openDiff(index io.Reader, archives []string) (*treeindex.Index, []diffrestore.Archive, func(), error) {
	var files []*os.File
	done := func() {
		for _, f := range files {
			f.Close()
		}
	}
	idx, err := treeindex.Read(index)
	if err != nil {
		return nil, nil, done, err
	}
	var as []diffrestore.Archive
	for _, p := range archives {
		f, err := os.Open(p)
		if err != nil {
			return nil, nil, done, err
		}
		files = append(files, f)
		fi, err := f.Stat()
		if err != nil {
			return nil, nil, done, err
		}
		as = append(as, diffrestore.Archive{Name: fi.Name(), R: f, Size: fi.Size()})
	}
	return idx, as, done, nil
}

// diff runs `maim-helper diffrestore`: the index is the file --in names (opened as f), the
// archives --archive names; diffstage is its pass one, diffstage --drop removes a stage.
func (inv *invocation) diff(ctx context.Context, rep *reporter, f *os.File) int {
	if inv.dropStage != "" {
		if err := diffrestore.DropStage(inv.target, inv.dropStage); err != nil {
			return rep.fail(1, err)
		}
		rep.send(Msg{Stats: &archive.Stats{}, Diff: &DiffReport{}})
		return 0
	}
	if f == nil {
		return rep.fail(2, fmt.Errorf("diffrestore: --in (the index file) is needed"))
	}
	if inv.stage {
		return inv.stageDiff(ctx, rep, f)
	}
	stopProgress := rep.start()
	res, err := DiffRestoreStaged(ctx, inv.target, f, inv.archives, inv.excludes, inv.holdWrites(ctx, rep.add), inv.staged)
	stopProgress()
	if err != nil {
		if errors.Is(context.Cause(ctx), ErrCallerGone) {
			return rep.fail(ExitAborted, fmt.Errorf("%w: stopped at a safe point (%v)", ErrCallerGone, err))
		}
		return rep.fail(1, err)
	}
	rep.send(Msg{Stats: &res.Stats, MaxRSS: PeakRSSKiB(), Diff: &DiffReport{Fallback: res.Fallback, Files: res.Files, Rewritten: res.Rewritten, Removed: res.Removed, Renamed: res.Renamed}})
	return 0
}

// stageDiff runs `maim-helper diffstage`: the stage record goes out as the
// {"index"} pieces (diffrestore.Staged.Marshal's bytes), before the stats.
func (inv *invocation) stageDiff(ctx context.Context, rep *reporter, f *os.File) int {
	stopProgress := rep.start()
	res, err := StageDiff(ctx, inv.target, f, inv.archives, inv.excludes, inv.holdWrites(ctx, rep.add))
	stopProgress()
	if errors.Is(context.Cause(ctx), ErrCallerGone) {
		// Nobody will rename from the stage: a stage finished after the caller went is
		// removed as a failed one is (diffrestore.Stage), and the abort code says so.
		if err == nil && res.Staged != nil {
			err = diffrestore.DropStage(inv.target, res.Staged.Dir)
		}
		if err != nil {
			return rep.fail(ExitAborted, fmt.Errorf("%w: stopped at a safe point (%v)", ErrCallerGone, err))
		}
		return rep.fail(ExitAborted, fmt.Errorf("%w: the stage is removed", ErrCallerGone))
	}
	if err != nil {
		return rep.fail(1, err)
	}
	if res.Staged != nil {
		b, err := res.Staged.Marshal()
		if err != nil {
			_ = diffrestore.DropStage(inv.target, res.Staged.Dir)
			return rep.fail(1, err)
		}
		rep.sendBytes(b)
	}
	rep.send(Msg{Stats: &archive.Stats{Files: res.Files, Bytes: res.Bytes}, MaxRSS: PeakRSSKiB(), Diff: &DiffReport{Fallback: res.Fallback, Staged: res.Files}})
	return 0
}
