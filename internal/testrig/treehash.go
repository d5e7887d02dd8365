package testrig

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TreeHash hashes the tree at dir: every entry's relative path, type and permission bits
// (incl. setuid/setgid/sticky), regular file contents and symlink targets, in lexical order.
// Owners and times are not included (use your own check when they matter). excludes are
// filepath.Match patterns tested against each relative path and base name; a matching
// directory is skipped whole. The root's own mode counts. dir may also be a single file.
func TreeHash(t testing.TB, dir string, excludes ...string) string {
	t.Helper()
	h, err := treeHash(dir, excludes)
	if err != nil {
		t.Fatalf("testrig: TreeHash %s: %v", dir, err)
	}
	return h
}

func excluded(rel string, excludes []string) bool {
	for _, pat := range excludes {
		if ok, _ := filepath.Match(pat, rel); ok {
			return true
		}
		if ok, _ := filepath.Match(pat, filepath.Base(rel)); ok {
			return true
		}
	}
	return false
}

func treeHash(dir string, excludes []string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != "." && excluded(rel, excludes) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		mode := info.Mode()
		fmt.Fprintf(h, "%q %s %o", rel, mode.Type(), mode.Perm()|mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
		switch {
		case mode.Type() == fs.ModeSymlink:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, " -> %q", target)
		case mode.IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			fh := sha256.New()
			n, err := io.Copy(fh, f)
			f.Close()
			if err != nil {
				return err
			}
			fmt.Fprintf(h, " %d %x", n, fh.Sum(nil))
		}
		h.Write([]byte{'\n'})
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}
