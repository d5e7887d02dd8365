// Package replica owns the off-host copy of backups: opening the remote repository a URL
// names (s3://BUCKET/PREFIX, or file:///ABS/PATH and /ABS/PATH for a mounted NAS or USB
// disk), checking that it can be written, copying a complete local backup there (each
// archive first, sealed with age when asked and staged so a resumed copy sends the same
// bytes, the manifest last: a remote backup exists once its manifest does), fetching one
// back into the local store when the local copy is gone or damaged, and checking a remote
// copy's hashes. It works on backup.Store and backup.Repository only: what copies when is
// internal/app's.
package replica

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/backup/s3"
)

// EnvRemote names the environment variable that gives --remote's default.
const EnvRemote = "MAIM_REMOTE"

// Opener opens the repository of a URL scheme other than file (s3).
type Opener func(ctx context.Context, rawURL string) (backup.Repository, error)

// Openers are the remote kinds this build knows besides file, by URL scheme: s3 (any
// S3-compatible store, internal/backup/s3).
var Openers = map[string]Opener{
	"s3": func(ctx context.Context, rawURL string) (backup.Repository, error) {
		r, err := s3.Open(ctx, rawURL)
		if err != nil {
			return nil, err
		}
		return r, nil
	},
}

// Open opens the remote repository url names: file:///ABS/PATH or /ABS/PATH (a directory,
// made when missing, as a local backup dir is), or a scheme in Openers.
func Open(ctx context.Context, rawURL string) (backup.Repository, error) {
	if filepath.IsAbs(rawURL) {
		return openDir(rawURL)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("--remote %s: %w", Redact(rawURL), err)
	}
	if u.Scheme == "file" {
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("--remote %s: a file URL names a path on this host (file:///ABS/PATH)", Redact(rawURL))
		}
		return openDir(u.Path)
	}
	if open, ok := Openers[u.Scheme]; ok {
		return open(ctx, rawURL)
	}
	return nil, fmt.Errorf("--remote %s: unknown kind of remote %q (want s3://BUCKET/PREFIX, file:///ABS/PATH or /ABS/PATH)", Redact(rawURL), u.Scheme)
}

func openDir(p string) (backup.Repository, error) {
	if !filepath.IsAbs(p) {
		return nil, fmt.Errorf("--remote %s: not an absolute path", p)
	}
	root, err := backup.ResolveDir(p)
	if err != nil {
		return nil, fmt.Errorf("--remote %s: %w", p, err)
	}
	return backup.LocalDir{Root: root}, nil
}

// Redact is a URL as messages show it: without user information or query (where a
// credential could hide).
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return rawURL
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// Probe checks that the repository can be written: a repository that can check itself
// (internal/backup/s3: the bucket exists and answers) does so first, then a scratch backup
// is made in the project's place (a name no backup ID has, so no listing shows it), a file
// written into it and all of it removed again.
func Probe(ctx context.Context, repo backup.Repository, project string) error {
	if c, ok := repo.(interface{ Check(context.Context) error }); ok {
		if err := c.Check(ctx); err != nil {
			return err
		}
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	id := "probe-" + hex.EncodeToString(b[:])
	if err := repo.Mkdir(project, id); err != nil {
		return fmt.Errorf("remote %s cannot be written: %w", repo.Location(), err)
	}
	defer repo.Delete(project, id)
	up, err := repo.Create(project, id, "probe")
	if err != nil {
		return fmt.Errorf("remote %s cannot be written: %w", repo.Location(), err)
	}
	if _, err := io.WriteString(up, "docker-maim probe\n"); err != nil {
		up.Abort()
		return fmt.Errorf("remote %s cannot be written: %w", repo.Location(), err)
	}
	if err := up.Commit(); err != nil {
		return fmt.Errorf("remote %s cannot be written: %w", repo.Location(), err)
	}
	if err := repo.Delete(project, id); err != nil {
		return fmt.Errorf("remote %s: removing the probe: %w", repo.Location(), err)
	}
	return nil
}

// file is one file of a backup as the manifest names it: an archive with its plaintext
// hash and size, or an extra file (no hash recorded: SHA256 "").
type file struct {
	name   string
	sha256 string
	size   int64
}

// archives are the archives m references (sources, deltas, dumps), with their hashes. An
// unchanged source's (Ref) are another backup's files, copied with that backup.
func archives(m *backup.Manifest) []file {
	var out []file
	for _, s := range m.Sources {
		if s.Archive == "" || s.Ref != "" {
			continue
		}
		out = append(out, file{s.Archive, s.SHA256, s.ArchiveSize})
		if s.Delta != nil {
			out = append(out, file{s.Delta.Archive, s.Delta.SHA256, s.Delta.ArchiveSize})
		}
	}
	for _, d := range m.Dumps {
		out = append(out, file{d.Archive, d.SHA256, d.ArchiveSize})
	}
	return out
}

// skipName tells the names of a local backup dir that are no file of the backup.
func skipName(name string) bool {
	return name == backup.ManifestName || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".partial")
}

// errNotLocal is the error of a copy whose source store is not a local directory.
var errNotLocal = errors.New("the local store is not a directory")
