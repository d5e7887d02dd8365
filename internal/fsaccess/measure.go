package fsaccess

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/docker-maim/docker-maim/internal/exclude"
)

// Measure returns the content bytes archive.WriteTar would archive from root with these
// excludes, as it would count them in archive.Stats.Bytes: regular files only, a file with
// several hard links once, symlinks below root not followed, excluded paths skipped
// as WriteTar skips them (exclude.Rules: an excluded directory whole unless an exception may
// re-include something below it). It reads metadata only, so it is what a progress
// total can be known from before the copy starts. Paths that vanish during the walk
// are skipped; any other error (a directory it may not read) is returned, since a
// partial sum would be a wrong total.
func Measure(ctx context.Context, root string, excludes []string) (int64, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return 0, err
	}
	if fi.Mode().IsRegular() {
		return fi.Size(), nil
	}
	if !fi.IsDir() {
		return 0, fmt.Errorf("archive: %s is neither a directory nor a regular file", root)
	}
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	ex, err := exclude.New(excludes)
	if err != nil {
		return 0, err
	}
	m := measurer{ctx: ctx, ex: ex, links: map[devIno]bool{}}
	return m.n, m.dir(root, "")
}

// devIno identifies a file by its device and inode.
type devIno struct{ dev, ino uint64 }

type measurer struct {
	ctx   context.Context
	ex    *exclude.Rules
	links map[devIno]bool
	n     int64
}

func (m *measurer) dir(full, rel string) error {
	return walkNames(m.ctx, m.ex, full, rel, func(child, childRel string, e fs.DirEntry) error {
		switch {
		case e.IsDir():
			return m.dir(child, childRel)
		case e.Type().IsRegular():
			fi, err := e.Info()
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if key, ok := fileKey(fi); ok {
				if m.links[key] {
					return nil
				}
				m.links[key] = true
			}
			m.n += fi.Size()
		}
		return nil
	})
}

// walkNames calls visit for each entry of the directory full (rel) that ex does not
// exclude, and walks into an excluded directory an exception may re-include something
// below, as WriteTar walks it (anything else excluded is skipped whole). A directory below
// the root gone since it was listed is skipped.
func walkNames(ctx context.Context, ex *exclude.Rules, full, rel string, visit func(child, childRel string, e fs.DirEntry) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ents, err := os.ReadDir(full)
	if err != nil {
		if rel != "" && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ELOOP)) {
			return nil
		}
		return err
	}
	for _, e := range ents {
		childRel := e.Name()
		if rel != "" {
			childRel = rel + "/" + e.Name()
		}
		child := filepath.Join(full, e.Name())
		var err error
		switch {
		case !ex.Match(childRel):
			err = visit(child, childRel, e)
		case e.IsDir() && !ex.Prune(childRel):
			err = walkNames(ctx, ex, child, childRel, visit)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
