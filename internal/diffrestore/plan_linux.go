package diffrestore

import (
	"context"
	"errors"
	"os"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/docker-maim/docker-maim/internal/exclude"
	"github.com/docker-maim/docker-maim/internal/fsaccess"
	"github.com/docker-maim/docker-maim/internal/treeindex"
)

const (
	typeMask = unix.S_IFMT
	typeReg  = unix.S_IFREG
	typeDir  = unix.S_IFDIR
)

// planner walks the target and decides what Patch writes and removes.
type planner struct {
	root   string
	idx    *treeindex.Index
	thr    int64
	ex     *exclude.Rules
	fs     map[uint64]bool   // devices found exact
	want   map[string]uint32 // paths to write, by their type in the index
	remove []string          // paths the index does not have
}

func newPlanner(dest string, idx *treeindex.Index, excludes []string) (*planner, error) {
	ex, err := exclude.New(excludes)
	if err != nil {
		return nil, err
	}
	return &planner{root: dest, idx: idx, thr: idx.Threshold(), ex: ex, fs: map[uint64]bool{}, want: map[string]uint32{}}, nil
}

// walk compares the whole target with the index. What is left of the index afterwards is
// missing from the target (or below a path whose type changed): written too.
func (p *planner) walk(ctx context.Context) error {
	var st unix.Stat_t
	if err := unix.Lstat(p.root, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fallback("the target does not exist")
		}
		return &os.PathError{Op: "lstat", Path: p.root, Err: err}
	}
	e, ok := p.idx.Entries[""]
	switch {
	case st.Mode&typeMask != typeDir:
		return fallback("the target is not a directory")
	case !ok || e.Mode&typeMask != typeDir:
		return fallback("the index has no root directory")
	}
	names, err := readNames(p.root)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fallback("the target is empty")
	}
	if uint64(st.Dev) != e.Dev || st.Ino != e.Ino {
		return fallback("the target is not the tree the backup read (its root is device %d inode %d, the backup's was %d/%d)", st.Dev, st.Ino, e.Dev, e.Ino)
	}
	if err := p.checkFS(p.root, uint64(st.Dev)); err != nil {
		return err
	}
	changed, err := p.dir(ctx, p.root, "", names)
	if err != nil {
		return err
	}
	p.visit("", &st, e, changed)
	for rel, e := range p.idx.Entries {
		p.want[rel] = e.Mode & typeMask
	}
	return nil
}

// dir compares the children names of the target directory full (rel) with the index;
// changed reports whether Patch will add, replace or remove any of them (so the directory's
// own metadata must be set again).
func (p *planner) dir(ctx context.Context, full, rel string, names []string) (changed bool, err error) {
	sort.Strings(names)
	ahead, err := p.statAhead(full, names)
	if err != nil {
		return false, err
	}
	defer ahead.Close()
	for i, n := range names {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		child, cf := n, full+"/"+n
		if rel != "" {
			child = rel + "/" + n
		}
		if p.ex.Match(child) {
			if !p.ex.Prune(child) {
				return false, fallback("%s is excluded but an exception may re-include something below it", child)
			}
			continue // left out by the backup: kept as it is
		}
		e, ok := p.idx.Entries[child]
		if !ok {
			p.remove = append(p.remove, child)
			changed = true
			continue
		}
		var st unix.Stat_t
		if err := ahead.Lstat(i, cf, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				changed = true
				continue // gone meanwhile: written
			}
			return false, &os.PathError{Op: "lstat", Path: cf, Err: err}
		}
		if st.Mode&typeMask != e.Mode&typeMask {
			changed = true
			continue // written, with what the index has below it; Patch replaces what is there
		}
		if err := p.checkFS(cf, uint64(st.Dev)); err != nil {
			return false, err
		}
		sub := false
		if st.Mode&typeMask == typeDir {
			names, err := readNames(cf)
			if err != nil {
				return false, err
			}
			if sub, err = p.dir(ctx, cf, child, names); err != nil {
				return false, err
			}
		}
		if !p.visit(child, &st, e, sub) && st.Mode&typeMask != typeDir {
			changed = true // rewriting replaces the directory entry
		}
	}
	return changed, nil
}

// statAhead prepares the lstat of a directory's names: for a large directory they are taken
// a batch at a time on all cores (fsaccess.StatAhead, exact under the condition the whole
// comparison has: nothing writes into the target while it is compared); for a small one, one
// at a time as the walk visits them.
func (p *planner) statAhead(full string, names []string) (*fsaccess.Ahead, error) {
	a, err := fsaccess.StatAhead(full, names, true)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return nil, fallback("%s changed while the target was compared", full)
		}
		return nil, &os.PathError{Op: "open", Path: full, Err: err}
	}
	return a, nil
}

// visit settles the index entry e of rel, found in the target as st: it stays as it is when
// it is unchanged (kept), else it is written. force writes it anyway (a directory whose
// children change).
func (p *planner) visit(rel string, st *unix.Stat_t, e treeindex.Entry, force bool) (kept bool) {
	delete(p.idx.Entries, rel)
	now := treeindex.Entry{Mode: st.Mode, Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(),
		Dev: uint64(st.Dev), Ino: st.Ino, Uid: st.Uid, Gid: st.Gid, Nlink: uint32(st.Nlink)}
	trusted := e.Ctime < p.thr && e.Mtime < p.thr && (e.Nlink <= 1 || e.Mode&typeMask == typeDir)
	if !force && trusted && now == e {
		return true
	}
	p.want[rel] = e.Mode & typeMask
	return false
}

// checkFS falls back the first time the walk meets a file system that may not show every
// change by ctime (fsaccess.Inexact).
func (p *planner) checkFS(path string, dev uint64) error {
	if p.fs[dev] {
		return nil
	}
	fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	why, err := fsaccess.Inexact(fd)
	if err != nil {
		return fallback("statfs %s: %v", path, err)
	}
	if why != "" {
		return fallback("the target is on %s", why)
	}
	p.fs[dev] = true
	return nil
}

// readNames lists the directory path, never following a symlink swapped in for it.
func readNames(path string) ([]string, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return nil, fallback("%s changed while the target was compared", path)
		}
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	return f.Readdirnames(-1)
}
