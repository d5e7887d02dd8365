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
}

// DiffRestore makes dest equal to the backup whose final index index reads and whose
// archives (base, then delta) are the files archives, rewriting only what differs when that
// is exact (diffrestore.Restore; also the host fast path of internal/volume). Owners are
// restored as Restore restores them.
func DiffRestore(ctx context.Context, dest string, index io.Reader, archives []string, excludes []string, progress func(int64)) (diffrestore.Result, error) {
	idx, err := treeindex.Read(index)
	if err != nil {
		return diffrestore.Result{}, err
	}
	var as []diffrestore.Archive
	for _, p := range archives {
		f, err := os.Open(p)
		if err != nil {
			return diffrestore.Result{}, err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return diffrestore.Result{}, err
		}
		as = append(as, diffrestore.Archive{Name: fi.Name(), R: f, Size: fi.Size()})
	}
	return diffrestore.Restore(ctx, dest, idx, as, diffrestore.Options{
		Extract: archive.ExtractOptions{SameOwner: true, Excludes: excludes, Progress: progress}})
}

// diff runs `maim-helper diffrestore`: the index is the file --in names (opened as f), the
// archives --archive names.
func (inv *invocation) diff(ctx context.Context, rep *reporter, f *os.File) int {
	if f == nil {
		return rep.fail(2, fmt.Errorf("diffrestore: --in (the index file) is needed"))
	}
	stopProgress := rep.start()
	res, err := DiffRestore(ctx, inv.target, f, inv.archives, inv.excludes, inv.holdWrites(ctx, rep.add))
	stopProgress()
	if err != nil {
		if errors.Is(context.Cause(ctx), ErrCallerGone) {
			return rep.fail(ExitAborted, fmt.Errorf("%w: stopped at a safe point (%v)", ErrCallerGone, err))
		}
		return rep.fail(1, err)
	}
	rep.send(Msg{Stats: &res.Stats, MaxRSS: PeakRSSKiB(), Diff: &DiffReport{Fallback: res.Fallback, Files: res.Files, Rewritten: res.Rewritten, Removed: res.Removed}})
	return 0
}
