package diffrestore

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/seektar"
	"github.com/docker-maim/docker-maim/internal/treeindex"
)

// Stage is pass one of a two-pass differential restore, run while the services still run:
// it compares dest with the backup's index exactly as Restore does and, for every regular
// file Restore would rewrite (a single link in the index; absent or a regular file in
// dest), writes the backup's version, read from the same seekable archive frames, with the
// metadata an extraction sets, into a fresh stage directory at dest's root (StagePrefix;
// created 0700 with mkdir's O_EXCL semantics). Nothing else below dest is touched. It
// returns the record pass two needs (StageResult.Staged), or a Fallback with nothing
// staged; a failure removes the stage directory. idx is consumed.
func Stage(ctx context.Context, dest string, idx *treeindex.Index, archives []Archive, opts Options) (StageResult, error) {
	var res StageResult
	if idx == nil || len(idx.Entries) == 0 || idx.OnePass != "" {
		res.Fallback = "the backup's index cannot decide what to rewrite"
		return res, nil
	}
	open, closeAll, err := openAll(archives)
	defer closeAll()
	if err != nil {
		return res, asFallback(&res.Fallback, err)
	}
	multi := map[string]bool{} // files with more links: written with their links by pass two
	for rel, e := range idx.Entries {
		if e.Mode&typeMask == typeReg && e.Nlink > 1 {
			multi[rel] = true
		}
	}
	name, err := NewStageName()
	if err != nil {
		return res, err
	}
	p, err := newPlanner(dest, idx, opts.Extract.Excludes)
	if err == nil {
		if _, inIndex := idx.Entries[name]; inIndex || p.ex.Match(name) {
			err = fallback("the stage name is the backup's or excluded")
		}
	}
	if err == nil {
		err = p.walk(ctx)
	}
	if err != nil {
		return res, compareFailed(ctx, &res.Fallback, err)
	}
	files := stageCandidates(dest, p.want, multi)
	if len(files) == 0 {
		res.Fallback = "nothing to stage"
		return res, nil
	}
	if name, err = makeStageDir(dest, name); err != nil {
		return res, err
	}
	st, err := writeStage(ctx, dest, name, files, open, opts)
	if err != nil {
		_ = os.RemoveAll(path.Join(dest, name))
		if errors.As(err, new(*errFallback)) {
			return res, asFallback(&res.Fallback, err)
		}
		return res, err
	}
	res.Staged = st
	for _, f := range st.Files {
		res.Files++
		res.Bytes += f.Staged.Size
	}
	return res, nil
}

// stageCandidates are the regular files of want (a single link in the index) that are
// absent from dest or a regular file there, with what dest holds at each (Seen).
func stageCandidates(dest string, want map[string]uint32, multi map[string]bool) map[string]*StagedFile {
	out := map[string]*StagedFile{}
	for rel, typ := range want {
		if typ != typeReg || multi[rel] {
			continue
		}
		var st unix.Stat_t
		err := unix.Lstat(dest+"/"+rel, &st)
		switch {
		case errors.Is(err, unix.ENOENT):
			out[rel] = &StagedFile{Path: rel}
		case err == nil && st.Mode&typeMask == typeReg:
			e := entryOf(&st)
			out[rel] = &StagedFile{Path: rel, Seen: &e}
		}
	}
	return out
}

// makeStageDir creates the stage directory, another fresh name each time one exists.
func makeStageDir(dest, name string) (string, error) {
	for try := 0; ; try++ {
		err := unix.Mkdir(dest+"/"+name, 0o700)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, unix.EEXIST) || try >= 4 {
			return "", &os.PathError{Op: "mkdir", Path: dest + "/" + name, Err: err}
		}
		if name, err = NewStageName(); err != nil {
			return "", err
		}
	}
}

// writeStage writes the backup's version of files into the stage dir name (a file per
// target path, named by a number), as Patch writes it, and records each one's metadata.
func writeStage(ctx context.Context, dest, name string, files map[string]*StagedFile, open []*seektar.Archive, opts Options) (*Staged, error) {
	want := make(map[string]uint32, len(files))
	for rel := range files {
		want[rel] = typeReg
	}
	lists, err := locate(open, want)
	if err != nil {
		return nil, err
	}
	next, n := entries(open, lists), 0
	written := []*StagedFile{}
	renamed := func() (*tar.Header, *tar.Reader, error) {
		for {
			h, rd, err := next()
			if err != nil {
				return h, rd, err
			}
			f := files[strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")]
			if f == nil || (h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA) {
				continue // a hard link, or not what was asked: pass two writes it
			}
			n++
			f.Name = strconv.Itoa(n)
			written = append(written, f)
			c := *h
			c.Name = "./" + name + "/" + f.Name
			return &c, rd, nil
		}
	}
	if _, err := archive.Patch(ctx, dest, renamed, nil, opts.Extract); err != nil {
		return nil, err
	}
	st := &Staged{Dir: name}
	for _, f := range written {
		var s unix.Stat_t
		if err := unix.Lstat(dest+"/"+name+"/"+f.Name, &s); err != nil || s.Mode&typeMask != typeReg {
			continue // left out (an exclude): pass two writes it
		}
		f.Staged = entryOf(&s)
		st.Files = append(st.Files, *f)
	}
	return st, nil
}

// entryOf is the treeindex entry of what lstat found.
func entryOf(st *unix.Stat_t) treeindex.Entry {
	return treeindex.Entry{Mode: st.Mode, Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(),
		Dev: uint64(st.Dev), Ino: st.Ino, Uid: st.Uid, Gid: st.Gid, Nlink: uint32(st.Nlink)}
}

// wantParents adds to what Patch writes the directory of each staged file pass two wants:
// a rename into it changes its times, which Patch then sets as the archive has them.
func (p *planner) wantParents(st *Staged) {
	for _, f := range st.Files {
		if p.want[f.Path] == typeReg {
			dir := path.Dir(f.Path)
			if dir == "." {
				dir = ""
			}
			p.want[dir] = typeDir
		}
	}
}

// useStage renames into place each staged file pass two still wants whose target path and
// staged file are as pass one left them (renameStaged). It returns the paths it renamed
// (Patch does not write them) and how many.
func (p *planner) useStage(st *Staged) (map[string]bool, int64) {
	sfd, err := unix.Open(p.root+"/"+st.Dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, 0 // gone or replaced: everything is extracted
	}
	defer unix.Close(sfd)
	done := map[string]bool{}
	for _, f := range st.Files {
		if p.want[f.Path] == typeReg && renameStaged(p.root, sfd, f) {
			done[f.Path] = true
		}
	}
	return done, int64(len(done))
}

// renameStaged renames the staged file f into place when the staged file still has the
// metadata recorded after it was written and the target path still is what pass one saw
// (absent, or the same metadata): by the ctime argument (package comment) neither changed.
// Every directory on the way is opened without following a symlink; any doubt is false:
// the path is extracted instead.
func renameStaged(root string, sfd int, f StagedFile) bool {
	var s unix.Stat_t
	if unix.Fstatat(sfd, f.Name, &s, unix.AT_SYMLINK_NOFOLLOW) != nil || entryOf(&s) != f.Staged {
		return false
	}
	pfd, err := openParent(root, f.Path)
	if err != nil {
		return false
	}
	defer unix.Close(pfd)
	base := path.Base(f.Path)
	var t unix.Stat_t
	err = unix.Fstatat(pfd, base, &t, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case f.Seen == nil && !errors.Is(err, unix.ENOENT):
		return false
	case f.Seen != nil && (err != nil || entryOf(&t) != *f.Seen):
		return false
	}
	return unix.Renameat(sfd, f.Name, pfd, base) == nil
}

// openParent opens the directory holding rel below root, component by component, never
// following a symlink.
func openParent(root, rel string) (int, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	dir := path.Dir(rel)
	if dir == "." {
		return fd, nil
	}
	for _, c := range strings.Split(dir, "/") {
		nfd, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = nfd
	}
	return fd, nil
}

// DropStage removes the stage directory name from dest (a failure before the stop, or a
// restore that will not use it); a name of another form is refused.
func DropStage(dest, name string) error {
	if !IsStageName(name) {
		return errors.New("not a stage directory: " + name)
	}
	return os.RemoveAll(dest + "/" + name)
}
