package replica

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/progress"
)

// FetchOptions tune Fetch.
type FetchOptions struct {
	// Name is the remote as messages name it (Redact).
	Name string
	// Progress shows the bytes received against the total.
	Progress *progress.Reporter
}

// Fetch downloads the complete remote backup id of project into local, under the same
// ID. A local backup of that ID (missing files, damaged ones) loses its manifest first, so
// until the fetch ends it is incomplete, never a mix that passes for complete; each file
// then replaces its local namesake whole once its bytes match the remote manifest's hash
// and size; the manifest (without Stored) goes last. A copy sealed with age stays sealed
// in the local store, as one made with --encrypt-local: the restore opens it with the
// identities (and refuses without one) as it opens any sealed backup. It returns the
// bytes received.
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
		got, err := fetchOne(ctx, remote.Repo, local.Repo, project, id, f, task)
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

// fetchList is every file of a remote copy: its archives, then the extra files its
// manifest stores, each with the hash and size of its bytes.
func fetchList(m *backup.Manifest) ([]file, int64) {
	out := archives(m)
	for name, sf := range m.Stored {
		out = append(out, file{name, sf.SHA256, sf.Size})
	}
	var total int64
	for _, f := range out {
		total += f.size
	}
	return out, total
}

// Getter is a repository that downloads a whole file itself (internal/backup/s3: ranged,
// parallel, retried): Fetch uses it when the local upload is a plain file.
type Getter interface {
	Get(ctx context.Context, project, id, name string, dst io.WriterAt, progress func(n int64)) (int64, error)
}

// fetchOne downloads one file, checks it against its hash and size and commits it in the
// local store.
func fetchOne(ctx context.Context, from, to backup.Repository, project, id string, f file, task *progress.Task) (int64, error) {
	if g, ok := from.(Getter); ok {
		if n, done, err := fetchWhole(ctx, g, to, project, id, f, task); done {
			return n, err
		}
	}
	r, err := from.Open(project, id, f.name)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	up, err := to.Create(project, id, f.name)
	if err != nil {
		return 0, err
	}
	h := sha256.New()
	cr := &countReader{ctx: ctx, r: r, task: task}
	n, err := io.Copy(io.MultiWriter(up, h), cr)
	if err == nil && (hex.EncodeToString(h.Sum(nil)) != f.sha256 || n != f.size) {
		err = fmt.Errorf("%d bytes on the remote do not match the manifest's sha256 and size (%d bytes)", n, f.size)
	}
	if err != nil {
		up.Abort()
		return n, err
	}
	return n, up.Commit()
}

// fetchWhole is fetchOne through a Getter into the local upload's file; done is false
// when the upload is no plain file (then nothing was done).
func fetchWhole(ctx context.Context, g Getter, to backup.Repository, project, id string, f file, task *progress.Task) (n int64, done bool, err error) {
	up, err := to.Create(project, id, f.name)
	if err != nil {
		return 0, true, err
	}
	p, ok := up.LocalPath()
	if !ok {
		up.Abort()
		return 0, false, nil
	}
	defer func() {
		if err != nil {
			up.Abort()
		}
	}()
	dst, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return 0, true, err
	}
	add := func(int64) {}
	if task != nil {
		add = task.Add
	}
	n, err = g.Get(ctx, project, id, f.name, dst, add)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, true, err
	}
	sum, size, err := archive.FileSHA256(p)
	if err == nil && (sum != f.sha256 || size != f.size) {
		err = fmt.Errorf("%d bytes from the remote do not match the manifest's sha256 and size (%d bytes)", size, f.size)
	}
	if err != nil {
		return n, true, err
	}
	return n, true, up.Commit()
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
// each file's SHA-256 and size, read whole (a sealed copy's ciphertext: no identity is
// needed). A file that fails is a *backup.VerifyError. It
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
		if hex.EncodeToString(h.Sum(nil)) != want || n != size {
			return e, total, 0, &backup.VerifyError{Backup: e.ID, File: f.name, Reason: fmt.Sprintf("%d bytes on the remote do not match the manifest's sha256 and size (%d bytes)", n, size)}
		}
	}
	return e, total, len(files), nil
}
