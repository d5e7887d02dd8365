package helper

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker-maim/docker-maim/internal/archive"
)

// The side directory of an upgrade --migrate-db (internal/dbside): a fresh cluster is
// initialised in a subdirectory of the database's data source while the old server still
// runs; once the backup is verified, `swap` makes the top of the source hold what that
// subdirectory holds, by renames within the one mount (no byte copied); `drop` removes it
// when the migration is abandoned.
//
//	swap --from NAME [--root-attrs] PATH   PATH's entries but NAME removed, NAME's entries renamed into PATH, NAME removed
//	drop --from NAME PATH                  NAME removed (nothing when it is not there)
//
// --root-attrs gives PATH NAME's mode and owner (NAME was the cluster's own directory:
// the entrypoint set them on it as it sets them on PATH when PATH is the data directory).
// Both report {"stats":{}} like measure.

// sideName checks that name is one entry of the directory it names, not a path.
func sideName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return fmt.Errorf("--from %q: want the name of one directory entry", name)
	}
	return nil
}

// sideDir runs swap or drop (inv.cmd) on inv.target.
func (inv *invocation) sideDir(ctx context.Context, rep *reporter) int {
	if err := sideName(inv.from); err != nil {
		return rep.fail(2, err)
	}
	var err error
	if inv.cmd == "drop" {
		err = os.RemoveAll(filepath.Join(inv.target, inv.from))
	} else {
		err = Swap(ctx, inv.target, inv.from, inv.rootAttrs)
	}
	if err != nil {
		return rep.fail(1, err)
	}
	rep.send(Msg{Stats: &archive.Stats{}, StreamSHA256: NewStreamSum().Hex()})
	return 0
}

// Swap makes directory dir hold what its subdirectory dir/name holds: every other entry of
// dir is removed, each entry of dir/name renamed into dir, then dir/name removed; with
// rootAttrs dir takes dir/name's mode and owner first. dir/name must be a directory (not
// a symbolic link). A run cut off halfway leaves dir neither old nor new: its caller
// restores dir from a backup then (the upgrade's rollback).
func Swap(ctx context.Context, dir, name string, rootAttrs bool) error {
	side := filepath.Join(dir, name)
	fi, err := os.Lstat(side)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", side)
	}
	if rootAttrs {
		uid, gid, ok := ownerOf(fi)
		if !ok {
			return errors.New("no owner for " + side)
		}
		if err := os.Lchown(dir, uid, gid); err != nil {
			return err
		}
		if err := os.Chmod(dir, fi.Mode().Perm()|fi.Mode()&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
			return err
		}
	}
	old, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range old {
		if e.Name() == name {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	fresh, err := os.ReadDir(side)
	if err != nil {
		return err
	}
	for _, e := range fresh {
		if e.Name() == name {
			return fmt.Errorf("%s holds an entry named %s itself: cannot move it up", side, name)
		}
		if err := os.Rename(filepath.Join(side, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return os.Remove(side)
}
