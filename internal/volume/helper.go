package volume

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/fsaccess"
	"github.com/docker-maim/docker-maim/internal/helper"
	"github.com/moby/moby/api/types/mount"
)

const dataDir = "/data"

// cleanupTimeout bounds the removal of a helper container after the caller's ctx is gone.
const cleanupTimeout = 30 * time.Second

// helperBackup runs `maim-helper backup` next to the data. When w is a file of a local
// backup dir (LocalSink) the engine can see, the helper writes the archive into that file
// itself, with the dir bind-mounted, and only small JSON lines come back; otherwise it
// writes the archive to its stdout and the host copies it to w through the attach stream.
func (m *EngineMover) helperBackup(ctx context.Context, t Target, w io.Writer, opts BackupOptions) (archive.Stats, error) {
	mounts, binds, p := helperMounts(t, true)
	args := []string{"backup", "--compression", string(opts.Compression), "--level", strconv.Itoa(opts.Level)}
	args = append(args, fileArgs(t)...)
	for _, ex := range opts.Excludes {
		args = append(args, "--exclude", ex)
	}
	h := helperRun{labels: m.targetLabels(t), mounts: mounts, binds: binds, progress: opts.Progress, lifeline: true}
	var since []byte
	// The helper reports one index: pass one's, or else the final one.
	out := opts.Record
	if opts.Record != nil {
		args = append(args, "--index-out")
	} else if opts.Final != nil {
		args = append(args, "--index-final")
		out = opts.Final
	}
	if opts.Since != nil {
		// Pass two: pass one's index goes in on stdin (it is small: metadata only).
		var in bytes.Buffer
		if err := helper.WriteFramed(&in, opts.Since); err != nil {
			return archive.Stats{}, err
		}
		args = append(args, "--since-stdin")
		since = in.Bytes()
	}
	h.args = append(args, p)
	// prepare gives each run (direct, then the stream when the dir is not visible) a fresh
	// stdin and index buffer.
	prepare := func() {
		if since != nil {
			h.stdin = bytes.NewReader(since)
		}
		if out != nil {
			h.index = &bytes.Buffer{}
		}
	}
	record := func(st archive.Stats) (archive.Stats, error) {
		if out != nil {
			idx, err := archive.ReadIndex(h.index)
			if err != nil {
				return st, fmt.Errorf("backup of %s: the helper's index: %w", t, err)
			}
			*out = *idx
		}
		return st, nil
	}
	why := "the archive is not a local file"
	if sink, ok := w.(LocalSink); ok {
		if file, ok := sink.LocalPath(); ok {
			if why = m.directBlocked(filepath.Dir(file)); why == "" {
				prepare()
				res, err := m.runDirect(ctx, h, file, "out", false, m.describe(PathHelper, nil)+", writing to the backup dir directly")
				var nv *errNotVisible
				if !errors.As(err, &nv) {
					if err == nil {
						afterDirectWrite(file)
						err = checkWritten(file, res.streamSHA, res.streamBytes)
					}
					if err == nil {
						err = sink.WroteLocal(res.streamSHA, res.streamBytes)
					}
					if err != nil {
						return res.stats, fmt.Errorf("backup of %s: %w", t, err)
					}
					return record(res.stats)
				}
				why = nv.short()
			}
		}
	}
	desc := m.streamDesc(why)
	m.record(desc)
	prepare()
	h.stdout = w
	start := time.Now()
	var res helperResult
	h.result = &res
	st, err := m.runWithHelperImage(ctx, h)
	if err != nil {
		return st, fmt.Errorf("backup of %s: %w", t, err)
	}
	m.addStreamed(desc, res.streamBytes, time.Since(start))
	return record(st)
}

// afterDirectWrite runs between the helper's exit and the host's check of the archive it
// wrote into the backup dir (tests change the file there).
var afterDirectWrite = func(file string) {}

// checkWritten re-reads the archive a helper wrote into the backup dir and compares it with
// the sha256 and size the helper reported, before the manifest records them: the helper's
// word alone would record whatever a container that is not ours (or a file changed under it)
// claims. It costs one sequential read of the archive on the host, mostly from the page
// cache the helper's writes just filled.
func checkWritten(file, sha string, size int64) error {
	got, n, err := archive.FileSHA256(file)
	if err != nil {
		return fmt.Errorf("re-reading the archive the helper wrote: %w", err)
	}
	if got != sha || n != size {
		return fmt.Errorf("the archive in the backup dir is not what the helper reported: %d bytes (sha256 %.12s), the helper wrote %d bytes (sha256 %.12s)", n, got, size, sha)
	}
	return nil
}

// helperRestore runs `maim-helper restore`, which extracts the archive onto the target: read
// by the helper itself from the backup dir, bind-mounted, when r is an unread file of this
// host the engine can see; otherwise streamed from r into its stdin.
func (m *EngineMover) helperRestore(ctx context.Context, t Target, r io.Reader, opts RestoreOptions) (archive.Stats, error) {
	mounts, binds, p := helperMounts(t, false)
	args := []string{"restore", "--compression", string(opts.Compression)}
	args = append(args, fileArgs(t)...)
	if opts.Delta {
		args = append(args, "--delta")
	}
	for _, ex := range opts.Excludes {
		args = append(args, "--exclude", ex)
	}
	args = append(args, p)
	h := helperRun{labels: m.targetLabels(t), args: args, mounts: mounts, binds: binds, progress: opts.Progress, ready: opts.Ready}
	why := "the archive is not a local file"
	if file, size, ok := localSource(r); ok {
		if why = m.directBlocked(filepath.Dir(file)); why == "" {
			hd := h
			hd.lifeline = true // the archive is not on stdin: nothing else ends the helper's run with its caller
			res, err := m.runDirect(ctx, hd, file, "in", true, m.describe(PathHelper, nil)+", reading from the backup dir directly")
			var nv *errNotVisible
			if !errors.As(err, &nv) {
				if err == nil && res.streamBytes != size {
					err = fmt.Errorf("the helper read %d bytes of the %d-byte archive %s", res.streamBytes, size, file)
				}
				if err != nil {
					return res.stats, fmt.Errorf("restore of %s: %w", t, err)
				}
				return res.stats, nil
			}
			why = nv.short()
		}
	}
	desc := m.streamDesc(why)
	m.record(desc)
	h.stdin = r
	h.lifeline, h.framed = true, true // stdin stays open after the archive
	start := time.Now()
	var res helperResult
	h.result = &res
	st, err := m.runWithHelperImage(ctx, h)
	if err != nil {
		return st, fmt.Errorf("restore of %s: %w", t, err)
	}
	m.addStreamed(desc, res.streamBytes, time.Since(start))
	return st, nil
}

// runWithHelperImage runs h on the helper image. When the image vanished since it was
// looked up (someone ran `docker image prune -a` or removed it), it is imported again
// and the run retried once: the container is created before any byte of h's streams
// is touched, so the retry is safe.
func (m *EngineMover) runWithHelperImage(ctx context.Context, h helperRun) (archive.Stats, error) {
	for attempt := 0; ; attempt++ {
		img, err := m.helperImage(ctx)
		if err != nil {
			return archive.Stats{}, err
		}
		h.image = img
		st, err := runHelper(ctx, m.cli, h)
		if err != nil && attempt == 0 && strings.Contains(err.Error(), "No such image") {
			m.mu.Lock()
			m.helperKnown = false
			m.mu.Unlock()
			continue
		}
		return st, err
	}
}

// helperMounts says how t is mounted into a helper and the path the helper works on.
//
// Backups mount read-only with the Mounts API, which fails on a missing bind source instead
// of creating it. Restores of a bind use the Binds syntax, which creates a missing host
// directory (Extract then sets its mode and owner). A single file is reached through its
// Root (the project dir; its parent dir without one), mounted at /data, never by itself:
// the engine would follow a symlink swapped in for the file or a dir above it when it mounts
// it. The helper resolves the file beneath /data as it opens it ([fileArgs]).
func helperMounts(t Target, readOnly bool) ([]mount.Mount, []string, string) {
	switch {
	case t.Kind == KindVolume:
		return []mount.Mount{{Type: mount.TypeVolume, Source: t.VolumeName, Target: dataDir, ReadOnly: readOnly,
			VolumeOptions: &mount.VolumeOptions{NoCopy: true}}}, nil, dataDir
	case t.IsFile:
		root, rel := t.fileRoot()
		p := path.Join(dataDir, rel)
		if readOnly {
			return []mount.Mount{{Type: mount.TypeBind, Source: root, Target: dataDir, ReadOnly: true}}, nil, p
		}
		m, b := writableBind(root)
		return m, b, p
	default:
		if readOnly {
			return []mount.Mount{{Type: mount.TypeBind, Source: t.HostPath, Target: dataDir, ReadOnly: true}}, nil, dataDir
		}
		m, b := writableBind(t.HostPath)
		return m, b, dataDir
	}
}

// fileRoot is the directory a single-file target is confined to (Root, else HostPath's
// parent) and HostPath relative to it, both slash paths (engine host paths).
func (t Target) fileRoot() (root, rel string) {
	p := path.Clean(t.HostPath)
	root = path.Dir(p)
	if t.Root != "" {
		root = path.Clean(t.Root)
	}
	if r, ok := strings.CutPrefix(p, strings.TrimSuffix(root, "/")+"/"); ok && root != p {
		return root, r
	}
	return path.Dir(p), path.Base(p) // not beneath Root: confined to its own dir
}

// fileArgs are the helper's flags that confine a single-file target to its root mounted at
// /data: absolute symlinks name it by its host path.
func fileArgs(t Target) []string {
	if !t.IsFile {
		return nil
	}
	root, _ := t.fileRoot()
	return []string{"--beneath", dataDir, "--alias", root}
}

// hostBeneath is t's confinement on this host (the host fast path): its root, also by its
// path with links resolved.
func (t Target) hostBeneath() *fsaccess.Beneath {
	root, _ := t.fileRoot()
	b := &fsaccess.Beneath{Dir: root}
	if real, err := filepath.EvalSymlinks(root); err == nil && real != root {
		b.Aliases = []string{real}
	}
	return b
}

// writableBind mounts a host directory at /data, creating it on the host when missing (Binds
// syntax). That syntax cannot carry ':' or ','; such paths use the Mounts API, which needs the
// directory to exist.
func writableBind(hostPath string) ([]mount.Mount, []string) {
	if strings.ContainsAny(hostPath, ":,") {
		return []mount.Mount{{Type: mount.TypeBind, Source: hostPath, Target: dataDir}}, nil
	}
	return nil, []string{hostPath + ":" + dataDir}
}
