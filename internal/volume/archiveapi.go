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
	"github.com/docker-maim/docker-maim/internal/exclude"
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
	src, file := p+"/.", ""
	if t.IsFile {
		file = path.Base(t.HostPath)
		if src, err = m.resolveFileIn(ctx, id, t, p, false); err != nil {
			return st, fmt.Errorf("backup of %s: %w", t, err)
		}
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
	st, err = reencode(ctx, tar.NewReader(res.Content), tar.NewWriter(cw), file, opts.Excludes, opts.Progress)
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
// into the archive layout: "./" then "./a", ... for a directory, file (the source's base
// name) for a single file (file != ""). Uname/Gname and access/change times are dropped; numeric owners, modes, mtimes,
// symlinks, hardlinks and xattrs are kept as the engine reported them.
func reencode(ctx context.Context, tr *tar.Reader, tw *tar.Writer, file string, excludes []string, progress func(int64)) (archive.Stats, error) {
	isFile := file != ""
	var st archive.Stats
	ex, err := exclude.New(excludes)
	if err != nil {
		return st, err
	}
	root := ""
	var skipped []string // excluded directories pruned whole (exclude.Rules.Prune)
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
		if rel != "" && leftOut(ex, rel, h.Typeflag == tar.TypeDir, &skipped) {
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
			nh.Name = file
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

// leftOut reports whether the entry rel is left out, as archive.WriteTar leaves it out: below
// a directory pruned whole, or excluded (exclude.Rules.Match). An excluded directory no
// exception can re-include anything below is added to skipped; below another, Match
// decides each entry.
func leftOut(ex *exclude.Rules, rel string, dir bool, skipped *[]string) bool {
	if underAny(rel, *skipped) {
		return true
	}
	if !ex.Match(rel) {
		return false
	}
	if dir && ex.Prune(rel) {
		*skipped = append(*skipped, rel)
	}
	return true
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

func (m *EngineMover) withIdle(ctx context.Context, mounts []mount.Mount, binds []string, fn func(id string) (archive.Stats, error)) (st archive.Stats, retErr error) {
	id, remove, err := m.idleContainer(ctx, mounts, binds)
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
