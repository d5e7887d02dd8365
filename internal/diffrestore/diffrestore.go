// Package diffrestore is the differential restore: it makes a directory equal to a backup of
// it by rewriting only what differs, reading only the archive frames that hold it.
//
// # When it is exact
//
// A backup keeps the final index of each directory source (treeindex: what every path was,
// type and mode, size, uid, gid, mtime, ctime, device, inode and links, when the backup last
// read it) and zstd archives that are seekable (seektar). Restore compares each path of the
// target with the index and takes a path as unchanged since the backup when all of these
// equal what the index recorded, the path's mtime and ctime lie before the index's start
// (less treeindex.CtimeMargin: a write in the same clock tick as the read could leave them
// equal) and it has a single link. On a file system that shows every change by ctime
// (fsaccess.Inexact reports ""), any write, truncate, chmod, chown, xattr change, rename in,
// or store through a shared mapping (the backup's pass one wrote back dirty pages, so the
// next store faults and moves the times) moves the ctime, and no one can set a ctime back;
// a file replaced by another gets another inode or a later ctime. So an unchanged path holds
// what the backup holds, and Restore rewrites every other path from the archives, removes the
// paths the backup does not have, and sets the metadata of the directories it touched or
// that differ: the result equals a full extraction.
//
// That argument needs the target to be the very tree the index recorded, on such file
// systems. Restore therefore takes the fast path only when all of these hold, and otherwise
// touches nothing and says why (Result.Fallback), and the caller extracts in full:
//
//   - the backup has an index, recorded as exact (Index.OnePass empty), and every archive
//     is seekable (zstd, written by a build that adds the tables);
//   - the target exists, is a directory, is not empty, and its root has the device and inode
//     the index recorded for the root (not a recreated volume, another host, a foreign tree);
//   - every file system met in the target is exact (fsaccess.Inexact: not tmpfs, overlay,
//     NFS, FUSE, ...);
//   - no exclude pattern may re-include something below an excluded directory;
//   - every path the index holds is in the archives' entry tables.
//
// # Two passes
//
// Stage is pass one, while the services still run: it compares the target exactly as
// Restore does and writes, for each regular file Restore would rewrite (a single link in the
// index; absent or a regular file in the target), the backup's version with the metadata an
// extraction sets into a fresh stage dir at the target's root (StagePrefix, 128 random bits,
// mode 0700, made with mkdir's O_EXCL semantics), recording per file the target's metadata
// it saw (or its absence) and the staged file's once written (Staged). Restore given that
// record (Options.Staged) is pass two, after the stop: it compares again, and a path it
// rewrites whose target still has the metadata pass one saw and whose staged file still has
// the metadata recorded is renamed into place (renameat within one file system, every
// directory on the way opened without following a symlink), any other path is extracted
// from the archives as in one pass; the directories renamed into are set again from the
// archive, and the stage dir is removed. The result equals the one-pass differential
// restore when the ctime argument above holds for both the target path and the staged file:
// anything that wrote, truncated, chmodded, chowned, replaced or removed either moved its
// ctime or its inode, and then it is extracted again. What it cannot see is a write into a
// staged file in the same clock tick as its staging finished (as a write in the tick of a
// backup's read, which the index's margin covers); the stage dir's random name and mode make
// that the work of someone who went looking for it. The record stays with the caller: it is
// never read back from the target, which the services could write.
package diffrestore

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/seektar"
	"github.com/docker-maim/docker-maim/internal/treeindex"
)

// Archive is one archive of the backup's source (the base, then its delta), to be read at
// random.
type Archive struct {
	Name string
	R    io.ReaderAt
	Size int64 // the file's size
}

// Options tune Restore.
type Options struct {
	// Extract are the options of the writes (owners, devices, excludes, progress); its
	// Excludes are the backup's: matching paths are neither compared, written nor removed.
	Extract archive.ExtractOptions
	// Staged, when set, is what Stage (pass one) wrote: each staged file whose target path
	// and staged copy are as pass one left them is renamed into place instead of extracted,
	// and the stage directory is removed in every case.
	Staged *Staged
}

// Result is what Restore did.
type Result struct {
	// Fallback, when set, says why the fast path does not apply: nothing was touched and the
	// caller extracts in full.
	Fallback string
	// Files is how many regular files the backup holds, Rewritten how many of them Restore
	// wrote ("N of M files rewritten"); Removed the paths it removed (a removed directory
	// counts once).
	Files, Rewritten, Removed int64
	// Renamed is how many of the Rewritten files were renamed from the stage (Options.Staged)
	// rather than extracted.
	Renamed int64
	// Stats are Patch's: entries and content bytes written.
	Stats archive.Stats
}

// Progress tells what Restore rewrites "N of M files rewritten".
func (r Result) Progress() string {
	s := fmt.Sprintf("%d of %d files rewritten", r.Rewritten, r.Files)
	if r.Renamed > 0 {
		s += fmt.Sprintf(" (%d renamed from the stage, %d extracted)", r.Renamed, r.Rewritten-r.Renamed)
	}
	return s
}

// errFallback carries a reason not to take the fast path.
type errFallback struct{ why string }

func (e *errFallback) Error() string { return e.why }

func fallback(format string, a ...any) error { return &errFallback{why: fmt.Sprintf(format, a...)} }

// Restore makes dest equal to the backup whose final index is idx and whose archives are
// archives (oldest first: the base, then the delta), rewriting only the paths that differ
// when that is exact (see the package comment), and otherwise touching nothing and
// returning Result.Fallback. idx is consumed (its entries are removed as they are matched).
func Restore(ctx context.Context, dest string, idx *treeindex.Index, archives []Archive, opts Options) (Result, error) {
	res, err := restoreOnce(ctx, dest, idx, archives, opts)
	if st := opts.Staged; st != nil && (res.Fallback != "" || err != nil) {
		// Nothing renamed on a fallback; after an error the stage goes too (the caller puts
		// the safety backup back or extracts in full, which would remove it anyway).
		if derr := DropStage(dest, st.Dir); derr != nil && err == nil && res.Fallback == "" {
			err = derr
		}
	}
	return res, err
}

func restoreOnce(ctx context.Context, dest string, idx *treeindex.Index, archives []Archive, opts Options) (Result, error) {
	var res Result
	if idx == nil || len(idx.Entries) == 0 {
		res.Fallback = "the backup has no index of this source"
		return res, nil
	}
	if idx.OnePass != "" {
		res.Fallback = "the backup's index cannot tell every change (" + idx.OnePass + ")"
		return res, nil
	}
	open, closeAll, err := openAll(archives)
	defer closeAll()
	if err != nil {
		return res, asFallback(&res.Fallback, err)
	}
	for _, e := range idx.Entries {
		if e.Mode&typeMask == typeReg {
			res.Files++
		}
	}
	p, err := newPlanner(dest, idx, opts.Extract.Excludes)
	if err == nil {
		err = p.walk(ctx)
	}
	if err != nil {
		return res, compareFailed(ctx, &res.Fallback, err)
	}
	if opts.Staged != nil {
		p.wantParents(opts.Staged)
	}
	lists, err := locate(open, p.want)
	if err != nil {
		return res, asFallback(&res.Fallback, err)
	}
	if opts.Staged != nil {
		// Found in the archives first (a fallback touches nothing); what is renamed is
		// taken off what Patch reads.
		var renamed map[string]bool
		renamed, res.Renamed = p.useStage(opts.Staged)
		lists = without(lists, renamed)
	}
	for _, typ := range p.want {
		if typ == typeReg {
			res.Rewritten++
		}
	}
	res.Removed = int64(len(p.remove))
	if st := opts.Staged; st != nil {
		for _, r := range p.remove {
			if r == st.Dir {
				res.Removed-- // ours, not the target's
			}
		}
	}
	res.Stats, err = archive.Patch(ctx, dest, entries(open, lists), p.remove, opts.Extract)
	if err == nil && opts.Staged != nil {
		err = DropStage(dest, opts.Staged.Dir) // gone already, unless an exclude kept it
	}
	return res, err
}

// asFallback turns a reason not to take the fast path into *why; other errors stay.
func asFallback(why *string, err error) error {
	var fb *errFallback
	if errors.As(err, &fb) {
		*why = fb.why
		return nil
	}
	return err
}

// openAll opens every archive as seekable; one that is not is a reason to fall back.
// closeAll closes those opened, also after an error.
func openAll(archives []Archive) (out []*seektar.Archive, closeAll func(), err error) {
	closeAll = func() {
		for _, a := range out {
			a.Close()
		}
	}
	if len(archives) == 0 {
		return nil, closeAll, fallback("no archive to read")
	}
	for _, a := range archives {
		s, err := seektar.Open(a.R, a.Size)
		if err != nil {
			if errors.Is(err, seektar.ErrNotSeekable) {
				return out, closeAll, fallback("%s is not seekable (not zstd, or written by an older build)", a.Name)
			}
			return out, closeAll, fallback("%s: %v", a.Name, err)
		}
		out = append(out, s)
	}
	return out, closeAll, nil
}

// spot is where an entry is: its archive and header offset.
type spot struct {
	name string
	off  int64
}

// locate finds each wanted path in the newest archive that holds it (the delta holds what
// changed since the base) and returns, per archive, the entries to read in archive order.
func locate(archives []*seektar.Archive, want map[string]uint32) ([][]spot, error) {
	left := make(map[string]bool, len(want))
	for k := range want {
		left[k] = true
	}
	lists := make([][]spot, len(archives))
	for i := len(archives) - 1; i >= 0 && len(left) > 0; i-- {
		err := archives[i].Entries(func(name string, off int64) bool {
			rel := relOf(name)
			if left[rel] {
				delete(left, rel)
				lists[i] = append(lists[i], spot{name, off})
			}
			return len(left) > 0
		})
		if err != nil {
			return nil, fallback("%v", err)
		}
		sort.Slice(lists[i], func(a, b int) bool { return lists[i][a].off < lists[i][b].off })
	}
	for rel := range left {
		return nil, fallback("the archives do not hold %q, which the index has", rel)
	}
	return lists, nil
}

// relOf is the relative path of an archive entry's name ("" for the root).
func relOf(name string) string {
	if name == "./" {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(name, "./"), "/")
}

// without drops the spots of the paths in drop.
func without(lists [][]spot, drop map[string]bool) [][]spot {
	if len(drop) == 0 {
		return lists
	}
	out := make([][]spot, len(lists))
	for i, l := range lists {
		for _, s := range l {
			if !drop[relOf(s.name)] {
				out[i] = append(out[i], s)
			}
		}
	}
	return out
}

// entries yields the located entries, archive by archive (base first), each in archive
// order, read at random through the seek table.
func entries(archives []*seektar.Archive, lists [][]spot) archive.PatchNext {
	i, j := 0, 0
	return func() (*tar.Header, *tar.Reader, error) {
		for i < len(lists) && j >= len(lists[i]) {
			i, j = i+1, 0
		}
		if i >= len(lists) {
			return nil, nil, io.EOF
		}
		s := lists[i][j]
		j++
		return archives[i].Entry(s.off, s.name)
	}
}

// compareFailed is what a failed comparison of the target (newPlanner, walk) ends in: the
// context's error, or a fallback (set in *why). Nothing is touched while the target is
// compared: what the comparison could not read, the full extraction handles (or reports)
// as it always did.
func compareFailed(ctx context.Context, why *string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var fb *errFallback
	if !errors.As(err, &fb) {
		err = fallback("comparing the target failed: %v", err)
	}
	return asFallback(why, err)
}
