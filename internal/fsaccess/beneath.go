package fsaccess

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Beneath confines a single-file path (a bind-mounted file, a project's compose or env
// file) to a directory at the moment it is opened: archive.WriteOptions.Beneath for the
// read of a regular-file root, archive.ExtractOptions.Beneath for the write of a
// single-file archive.
//
// The path is resolved one component at a time from an open descriptor of Dir, each
// component opened with O_NOFOLLOW relative to the one before, and the file itself opened
// (read) or renamed into place (write) relative to its resolved parent's descriptor: a
// symlink swapped in anywhere along the path while this runs is seen, never followed by
// the kernel. A symlink met on the way is followed only when it stays beneath Dir: a
// relative one (no ".." above Dir), or an absolute one naming Dir or one of Aliases
// (resolved from Dir again); any other link is refused with an *EscapeError and nothing is
// read or written. This is what openat2(2) with RESOLVE_BENEATH does, with absolute links
// into the directory allowed (RESOLVE_BENEATH refuses every absolute link, and a project
// links its own files by absolute path too).
//
// Dir itself is trusted as named (links above it are followed): it is the project dir,
// which no service can replace (a bind mount point cannot be renamed). What the path
// leads to is only ever a regular file: a FIFO, a device or a directory there is refused.
type Beneath struct {
	// Dir is the directory, as this process sees it, the path must stay beneath.
	Dir string
	// Aliases are other absolute names of Dir that symlinks beneath it may use: its host
	// path when Dir is where it is mounted in a container, its path with links resolved.
	Aliases []string
}

// EscapeError refuses a single-file path that leads outside its Beneath directory at the
// moment it is read or written: nothing was read or written.
type EscapeError struct {
	Path   string // the path asked for
	Link   string // the symlink met on the way ("" when Path itself lies outside)
	Target string // what the link holds
	Dir    string // the directory it must stay beneath
}

func (e *EscapeError) Error() string {
	if e.Link == "" {
		return fmt.Sprintf("archive: %s is not beneath %s: refusing to read or write it", e.Path, e.Dir)
	}
	return fmt.Sprintf("archive: %s leads outside %s (symlink %s -> %s): refusing to read or write through it", e.Path, e.Dir, e.Link, e.Target)
}

// relTo returns p relative to dir when p is dir or lies beneath it (both absolute, any
// separator style of this system), as slash-free components.
func relTo(p, dir string) ([]string, bool) {
	p, dir = filepath.Clean(p), filepath.Clean(dir)
	if p == dir {
		return nil, true
	}
	prefix := dir
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	if !strings.HasPrefix(p, prefix) {
		return nil, false
	}
	return splitPath(p[len(prefix):]), true
}

// splitPath splits a relative or absolute path into its non-empty components.
func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(filepath.ToSlash(p), "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

// rel returns path's components relative to b.Dir or one of its aliases.
func (b *Beneath) rel(path string) ([]string, bool) {
	if !filepath.IsAbs(path) {
		return splitPath(path), true
	}
	for _, d := range append([]string{b.Dir}, b.Aliases...) {
		if d == "" {
			continue
		}
		if r, ok := relTo(path, d); ok {
			return r, true
		}
	}
	return nil, false
}
