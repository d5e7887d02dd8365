package volume

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// The archive-API path: containers are created from the 0-byte image and never started; data
// moves through the engine's /containers/{id}/archive endpoint (`docker cp`).

// idleContainer creates a never-started container with the given mounts and returns its ID and
// a function that removes it (forced, with a fresh context).
func (m *EngineMover) idleContainer(ctx context.Context, mounts []mount.Mount, binds []string) (string, func() error, error) {
	img, err := m.emptyImage(ctx)
	if err != nil {
		return "", nil, err
	}
	created, err := m.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image:           img,
			Labels:          m.containerLabels(),
			NetworkDisabled: true,
		},
		HostConfig: &container.HostConfig{NetworkMode: "none", Mounts: mounts, Binds: binds,
			LogConfig: container.LogConfig{Type: "none"}},
	})
	if err != nil {
		return "", nil, fmt.Errorf("creating helper container: %w", err)
	}
	return created.ID, func() error { return removeContainer(m.cli, created.ID) }, nil
}

func (m *EngineMover) archiveBackup(ctx context.Context, t Target, w io.Writer, opts BackupOptions) (st archive.Stats, retErr error) {
	mounts, binds, p := helperMounts(t, true)
	id, remove, err := m.idleContainer(ctx, mounts, binds)
	if err != nil {
		return st, fmt.Errorf("backup of %s: %w", t, err)
	}
	defer func() {
		if err := remove(); err != nil && retErr == nil {
			retErr = err
		}
	}()
	src := p
	if !t.IsFile {
		src = p + "/."
	}
	res, err := m.cli.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: src})
	if err != nil {
		return st, fmt.Errorf("backup of %s: reading through the engine: %w", t, err)
	}
	defer res.Content.Close()
	stop := context.AfterFunc(ctx, func() { res.Content.Close() })
	defer stop()

	cw, err := archive.Compress(w, opts.Compression, opts.Level)
	if err != nil {
		return st, err
	}
	st, err = reencode(ctx, tar.NewReader(res.Content), tar.NewWriter(cw), t.IsFile, opts.Excludes, opts.Progress)
	if cerr := cw.Close(); err == nil {
		err = cerr
	}
	if ctx.Err() != nil {
		return st, ctx.Err()
	}
	if err != nil {
		return st, fmt.Errorf("backup of %s: %w", t, err)
	}
	return st, nil
}

// reencode rewrites the engine's tar of a directory ("./" or "data/" rooted) or a single file
// into the archive layout: "./" then "./a", ... for a directory, the file's base name for a
// file. Uname/Gname and access/change times are dropped; numeric owners, modes, mtimes,
// symlinks, hardlinks and xattrs are kept as the engine reported them.
func reencode(ctx context.Context, tr *tar.Reader, tw *tar.Writer, isFile bool, excludes []string, progress func(int64)) (archive.Stats, error) {
	var st archive.Stats
	root := ""
	var skipped []string // excluded directories: their subtrees are skipped too
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, fmt.Errorf("reading engine archive: %w", err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		if root == "" {
			root = name
			if root == "" {
				root = "."
			}
			if isFile {
				if h.Typeflag != tar.TypeReg {
					return st, fmt.Errorf("%s is not a regular file", root)
				}
			} else if h.Typeflag != tar.TypeDir {
				return st, fmt.Errorf("%s is not a directory", root)
			}
		}
		var rel string // "" for the root
		switch {
		case name == root:
		case root == ".":
			rel = strings.TrimPrefix(name, "./")
		case strings.HasPrefix(name, root+"/"):
			rel = name[len(root)+1:]
		default:
			return st, fmt.Errorf("engine archive entry %q outside %q", h.Name, root)
		}
		if rel != "" && (excludedRel(rel, excludes) || underAny(rel, skipped)) {
			if h.Typeflag == tar.TypeDir {
				skipped = append(skipped, rel)
			}
			continue
		}
		nh := &tar.Header{
			Typeflag:   h.Typeflag,
			Linkname:   h.Linkname,
			Size:       h.Size,
			Mode:       h.Mode,
			Uid:        h.Uid,
			Gid:        h.Gid,
			ModTime:    h.ModTime,
			Devmajor:   h.Devmajor,
			Devminor:   h.Devminor,
			PAXRecords: xattrRecords(h.PAXRecords),
			Format:     tar.FormatPAX,
		}
		switch {
		case isFile:
			nh.Name = path.Base(root)
		case rel == "":
			nh.Name = "./"
		case h.Typeflag == tar.TypeDir:
			nh.Name = "./" + rel + "/"
		default:
			nh.Name = "./" + rel
		}
		if h.Typeflag == tar.TypeLink {
			target := strings.TrimSuffix(h.Linkname, "/")
			switch {
			case root == ".":
				target = strings.TrimPrefix(target, "./")
			case strings.HasPrefix(target, root+"/"):
				target = target[len(root)+1:]
			default:
				return st, fmt.Errorf("engine archive hardlink %q -> %q outside %q", h.Name, h.Linkname, root)
			}
			nh.Linkname = "./" + target
		}
		if err := tw.WriteHeader(nh); err != nil {
			return st, err
		}
		st.Entries++
		if h.Typeflag == tar.TypeReg {
			st.Files++
			n, err := io.Copy(tw, progressReader{tr, progress})
			st.Bytes += n
			if err != nil {
				return st, err
			}
		}
	}
	if root == "" {
		return st, errors.New("engine returned an empty archive")
	}
	return st, tw.Close()
}

// xattrRecords keeps only the xattr PAX records; the rest is derived from the header fields.
func xattrRecords(in map[string]string) map[string]string {
	var out map[string]string
	for k, v := range in {
		if strings.HasPrefix(k, "SCHILY.xattr.") {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// excludedRel applies the exclude patterns exactly as archive.WriteOptions documents them
// (archive.Excluder): the archive API yields a whole tree, so an excluded directory's
// contents are skipped by the caller (underAny).
func excludedRel(rel string, patterns []string) bool {
	return archive.NewExcluder(patterns).Match(rel)
}

func underAny(rel string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(rel, d+"/") {
			return true
		}
	}
	return false
}

type progressReader struct {
	r  io.Reader
	fn func(int64)
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 && p.fn != nil {
		p.fn(int64(n))
	}
	return n, err
}

func (m *EngineMover) archiveRestore(ctx context.Context, t Target, r io.Reader, opts RestoreOptions) (archive.Stats, error) {
	var (
		st  archive.Stats
		err error
	)
	switch {
	case t.Kind == KindVolume:
		st, err = m.archiveRestoreVolume(ctx, t, r, opts)
	case t.IsFile:
		st, err = m.archiveRestoreFile(ctx, t, r, opts)
	default:
		st, err = m.archiveRestoreBindDir(ctx, t, r, opts)
	}
	if ctx.Err() != nil {
		return st, ctx.Err()
	}
	if err != nil {
		return st, fmt.Errorf("restore of %s: %w", t, err)
	}
	return st, nil
}

// copyIn streams the decompressed, validated archive into the container's /data. A directory
// archive is sent to "/" with its entries renamed "./x" -> "data/x": only an entry for the
// directory itself makes the engine apply the root's mode, owner and mtime to the mount point.
// A single-file archive (file != "") is sent to /data with its entry named file.
func (m *EngineMover) copyIn(ctx context.Context, id string, r io.Reader, opts RestoreOptions, file string) (archive.Stats, error) {
	dest, prefix := "/", strings.TrimPrefix(dataDir, "/")
	if file != "" {
		dest, prefix = dataDir, ""
	}
	dr, err := archive.Decompress(r, opts.Compression)
	if err != nil {
		return archive.Stats{}, err
	}
	defer dr.Close()
	pr, pw := io.Pipe()
	type result struct {
		st  archive.Stats
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := validateTar(ctx, tar.NewReader(dr), tar.NewWriter(pw), file, prefix, archive.NewExcluder(opts.Excludes), opts.Progress)
		pw.CloseWithError(err)
		done <- result{st, err}
	}()
	_, cerr := m.cli.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: dest, Content: pr})
	pr.CloseWithError(errors.New("copy to container ended"))
	res := <-done
	if res.err != nil {
		return res.st, res.err
	}
	if cerr != nil {
		return res.st, fmt.Errorf("writing through the engine: %w", cerr)
	}
	return res.st, nil
}

// validateTar copies an archive, refusing entries the engine would place outside the
// destination (absolute, "..") and device nodes, and counting Stats. rename, when set, is the
// name given to the single entry of a single-file archive; otherwise entry names (and
// hardlink targets) are moved below prefix, and entries ex matches are counted but not sent
// (the target's own copy is kept, as archive.Extract does).
func validateTar(ctx context.Context, tr *tar.Reader, tw *tar.Writer, rename, prefix string, ex *archive.Excluder, progress func(int64)) (archive.Stats, error) {
	var st archive.Stats
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, fmt.Errorf("reading archive: %w", err)
		}
		if err := checkEntry(h); err != nil {
			return st, err
		}
		if rel := strings.Trim(path.Clean("/"+h.Name), "/"); rename == "" && ex.MatchTree(rel) {
			st.Entries++
			if h.Typeflag == tar.TypeReg {
				st.Files++
				n, err := io.Copy(io.Discard, progressReader{tr, progress})
				st.Bytes += n
				if err != nil {
					return st, err
				}
			}
			continue
		}
		if rename != "" {
			if st.Entries > 0 || h.Typeflag != tar.TypeReg {
				return st, errors.New("single-file archive holds more than one regular file")
			}
			h.Name = rename
		} else if prefix != "" {
			h.Name = underPrefix(prefix, h.Name)
			if h.Typeflag == tar.TypeLink {
				h.Linkname = underPrefix(prefix, h.Linkname)
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return st, err
		}
		st.Entries++
		if h.Typeflag == tar.TypeReg {
			st.Files++
			n, err := io.Copy(tw, progressReader{tr, progress})
			st.Bytes += n
			if err != nil {
				return st, err
			}
		}
	}
	if st.Entries == 0 {
		return st, errors.New("archive is empty")
	}
	return st, tw.Close()
}

// underPrefix maps "./a/b", "a/b" and "./" below prefix: "prefix/a/b", "prefix/".
func underPrefix(prefix, name string) string {
	dir := strings.HasSuffix(name, "/")
	rel := strings.Trim(path.Clean("/"+name), "/")
	if rel == "" {
		return prefix + "/"
	}
	if dir {
		return prefix + "/" + rel + "/"
	}
	return prefix + "/" + rel
}

func checkEntry(h *tar.Header) error {
	unsafe := func(reason string) error { return &archive.UnsafeEntryError{Name: h.Name, Reason: reason} }
	for _, n := range []string{h.Name, h.Linkname} {
		if n == "" {
			continue
		}
		if n == h.Linkname && h.Typeflag == tar.TypeSymlink {
			continue // symlink targets are data; the engine does not follow them while extracting
		}
		if strings.HasPrefix(n, "/") {
			return unsafe("absolute path")
		}
		for _, part := range strings.Split(n, "/") {
			if part == ".." {
				return unsafe("\"..\" component")
			}
		}
	}
	switch h.Typeflag {
	case tar.TypeChar, tar.TypeBlock:
		return unsafe("device node")
	}
	return nil
}

// archiveRestoreFile replaces a bind-mounted single file: its directory is mounted and the
// engine's extraction replaces the file.
func (m *EngineMover) archiveRestoreFile(ctx context.Context, t Target, r io.Reader, opts RestoreOptions) (st archive.Stats, retErr error) {
	mounts, binds, p := helperMounts(t, false)
	id, remove, err := m.idleContainer(ctx, mounts, binds)
	if err != nil {
		return st, err
	}
	defer func() {
		if err := remove(); err != nil && retErr == nil {
			retErr = err
		}
	}()
	return m.copyIn(ctx, id, r, opts, path.Base(p))
}

// archiveRestoreBindDir can only fill an empty (or missing) directory: the archive API
// cannot delete what is there.
func (m *EngineMover) archiveRestoreBindDir(ctx context.Context, t Target, r io.Reader, opts RestoreOptions) (st archive.Stats, retErr error) {
	mounts, binds, p := helperMounts(t, false)
	id, remove, err := m.idleContainer(ctx, mounts, binds)
	if err != nil {
		return st, err
	}
	defer func() {
		if err := remove(); err != nil && retErr == nil {
			retErr = err
		}
	}()
	empty, err := m.isEmptyDir(ctx, id, p, archive.NewExcluder(opts.Excludes))
	if err != nil {
		return st, err
	}
	if !empty {
		return st, errors.New("the directory is not empty (it holds files the backup did not leave out) and the engine's archive API cannot delete files; " +
			"an exact restore of a bind mount needs the helper container (a static linux docker-maim for the engine's architecture)")
	}
	return m.copyIn(ctx, id, r, opts, "")
}

// isEmptyDir tells whether the directory p in container id holds nothing but directories
// and paths ex keeps.
func (m *EngineMover) isEmptyDir(ctx context.Context, id, p string, ex *archive.Excluder) (bool, error) {
	res, err := m.cli.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: p + "/."})
	if err != nil {
		return false, fmt.Errorf("reading through the engine: %w", err)
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	root := ""
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return true, nil
		} else if err != nil {
			return false, err
		}
		name := strings.TrimSuffix(h.Name, "/")
		if root == "" {
			root = name
			continue
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(name, root+"/"), "./")
		if h.Typeflag != tar.TypeDir && !ex.MatchTree(rel) {
			return false, nil
		}
	}
}

// archiveRestoreVolume: the archive goes into a fresh staging volume first (a bad archive
// leaves the target untouched); then the target is removed, recreated with its driver,
// options and labels, and filled from the staging volume. If that last step fails the
// staging volume is kept and named in the error.
func (m *EngineMover) archiveRestoreVolume(ctx context.Context, t Target, r io.Reader, opts RestoreOptions) (st archive.Stats, retErr error) {
	staging := "maim-staging-" + randHex(8)
	if _, err := m.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: staging,
		Labels: map[string]string{LabelHelper: LabelValueStaging, LabelHelper + ".for": t.VolumeName}}); err != nil {
		return st, fmt.Errorf("creating staging volume: %w", err)
	}
	keepStaging := false
	defer func() {
		if keepStaging {
			return
		}
		cctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if _, err := m.cli.VolumeRemove(cctx, staging, client.VolumeRemoveOptions{Force: true}); err != nil && retErr == nil {
			retErr = fmt.Errorf("removing staging volume %s: %w", staging, err)
		}
	}()

	st, err := m.withIdle(ctx, []mount.Mount{{Type: mount.TypeVolume, Source: staging, Target: dataDir,
		VolumeOptions: &mount.VolumeOptions{NoCopy: true}}}, func(id string) (archive.Stats, error) {
		return m.copyIn(ctx, id, r, opts, "")
	})
	if err != nil {
		return st, err
	}

	exists, err := volumeExists(ctx, m.cli, t.VolumeName)
	if err != nil {
		return st, err
	}
	if ex := archive.NewExcluder(opts.Excludes); ex != nil && exists {
		// The volume is about to be recreated: what the backup left out goes along.
		if err := m.copyVolume(ctx, t.VolumeName, staging, ex.MatchTree); err != nil {
			return st, fmt.Errorf("keeping the excluded paths of volume %s: %w", t.VolumeName, err)
		}
	}
	create := client.VolumeCreateOptions{Name: t.VolumeName}
	if exists {
		vi, err := m.cli.VolumeInspect(ctx, t.VolumeName, client.VolumeInspectOptions{})
		if err != nil {
			return st, err
		}
		create.Driver, create.DriverOpts, create.Labels = vi.Volume.Driver, vi.Volume.Options, vi.Volume.Labels
		if _, err := m.cli.VolumeRemove(ctx, t.VolumeName, client.VolumeRemoveOptions{}); err != nil {
			return st, fmt.Errorf("the archive API cannot delete files, so the volume is recreated, but removing it failed (is a container using it?): %w", err)
		}
	}
	// From here on the staging volume holds the only complete copy until the fill succeeds.
	keepStaging = true
	if _, err := m.cli.VolumeCreate(ctx, create); err != nil {
		return st, fmt.Errorf("recreating volume (data kept in volume %s): %w", staging, err)
	}
	err = m.copyVolume(ctx, staging, t.VolumeName, nil)
	if err != nil {
		return st, fmt.Errorf("filling the recreated volume (data kept in volume %s): %w", staging, err)
	}
	keepStaging = false
	return st, nil
}

// copyVolume copies volume src into volume dst through the archive API; keep, when set,
// selects the paths (relative, slash separated) to copy, and the root entry is left out.
// Without keep the whole tree goes, root included: "/data" (not "/data/.") yields a "data/"
// entry for the root itself; written to "/", it carries the root's mode, owner and mtime onto
// the target's mount point. Two containers: the engine holds a container's lock while
// streaming its archive out, so reading and writing through one container would deadlock.
func (m *EngineMover) copyVolume(ctx context.Context, src, dst string, keep func(rel string) bool) error {
	_, err := m.withIdle(ctx, []mount.Mount{{Type: mount.TypeVolume, Source: src, Target: dataDir, ReadOnly: true,
		VolumeOptions: &mount.VolumeOptions{NoCopy: true}}}, func(srcID string) (archive.Stats, error) {
		return m.withIdle(ctx, []mount.Mount{{Type: mount.TypeVolume, Source: dst, Target: dataDir,
			VolumeOptions: &mount.VolumeOptions{NoCopy: true}}}, func(dstID string) (archive.Stats, error) {
			res, err := m.cli.CopyFromContainer(ctx, srcID, client.CopyFromContainerOptions{SourcePath: dataDir})
			if err != nil {
				return archive.Stats{}, err
			}
			defer res.Content.Close()
			stop := context.AfterFunc(ctx, func() { res.Content.Close() })
			defer stop()
			var content io.Reader = res.Content
			if keep != nil {
				pr, pw := io.Pipe()
				go func() { pw.CloseWithError(filterTar(tar.NewReader(res.Content), tar.NewWriter(pw), keep)) }()
				defer pr.Close()
				content = pr
			}
			_, err = m.cli.CopyToContainer(ctx, dstID, client.CopyToContainerOptions{DestinationPath: "/", Content: content})
			return archive.Stats{}, err
		})
	})
	return err
}

// filterTar copies the entries of the engine's "data/..." tar whose path below data/ keep
// selects (hardlinks only when their target is selected too).
func filterTar(tr *tar.Reader, tw *tar.Writer, keep func(rel string) bool) error {
	relOf := func(name string) string {
		n := strings.TrimSuffix(name, "/")
		if r, ok := strings.CutPrefix(n, strings.TrimPrefix(dataDir, "/")+"/"); ok {
			return r
		}
		return ""
	}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		rel := relOf(h.Name)
		if rel == "" || !keep(rel) || (h.Typeflag == tar.TypeLink && !keep(relOf(h.Linkname))) {
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.Copy(tw, tr); err != nil {
				return err
			}
		}
	}
}

func (m *EngineMover) withIdle(ctx context.Context, mounts []mount.Mount, fn func(id string) (archive.Stats, error)) (st archive.Stats, retErr error) {
	id, remove, err := m.idleContainer(ctx, mounts, nil)
	if err != nil {
		return st, err
	}
	defer func() {
		if err := remove(); err != nil && retErr == nil {
			retErr = err
		}
	}()
	return fn(id)
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return fmt.Sprint(time.Now().UnixNano())
	}
	return hex.EncodeToString(b)
}
