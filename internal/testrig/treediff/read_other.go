//go:build !linux && !darwin

package treediff

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
)

// Read describes root and everything below it (root may be a single file): type, mode,
// size, content hash, link target and mtime; owners, hard links, device numbers and
// extended attributes are not read on this system.
func Read(root string) (Tree, error) {
	out := Tree{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		m := fi.Mode()
		n := Node{Mode: uint32(m.Perm()), Mtime: fi.ModTime().UnixNano()}
		switch {
		case m.IsDir():
			n.Type = "dir"
		case m.IsRegular():
			n.Type = "file"
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(b)
			n.Size, n.SHA = int64(len(b)), hex.EncodeToString(s[:8])
		case m&fs.ModeSymlink != 0:
			n.Type, n.Mode = "symlink", 0
			if n.Link, err = os.Readlink(p); err != nil {
				return err
			}
		default:
			n.Type = "other(" + m.Type().String() + ")"
		}
		out[filepath.ToSlash(rel)] = n
		return nil
	})
	return out, err
}
