package volume

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/helper"
	"github.com/moby/moby/client"
)

// EnvNoHostPath disables the host fast path when set to "1" (or any value other than ""
// and "0"): Backup and Restore then go through the helper container or the archive API
// exactly as without it. e2e tests and scripts/bench.sh use it to compare the paths.
const EnvNoHostPath = "MAIM_NO_HOST_PATH"

// hostUsable says whether this process can reach the engine's data directly: the engine is
// local (a unix socket served by a process in this process's mount namespace, so host paths
// mean the same files for both), this is linux on the engine's OS/arch, and this process
// runs as root (it must read every file on backup and restore owners on restore). The
// answer is cached; a per-target check ([EngineMover.hostDataPath]) follows on each call.
func (m *EngineMover) hostUsable(ctx context.Context) error {
	m.mu.Lock()
	if m.hostKnown {
		err := m.hostErr
		m.mu.Unlock()
		return err
	}
	m.mu.Unlock()
	err := m.checkHost(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	m.mu.Lock()
	m.hostKnown, m.hostErr = true, err
	m.mu.Unlock()
	return err
}

func (m *EngineMover) checkHost(ctx context.Context) error {
	if v := os.Getenv(EnvNoHostPath); v != "" && v != "0" {
		return fmt.Errorf("host path disabled by %s=%s", EnvNoHostPath, v)
	}
	if runtime.GOOS != "linux" {
		return fmt.Errorf("host path needs linux, this is %s", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return errors.New("host path needs root")
	}
	host := m.cli.DaemonHost()
	sock, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		return fmt.Errorf("engine %s is not a local unix socket", host)
	}
	v, err := m.cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return fmt.Errorf("engine version: %w", err)
	}
	if v.Os != runtime.GOOS || v.Arch != runtime.GOARCH {
		return fmt.Errorf("engine runs %s/%s, this is %s/%s", v.Os, v.Arch, runtime.GOOS, runtime.GOARCH)
	}
	return sameMountNamespace(sock)
}

// hostDataPath returns the path on this host that holds t's data when this process can use
// it directly for a backup (write false) or a restore (write true), and an error saying why
// not otherwise (the caller then falls back to the helper or the archive API).
func (m *EngineMover) hostDataPath(ctx context.Context, t Target, write bool) (string, error) {
	if t.Kind == KindVolume {
		res, err := m.cli.VolumeInspect(ctx, t.VolumeName, client.VolumeInspectOptions{})
		if err != nil {
			return "", fmt.Errorf("inspecting volume %s: %w", t.VolumeName, err)
		}
		v := res.Volume
		if v.Driver != "local" || len(v.Options) != 0 {
			return "", fmt.Errorf("volume %s: driver %q with %d options is not a plain local volume", t.VolumeName, v.Driver, len(v.Options))
		}
		if v.Mountpoint == "" || !filepath.IsAbs(v.Mountpoint) {
			return "", fmt.Errorf("volume %s: mountpoint %q is not an absolute path", t.VolumeName, v.Mountpoint)
		}
		return v.Mountpoint, checkHostDir(v.Mountpoint, write)
	}
	p := filepath.Clean(t.HostPath)
	if !write {
		// WriteTar follows a symlinked root like the bind mount of the helper does.
		fi, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		if fi.IsDir() == t.IsFile {
			return "", fmt.Errorf("%s: kind does not match the target", p)
		}
		return p, checkAccess(p, fi.IsDir(), false)
	}
	if t.IsFile {
		// The file is replaced inside its parent directory. A symlink to a file is followed
		// while it stays beneath t's root (Extract replaces the file it leads to, never the
		// link), decided again as the file is written.
		if fi, err := os.Stat(p); err == nil && !fi.Mode().IsRegular() {
			return "", fmt.Errorf("%s is not a regular file", p)
		}
		parent := filepath.Dir(p)
		fi, err := os.Stat(parent)
		if err != nil {
			return "", err
		}
		if !fi.IsDir() {
			return "", fmt.Errorf("%s is not a directory", parent)
		}
		return p, checkAccess(parent, true, true)
	}
	// A missing bind dir is created by the helper (Binds syntax), with the engine's semantics.
	return p, checkHostDir(p, true)
}

// checkHostDir requires p to be a real directory (not a symlink) usable for the operation.
func checkHostDir(p string, write bool) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", p)
	}
	return checkAccess(p, true, write)
}

// hostBackup writes the compressed archive of the host path p to w, as the helper would. A
// single file is opened beneath t's root at this moment (Target.Root).
func hostBackup(ctx context.Context, t Target, p string, w io.Writer, opts BackupOptions) (archive.Stats, error) {
	progress := opts.Progress
	if progress == nil {
		progress = func(int64) {}
	}
	pass := helper.Pass{Record: opts.Record, Since: opts.Since, Final: opts.Final}
	if t.IsFile {
		pass.Beneath = t.hostBeneath()
	}
	st, err := helper.BackupPass(ctx, p, w, opts.Compression, opts.Level, opts.Excludes, progress, pass)
	if err != nil {
		return st, fmt.Errorf("backup of %s: %w", t, err)
	}
	return st, nil
}

// hostRestore makes the host path p exactly equal to the compressed archive read from r,
// with the helper's semantics (owners restored, single files replaced atomically, beneath t's
// root as decided at this moment).
func hostRestore(ctx context.Context, t Target, p string, r io.Reader, opts RestoreOptions) (archive.Stats, error) {
	progress := opts.Progress
	if progress == nil {
		progress = func(int64) {}
	}
	restore := helper.Restore
	if opts.Delta {
		restore = helper.RestoreDelta
	} else if t.IsFile {
		b := t.hostBeneath()
		restore = func(ctx context.Context, dest string, r io.Reader, c archive.Compression, _ []string, progress func(int64)) (archive.Stats, error) {
			return helper.RestoreBeneath(ctx, dest, b, r, c, progress)
		}
	}
	st, err := restore(ctx, p, r, opts.Compression, opts.Excludes, progress)
	if err != nil {
		return st, fmt.Errorf("restore of %s: %w", t, err)
	}
	return st, nil
}
