package volume

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/exclude"
	"github.com/docker-maim/docker-maim/internal/fsaccess"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// The archive-API path's restores: a directory archive validated and copied in through the
// engine's archive endpoint (archiveRestore), a single file resolved inside the container and
// replaced (archiveRestoreFile), a tree made equal to the archive in place
// (archiveRestoreInPlace).

func (m *EngineMover) archiveRestore(ctx context.Context, t Target, r io.Reader, opts RestoreOptions) (archive.Stats, error) {
	var (
		st  archive.Stats
		err error
	)
	switch {
	case t.IsFile:
		st, err = m.archiveRestoreFile(ctx, t, r, opts)
	default:
		st, err = m.archiveRestoreInPlace(ctx, t, r, opts)
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
// A single-file archive (file != "") is sent to dir with its entry named file.
//
// seen, when set, is called with every entry sent (relative path, "" for the root; whether
// it is a directory).
func (m *EngineMover) copyIn(ctx context.Context, id string, r io.Reader, opts RestoreOptions, dir, file string, seen func(rel string, dir bool)) (archive.Stats, error) {
	dest, prefix := "/", strings.TrimPrefix(dataDir, "/")
	if file != "" {
		dest, prefix = dir, ""
	}
	ex, err := exclude.New(opts.Excludes)
	if err != nil {
		return archive.Stats{}, err
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
		st, err := validateTar(ctx, tar.NewReader(dr), tar.NewWriter(pw), file, prefix, ex, opts.Progress, seen)
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
func validateTar(ctx context.Context, tr *tar.Reader, tw *tar.Writer, rename, prefix string, ex *exclude.Rules, progress func(int64), seen func(rel string, dir bool)) (archive.Stats, error) {
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
		if rel := strings.Trim(path.Clean("/"+h.Name), "/"); rename == "" && ex.Match(rel) {
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
		if seen != nil {
			seen(strings.Trim(path.Clean("/"+h.Name), "/"), h.Typeflag == tar.TypeDir)
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
	dest, err := m.resolveFileIn(ctx, id, t, p, true)
	if err != nil {
		return st, err
	}
	return m.copyIn(ctx, id, r, opts, path.Dir(dest), path.Base(dest), nil)
}

// resolveFileIn resolves the single-file target t, reached as p in the idle container id
// (its root mounted at /data, see helperMounts), to the path the engine reads or writes,
// with the rule of fsaccess.Beneath as far as the engine lets it be applied: each component
// is looked at (the engine's stat, which resolves a symlink within the container, never on
// the host) and a symlink is followed only when it leads beneath /data; the file must be a
// regular file (for a write, missing too, unless a link leads there). A link swapped in
// after this look is still resolved by the engine within the container: it can lead into
// the container's own empty file system, never to the engine host's files.
func (m *EngineMover) resolveFileIn(ctx context.Context, id string, t Target, p string, write bool) (string, error) {
	rel, ok := strings.CutPrefix(p, dataDir+"/")
	if !ok {
		return "", fmt.Errorf("%s: %s is not beneath %s", t, p, dataDir)
	}
	root, _ := t.fileRoot()
	cur := dataDir
	comps := strings.Split(rel, "/")
	for i, c := range comps {
		last := i == len(comps)-1
		next := path.Join(cur, c)
		for hops := 0; ; hops++ {
			res, err := m.cli.ContainerStatPath(ctx, id, client.ContainerStatPathOptions{Path: next})
			if err != nil {
				if last && write && hops == 0 && cerrdefs.IsNotFound(err) {
					return next, nil // a missing file is created
				}
				if hops > 0 && cerrdefs.IsNotFound(err) {
					return "", fmt.Errorf("%s: %s is a symlink that does not lead to a file: refusing to read or write through it", t, path.Join(root, strings.TrimPrefix(next, dataDir+"/")))
				}
				return "", fmt.Errorf("%s: looking at %s through the engine: %w", t, next, err)
			}
			mode := res.Stat.Mode
			if mode&os.ModeSymlink != 0 {
				lt := path.Clean(res.Stat.LinkTarget)
				if hops > 40 || (lt != dataDir && !strings.HasPrefix(lt, dataDir+"/")) {
					return "", &fsaccess.EscapeError{Path: t.HostPath, Link: path.Join(root, strings.TrimPrefix(next, dataDir+"/")), Target: res.Stat.LinkTarget, Dir: root}
				}
				next = lt
				continue
			}
			if !last && !mode.IsDir() {
				return "", fmt.Errorf("%s: %s is not a directory", t, next)
			}
			if last && !mode.IsRegular() {
				return "", fmt.Errorf("%s: %s is not a regular file", t, next)
			}
			break
		}
		cur = next
	}
	return cur, nil
}

// archiveRestoreInPlace restores a volume or a bind-mounted directory in place: the volume
// is never removed (a stopped container may reference it) and the directory never replaced.
//
//  1. The archive is validated and written into a fresh staging volume, its entries listed
//     on the way (a bad archive leaves the target untouched).
//  2. The target is listed through the archive API and [planInPlace] decides how the
//     target's entries the archive lacks go away, or refuses: the archive API cannot delete,
//     but extracting a non-directory over a directory removes that directory's whole tree.
//  3. The staging tree is copied onto the target in one stream, with an empty file entry
//     just before the directory entry of each directory to clear: the engine removes the
//     directory's old tree and the entries that follow rebuild it exactly. Owners, modes and
//     mtimes come from the archive's headers, the root's onto the mount point.
//
// A refusal (step 2) happens before anything of the target is touched.
func (m *EngineMover) archiveRestoreInPlace(ctx context.Context, t Target, r io.Reader, opts RestoreOptions) (st archive.Stats, retErr error) {
	staging := "maim-staging-" + randHex(8)
	owner := t.VolumeName
	if t.Kind == KindBind {
		owner = t.HostPath
	}
	if _, err := m.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: staging,
		Labels: map[string]string{LabelHelper: LabelValueStaging, LabelHelper + ".for": owner}}); err != nil {
		return st, fmt.Errorf("creating staging volume: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if _, err := m.cli.VolumeRemove(cctx, staging, client.VolumeRemoveOptions{Force: true}); err != nil && retErr == nil {
			retErr = fmt.Errorf("removing staging volume %s: %w", staging, err)
		}
	}()
	stagingMount := []mount.Mount{{Type: mount.TypeVolume, Source: staging, Target: dataDir, VolumeOptions: &mount.VolumeOptions{NoCopy: true}}}

	inArchive := map[string]bool{"": true}
	st, err := m.withIdle(ctx, stagingMount, nil, func(id string) (archive.Stats, error) {
		return m.copyIn(ctx, id, r, opts, "", "", func(rel string, dir bool) { inArchive[rel] = dir })
	})
	if err != nil {
		return st, err
	}

	ex, err := exclude.New(opts.Excludes)
	if err != nil {
		return st, err
	}
	present := true
	if t.Kind == KindVolume {
		if present, err = volumeExists(ctx, m.cli, t.VolumeName); err != nil {
			return st, err
		}
	}
	mounts, binds, _ := helperMounts(t, false)
	var clear map[string]bool
	if present {
		var current map[string]bool
		_, err := m.withIdle(ctx, mounts, binds, func(id string) (archive.Stats, error) {
			var err error
			current, err = m.listTree(ctx, id, dataDir)
			return archive.Stats{}, err
		})
		if err != nil {
			return st, fmt.Errorf("listing the target: %w", err)
		}
		if clear, err = planInPlace(inArchive, current, ex.Match); err != nil {
			return st, err
		}
	}
	_, err = m.withIdle(ctx, []mount.Mount{{Type: mount.TypeVolume, Source: staging, Target: dataDir, ReadOnly: true,
		VolumeOptions: &mount.VolumeOptions{NoCopy: true}}}, nil, func(srcID string) (archive.Stats, error) {
		return m.withIdle(ctx, mounts, binds, func(dstID string) (archive.Stats, error) {
			res, err := m.cli.CopyFromContainer(ctx, srcID, client.CopyFromContainerOptions{SourcePath: dataDir})
			if err != nil {
				return archive.Stats{}, err
			}
			defer res.Content.Close()
			stop := context.AfterFunc(ctx, func() { res.Content.Close() })
			defer stop()
			pr, pw := io.Pipe()
			go func() { pw.CloseWithError(clearingTar(tar.NewReader(res.Content), tar.NewWriter(pw), clear)) }()
			defer pr.Close()
			_, err = m.cli.CopyToContainer(ctx, dstID, client.CopyToContainerOptions{DestinationPath: "/", Content: pr, AllowOverwriteDirWithFile: true})
			if err != nil {
				return archive.Stats{}, fmt.Errorf("writing through the engine: %w", err)
			}
			return archive.Stats{}, nil
		})
	})
	return st, err
}

// listTree lists the tree at p in container id through the archive API: relative slash
// paths ("" is p itself) and whether each is a directory.
func (m *EngineMover) listTree(ctx context.Context, id, p string) (map[string]bool, error) {
	res, err := m.cli.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: p + "/."})
	if err != nil {
		return nil, fmt.Errorf("reading through the engine: %w", err)
	}
	defer res.Content.Close()
	stop := context.AfterFunc(ctx, func() { res.Content.Close() })
	defer stop()
	tr := tar.NewReader(res.Content)
	out := map[string]bool{}
	root := ""
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(h.Name, "/")
		if root == "" {
			root = name
			out[""] = true
			continue
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(name, root+"/"), "./")
		out[rel] = h.Typeflag == tar.TypeDir
	}
}

// planInPlace decides how the target (current) becomes exactly the archive (inArchive) by
// extraction alone: both map relative paths to whether they are directories. An entry of
// the target that the archive also has is overwritten (or replaced, when the type differs);
// one under a directory the archive has as a non-directory goes with it. Any other entry
// the archive lacks must go: the nearest directory above it that the archive has is
// returned to be cleared (its tree removed and rebuilt from the archive). Paths keep selects,
// and the directories above them, stay as they are. Refused: an entry
// to remove at the top of the target (the mount point itself cannot be cleared), and a
// directory to clear that holds paths keep (the backup's excludes) says to leave alone.
func planInPlace(inArchive, current map[string]bool, keep func(rel string) bool) (map[string]bool, error) {
	// Directories above a kept path stay, as archive.Extract leaves them.
	holdsKept := map[string]bool{}
	for rel := range current {
		if rel != "" && keep(rel) {
			for y := path.Dir(rel); y != "."; y = path.Dir(y) {
				holdsKept[y] = true
			}
		}
	}
	clear := map[string]bool{}
	topSet := map[string]bool{}
	for rel := range current {
		if rel == "" || keep(rel) || holdsKept[rel] {
			continue
		}
		if _, ok := inArchive[rel]; ok {
			continue
		}
		for y := path.Dir(rel); ; y = path.Dir(y) {
			if y == "." {
				topSet[strings.SplitN(rel, "/", 2)[0]] = true
				break
			}
			if dir, ok := inArchive[y]; ok {
				if dir {
					clear[y] = true
				}
				break
			}
		}
	}
	if len(topSet) > 0 {
		var top []string
		for n := range topSet {
			top = append(top, n)
		}
		sort.Strings(top)
		more := ""
		if len(top) > 3 {
			more = fmt.Sprintf(" and %d more", len(top)-3)
			top = top[:3]
		}
		return nil, fmt.Errorf("refusing to restore (nothing was changed): %s%s at the top of the target %s not in the backup, and the engine's archive API "+
			"cannot delete there (no helper container can run on this engine; an exact restore of it needs one)", strings.Join(top, ", "), more,
			map[bool]string{true: "is", false: "are"}[len(top) == 1 && more == ""])
	}
	for d := range clear {
		for rel := range current {
			if strings.HasPrefix(rel, d+"/") && keep(rel) {
				return nil, fmt.Errorf("refusing to restore (nothing was changed): directory %s must be cleared (it holds files the backup does not), "+
					"but it also holds %s, which the backup left out and the restore must keep; the engine's archive API cannot delete selectively", d, rel)
			}
		}
	}
	return clear, nil
}

// clearingTar copies the engine's "data/..." tar of the staging tree, writing an empty
// regular file entry just before the entry of each directory in clear (relative paths):
// extracted with AllowOverwriteDirWithFile, it removes the target's old tree there.
func clearingTar(tr *tar.Reader, tw *tar.Writer, clear map[string]bool) error {
	prefix := strings.TrimPrefix(dataDir, "/") + "/"
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		if h.Typeflag == tar.TypeDir {
			if rel, ok := strings.CutPrefix(strings.TrimSuffix(h.Name, "/"), prefix); ok && clear[rel] {
				if err := tw.WriteHeader(&tar.Header{Name: prefix + rel, Typeflag: tar.TypeReg, Mode: 0o600, ModTime: h.ModTime}); err != nil {
					return err
				}
			}
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
