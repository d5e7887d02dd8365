package volume

import (
	"context"
	"fmt"
	"strings"
)

// SideDir moves a side directory of directory target t (one entry at its top, see
// helper.Swap) in a helper container that mounts t writable, the helper image's own (on
// any engine docker-maim runs a helper on; a volume is never created by it): with swap, t
// then holds exactly what the side directory held (renames within the one mount: no byte
// copied; rootAttrs gives t's top the side directory's mode and owner), else the side
// directory is removed (nothing when it is not there). upgrade --migrate-db's new cluster
// is written there (internal/dbside).
func (m *EngineMover) SideDir(ctx context.Context, t Target, name string, swap, rootAttrs bool) error {
	if err := t.validate(); err != nil {
		return err
	}
	if t.IsFile || name == "" || strings.ContainsRune(name, '/') {
		return fmt.Errorf("side directory %q of %s: want a directory target and one entry of it", name, t)
	}
	if err := m.checkSource(ctx, t); err != nil {
		return err
	}
	args := []string{"drop", "--from", name}
	what := "removing"
	if swap {
		args[0], what = "swap", "moving into place"
		if rootAttrs {
			args = append(args, "--root-attrs")
		}
	}
	mounts, binds, dir := helperMounts(t, false)
	if _, err := m.runWithHelperImage(ctx, helperRun{labels: m.targetLabels(t), args: append(args, dir), mounts: mounts, binds: binds}); err != nil {
		return fmt.Errorf("%s %s in %s: %w", what, name, t, err)
	}
	return nil
}

// FreeBytes is the free space of the file system holding directory target t, read on
// this host when the host path is usable (hostDataPath); -1 when it cannot be told (a
// remote engine, a volume driver, no access): the engine reports no volume's free space.
// upgrade --migrate-db checks that its new cluster fits beside the old one.
func (m *EngineMover) FreeBytes(ctx context.Context, t Target) int64 {
	if t.validate() != nil || t.IsFile || m.hostUsable(ctx) != nil {
		return -1
	}
	p, err := m.hostDataPath(ctx, t, false)
	if err != nil {
		return -1
	}
	n, err := statfsFree(p)
	if err != nil {
		return -1
	}
	return n
}
