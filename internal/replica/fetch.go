package replica

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/progress"
)

// Unsealer opens what a Sealer sealed; it fails (api.ErrNoIdentity) without a matching
// identity.
type Unsealer func(src io.Reader) (io.Reader, error)

// FetchOptions tune Fetch.
type FetchOptions struct {
	// Name is the remote as messages name it (Redact).
	Name string
	// Unseal opens sealed files; nil: a sealed copy cannot be fetched.
	Unseal Unsealer
	// Progress shows the bytes received against the total.
	Progress *progress.Reporter
}

// Fetch downloads the complete remote backup id of project into local, under the same
// ID. A local backup of that ID (missing files, damaged ones) loses its manifest first, so
// until the fetch ends it is incomplete, never a mix that passes for complete; each file
// then replaces its local namesake whole once its stored bytes match the remote manifest
// and, for an archive, its (unsealed) bytes match the archive's hash; the manifest, as the
// local backup had it (no Stored), goes last. It returns the bytes received.
func Fetch(ctx context.Context, remote, local backup.Store, project, id string, opts FetchOptions) (n int64, err error) {
	e, err := remote.Get(project, id)
	if err != nil {
		return 0, fmt.Errorf("remote %s: %w", opts.Name, err)
	}
	if err := e.CheckComplete(); err != nil {
		return 0, fmt.Errorf("remote %s: %w", opts.Name, err)
	}
	m := *e.Manifest
	files, total := fetchList(&m)
	if err := local.Repo.Mkdir(project, id); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return 0, err
		}
		if err := local.Repo.Remove(project, id, backup.ManifestName); err != nil {
			return 0, err
		}
	}
	var task *progress.Task
	if opts.Progress != nil {
		task = opts.Progress.Task("fetch "+id+" from "+opts.Name, total)
		defer func() { task.Done(err) }()
	}
	for _, f := range files {
		got, err := fetchOne(ctx, remote.Repo, local.Repo, project, id, f, m.Stored[f.name], opts.Unseal, task)
		n += got
		if err != nil {
			return n, fmt.Errorf("fetching %s of backup %s from %s: %w", f.name, id, opts.Name, err)
		}
	}
	m.Stored = nil
	b, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		return n, err
	}
	return n, put(local.Repo, project, id, backup.ManifestName, append(b, '\n'))
}

// fetchList is every file of a remote copy: those its manifest stores, else (a copy
// whose manifest records none) its archives.
func fetchList(m *backup.Manifest) ([]file, int64) {
	arch := archives(m)
	byName := map[string]file{}
	for _, f := range arch {
		byName[f.name] = f
	}
	var out []file
	var total int64
	if len(m.Stored) == 0 {
		for _, f := range arch {
			total += f.size
		}
		return arch, total
	}
	for name, sf := range m.Stored {
		f, ok := byName[name]
		if !ok {
			f = file{name: name}
		}
		out = append(out, f)
		total += sf.Size
	}
	return out, total
}

// fetchOne downloads one file, checks it and commits it in the local store.
func fetchOne(ctx context.Context, from, to backup.Repository, project, id string, f file, sf backup.StoredFile, unseal Unsealer, task *progress.Task) (int64, error) {
	r, err := from.Open(project, id, f.name)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	stored := sha256.New()
	cr := &countReader{ctx: ctx, r: io.TeeReader(r, stored), task: task}
	var in io.Reader = cr
	if sf.Sealed {
		if unseal == nil {
			return 0, errors.New("the copy is sealed with age and no identity was given (--identity, MAIM_AGE_IDENTITY)")
		}
		if in, err = unseal(cr); err != nil {
			return 0, err
		}
	}
	up, err := to.Create(project, id, f.name)
	if err != nil {
		return 0, err
	}
	plain := sha256.New()
	written, err := io.Copy(io.MultiWriter(up, plain), in)
	if err == nil {
		_, err = io.Copy(io.Discard, cr) // the seal's tail, so the stored hash covers every byte
	}
	if err == nil {
		err = checkFetched(f, sf, stored, plain, cr.n, written)
	}
	if err != nil {
		up.Abort()
		return cr.n, err
	}
	return cr.n, up.Commit()
}

// checkFetched compares what came with the remote manifest's record of the stored bytes
// and the archive's own hash.
func checkFetched(f file, sf backup.StoredFile, stored, plain hash.Hash, storedN, plainN int64) error {
	if sf.SHA256 != "" && (hex.EncodeToString(stored.Sum(nil)) != sf.SHA256 || storedN != sf.Size) {
		return fmt.Errorf("the remote file does not match its manifest (sha256 or size)")
	}
	if f.sha256 != "" && (hex.EncodeToString(plain.Sum(nil)) != f.sha256 || plainN != f.size) {
		return fmt.Errorf("the archive does not match its manifest (sha256 or size)")
	}
	return nil
}

// countReader counts what passes and stops when ctx ends.
type countReader struct {
	ctx  context.Context
	r    io.Reader
	n    int64
	task *progress.Task
}

func (c *countReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.task != nil && n > 0 {
		c.task.Add(int64(n))
	}
	return n, err
}

// VerifyRemote checks every file of the remote copy id of project against its manifest:
// the stored bytes' SHA-256 and size (a sealed copy's ciphertext), read whole; an archive
// copied plain is the archive itself. A file that fails is a *backup.VerifyError. It
// returns the bytes read and how many files.
func VerifyRemote(ctx context.Context, remote backup.Store, project, id string, task *progress.Task) (backup.Entry, int64, int, error) {
	e, err := remote.Get(project, id)
	if err != nil {
		return e, 0, 0, err
	}
	if err := e.CheckComplete(); err != nil {
		return e, 0, 0, err
	}
	files, _ := fetchList(e.Manifest)
	var total int64
	for _, f := range files {
		want, size := f.sha256, f.size
		if sf, ok := e.Manifest.Stored[f.name]; ok {
			want, size = sf.SHA256, sf.Size
		}
		r, err := remote.Repo.Open(project, e.ID, f.name)
		if err != nil {
			return e, total, 0, &backup.VerifyError{Backup: e.ID, File: f.name, Reason: err.Error()}
		}
		h := sha256.New()
		n, err := io.Copy(h, &countReader{ctx: ctx, r: r, task: task})
		r.Close()
		total += n
		if err != nil {
			return e, total, 0, &backup.VerifyError{Backup: e.ID, File: f.name, Reason: err.Error()}
		}
		if want != "" && (hex.EncodeToString(h.Sum(nil)) != want || n != size) {
			return e, total, 0, &backup.VerifyError{Backup: e.ID, File: f.name, Reason: fmt.Sprintf("%d bytes on the remote do not match the manifest's sha256 and size (%d bytes)", n, size)}
		}
	}
	return e, total, len(files), nil
}
