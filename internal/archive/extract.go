package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/docker-maim/docker-maim/internal/exclude"
	"github.com/docker-maim/docker-maim/internal/fsaccess"
)

// PatchNext yields the next entry Patch applies: its header and a reader of its content
// (io.EOF when there are no more).
type PatchNext func() (*tar.Header, *tar.Reader, error)

// ExtractOptions tune Extract.
type ExtractOptions struct {
	SameOwner bool // chown entries to archive uid/gid (default true when running as root)
	// NoSameOwner disables the root default of SameOwner: when running as
	// root, entries are chowned unless NoSameOwner is set. (A plain bool
	// cannot express "default true", hence the pair.)
	NoSameOwner bool
	// AllowDevices permits character and block device entries; without it
	// they fail with *UnsafeEntryError. Fifos are always allowed.
	AllowDevices bool
	// Excludes are the patterns the archive was written with (WriteOptions.Excludes, same
	// semantics): paths below dest that match them are left as they are, neither removed
	// nor written, so a restore keeps what the backup left out. Entries of the archive that
	// match them are read and counted but not applied. Single-file archives ignore them.
	Excludes []string
	Progress func(n int64)
	// Beneath, when set, confines a single-file archive's dest to a directory at the
	// moment it is written (see fsaccess.Beneath): a symlink swapped in on the way is followed only
	// while it stays beneath it, and the file is replaced relative to its resolved parent
	// directory's descriptor. A directory archive with Beneath set is refused.
	Beneath *fsaccess.Beneath
}

func (o ExtractOptions) chown() bool {
	if o.SameOwner {
		return true
	}
	return os.Geteuid() == 0 && !o.NoSameOwner
}

// Extract makes dest exactly equal to the archive read from r (uncompressed tar):
// for a directory archive it removes everything under dest that is not in the archive,
// restores the root's mode/owner; for a single-file archive dest is the file path and is
// replaced atomically (a symlink at dest is followed: the file it leads to is replaced,
// the link stays; a link leading nowhere is refused; with opts.Beneath only while the link
// stays beneath that directory, decided as the file is written). Hostile entries (.., absolute, through a symlink, device nodes
// unless AllowDevices) fail with *UnsafeEntryError before anything is written where possible.
//
// A single-file archive is one whose first entry is a regular file with a
// name without "/" (what WriteTar produces for a file root). Everything else
// is a directory archive: dest is created if missing (a non-directory at dest
// is refused, never replaced) and all work happens through an os.Root of dest with
// openat-style calls that never follow a symlink, so nothing outside dest is
// touched whatever the archive or dest contain.
//
// Entries are applied as they are read; files not in the archive are removed
// only after the whole archive (including its end marker) was read, so a
// truncated stream never prunes dest. An entry that replaces something of
// another kind (file by dir, dir by symlink, ...) removes it on the spot.
// Hostile entries are detected when they are reached: entries before them
// have been applied. Callers wanting all-or-nothing run Scan first.
// Paths matching opts.Excludes are neither written nor removed.
func Extract(ctx context.Context, r io.Reader, dest string, opts ExtractOptions) (Stats, error) {
	tr := &trailerReader{r: r}
	rd := tar.NewReader(tr)
	h, err := rd.Next()
	if err == io.EOF {
		return Stats{}, errors.New("archive: empty archive")
	}
	if err != nil {
		return Stats{}, fmt.Errorf("archive: %w", err)
	}
	for h.Typeflag == tar.TypeXGlobalHeader {
		if isDeltaHeader(h) {
			return Stats{}, ErrDelta
		}
		if h, err = rd.Next(); err != nil {
			return Stats{}, fmt.Errorf("archive: %w", err)
		}
	}
	if _, err := cleanName(h.Name); err != nil {
		return Stats{}, err // before dest is looked at
	}
	if (h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeRegA) && !strings.Contains(strings.TrimSuffix(h.Name, "/"), "/") && h.Name != "." {
		return extractFile(ctx, tr, rd, h, dest, opts)
	}
	if opts.Beneath != nil {
		return Stats{}, fmt.Errorf("archive: %s is a single file but the archive holds a directory", dest)
	}
	return extractDir(ctx, tr, rd, h, dest, opts)
}

type dirMeta struct {
	rel   string
	mode  uint32
	mtime time.Time
	atime time.Time
}

type extractor struct {
	ctx   context.Context
	dest  string
	root  *os.Root
	opts  ExtractOptions
	owner bool
	stats Stats
	v     *validator
	buf   []byte
	ex    *exclude.Rules

	// dirs are verified real directories in dest (never symlinks), mapped
	// to whether this extraction created them (fresh dirs need no pruning).
	dirs    map[string]bool
	meta    []dirMeta
	rootSet *dirMeta

	// The parent directory of the previous entry, kept open.
	parentRel string
	parent    *dirHandle

	// Writers of small regular files (directory archives on Linux and macOS).
	pool *writePool

	// defACL are the directories whose archive entry gives them a default ACL: what is
	// created in them inherits ACLs the archive may not give it (dropInherited).
	defACL map[string]bool
}

// inherits says whether what is created in directory dir may inherit an ACL.
func (x *extractor) inherits(dir string) bool { return x.defACL[dir] }

// noteDefACL records whether the directory rel, given h's xattrs, has a default ACL.
func (x *extractor) noteDefACL(rel string, h *tar.Header) {
	if _, ok := h.PAXRecords["SCHILY.xattr.system.posix_acl_default"]; ok {
		if x.defACL == nil {
			x.defACL = map[string]bool{}
		}
		x.defACL[rel] = true
	} else {
		delete(x.defACL, rel)
	}
}

// dirHandle is an open directory of the destination, shared by reference count.
type dirHandle struct {
	f    *os.File
	fdv  int
	refs atomic.Int32
}

func split(rel string) (dir, base string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return "", rel
	}
	return rel[:i], rel[i+1:]
}

func pathErr(op, p string, err error) error {
	return &os.PathError{Op: op, Path: p, Err: err}
}

func (x *extractor) copy(f io.Writer, rd *tar.Reader, rel string) error {
	for {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		n, err := rd.Read(x.buf)
		if n > 0 {
			if _, werr := f.Write(x.buf[:n]); werr != nil {
				return pathErr("write", rel, werr)
			}
			x.stats.Bytes += int64(n)
			if x.opts.Progress != nil {
				x.opts.Progress(int64(n))
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("archive: reading %q: %w", rel, err)
		}
	}
}

// fileDest is where a single-file archive goes: a temporary file beside the destination,
// renamed over it once the whole archive was read.
type fileDest interface {
	Name() string                          // the file replaced, for messages
	Create() (*os.File, error)             // the temporary file
	SetTimes(atime, mtime time.Time) error // of the temporary file, once closed
	Commit() error                         // rename the temporary file over the destination
	Close()                                // remove the temporary file unless committed
}

// pathDest is a fileDest by path (ExtractOptions.Beneath unset).
type pathDest struct {
	dest string
	tmp  string
}

// fileDestByPath follows a symlink at dest: the file it leads to is replaced, never the link
// (a symlinked config or /etc/localtime stays a symlink). A link that leads nowhere is
// refused rather than replaced.
func fileDestByPath(dest string) (fileDest, error) {
	if fi, err := os.Lstat(dest); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		real, err := filepath.EvalSymlinks(dest)
		if err != nil {
			return nil, fmt.Errorf("archive: %s is a symlink that does not lead to a file (%v): refusing to replace the link by a file", dest, err)
		}
		dest = real
	}
	if fi, err := os.Lstat(dest); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("archive: %s is a directory but the archive holds a single file", dest)
	}
	return &pathDest{dest: dest}, nil
}

func (d *pathDest) Name() string { return d.dest }

func (d *pathDest) Create() (*os.File, error) {
	f, err := os.CreateTemp(filepath.Dir(d.dest), "."+filepath.Base(d.dest)+".maim-*")
	if err == nil {
		d.tmp = f.Name()
	}
	return f, err
}

func (d *pathDest) SetTimes(atime, mtime time.Time) error { return os.Chtimes(d.tmp, atime, mtime) }

func (d *pathDest) Commit() error {
	if err := os.Rename(d.tmp, d.dest); err != nil {
		return err
	}
	d.tmp = ""
	return nil
}

func (d *pathDest) Close() {
	if d.tmp != "" {
		os.Remove(d.tmp)
		d.tmp = ""
	}
}

// extractFile handles a single-file archive: the content goes to a temporary
// file beside dest which replaces dest once the whole archive was read. With
// opts.Beneath, dest is resolved beneath that directory at this moment (see fsaccess.Beneath).
func extractFile(ctx context.Context, tr *trailerReader, rd *tar.Reader, h *tar.Header, dest string, opts ExtractOptions) (Stats, error) {
	var st Stats
	if _, err := cleanName(h.Name); err != nil {
		return st, err
	}
	var (
		d   fileDest
		err error
	)
	if opts.Beneath != nil {
		d, err = fileDestBeneath(dest, opts.Beneath)
	} else {
		d, err = fileDestByPath(dest)
	}
	if err != nil {
		return st, err
	}
	defer d.Close()
	tmp, err := d.Create()
	if err != nil {
		return st, err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
		}
	}()
	x := &extractor{ctx: ctx, opts: opts, owner: opts.chown(), buf: make([]byte, copyBufSize)}
	x.stats.Entries, x.stats.Files = 1, 1
	if err := x.copy(tmp, rd, h.Name); err != nil {
		return x.stats, err
	}
	contentEnd := tr.n
	if next, err := rd.Next(); err != io.EOF {
		if err != nil {
			return x.stats, fmt.Errorf("archive: %w", err)
		}
		return x.stats, fmt.Errorf("archive: single-file archive has a second entry %q", next.Name)
	}
	if !tr.sawTrailer(contentEnd) {
		return x.stats, errTruncated
	}
	if err := drain(tr); err != nil {
		return x.stats, fmt.Errorf("archive: %w", err)
	}
	if err := x.fileAttrs(tmp, h, d.Name()); err != nil {
		return x.stats, err
	}
	if err := tmp.Sync(); err != nil {
		return x.stats, err
	}
	ok = true
	if err := tmp.Close(); err != nil {
		return x.stats, err
	}
	atime := h.AccessTime
	if atime.IsZero() {
		atime = h.ModTime
	}
	if err := d.SetTimes(atime, h.ModTime); err != nil {
		return x.stats, err
	}
	if err := d.Commit(); err != nil {
		return x.stats, err
	}
	return x.stats, nil
}
