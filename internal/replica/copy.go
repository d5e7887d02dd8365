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
	"path/filepath"

	"filippo.io/age"
	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/crypt"
	"github.com/docker-maim/docker-maim/internal/progress"
)

// Putter is a repository that uploads a whole file itself (internal/backup/s3: parallel,
// retried, resumable multipart uploads, the remote's checksums checked). Copy uses it when
// the remote has it, else the repository's Create.
type Putter interface {
	Put(ctx context.Context, project, id, name string, src io.ReaderAt, size int64, progress func(int64)) error
}

// CopyOptions tune Copy.
type CopyOptions struct {
	// Name is the remote as messages name it (Redact).
	Name string
	// Seal, when set, are the age recipients every archive of a plain backup is sealed to
	// before it leaves the host (crypt.Seal); the remote manifest then records the backup
	// as sealed (Manifest.Encryption, each archive's ciphertext hash and its Plain), as
	// one written with --encrypt-local is. A backup sealed already is copied as it is.
	Seal []age.Recipient
	// StageDir is where sealed archives are staged (needed with Seal): one sealed once is
	// sent from there until the copy is complete, so a resumed copy sends the same bytes
	// the manifest records.
	StageDir string
	// Progress shows the bytes sent against the total, with a rate and an ETA.
	Progress *progress.Reporter
}

// Copy copies the complete backup id of project from local (a local directory) to remote.
// Each file is read and hashed first and compared with the manifest (an archive that fails
// is not copied: the local backup is damaged), then sent unless the remote has it already
// at its size (what an interrupted copy left; not for a file sealed anew, whose bytes
// differ). The manifest goes last, recording each file as stored (Manifest.Stored): the
// remote backup exists once it does. A backup whose manifest is on the remote already is
// not copied again.
func Copy(ctx context.Context, local, remote backup.Store, project, id string, opts CopyOptions) (res maim.RemoteCopy, err error) {
	res = maim.RemoteCopy{Remote: opts.Name, BackupID: id}
	root := local.LocalRoot()
	if root == "" {
		return res, errNotLocal
	}
	e, err := local.Get(project, id)
	if err != nil {
		return res, err
	}
	if err := e.CheckComplete(); err != nil {
		return res, err
	}
	if e.Manifest.Sealed() {
		opts.Seal = nil // its archives are ciphertext already
	}
	res.Sealed = e.Manifest.Sealed() || len(opts.Seal) > 0
	if _, err := remote.Repo.Stat(project, id, backup.ManifestName); err == nil {
		res.Copied = true
		return res, nil
	}
	c := &copier{ctx: ctx, remote: remote.Repo, project: project, id: id, dir: filepath.Join(root, project, id), opts: opts}
	files, total, err := c.files(e.Manifest)
	if err != nil {
		return res, err
	}
	if err := remote.Repo.Mkdir(project, id); err != nil && !errors.Is(err, fs.ErrExist) {
		return res, fmt.Errorf("remote %s: %w", opts.Name, err)
	}
	if opts.Progress != nil {
		c.task = opts.Progress.Task("copy "+id+" to "+opts.Name, total)
		defer func() { c.task.Done(err) }()
	}
	stored := map[string]backup.StoredFile{}
	for _, f := range files {
		sf, err := c.one(f)
		if err != nil {
			return res, fmt.Errorf("copying %s of backup %s to %s: %w", f.name, id, opts.Name, err)
		}
		stored[f.name] = sf
	}
	m, err := remoteManifest(e.Manifest, stored, opts.Seal)
	if err != nil {
		return res, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return res, err
	}
	if err := put(remote.Repo, project, id, backup.ManifestName, append(b, '\n')); err != nil {
		return res, fmt.Errorf("writing the manifest of backup %s to %s: %w", id, opts.Name, err)
	}
	if opts.StageDir != "" {
		os.RemoveAll(filepath.Join(opts.StageDir, project, id))
	}
	res.Copied, res.Bytes, res.Skipped = true, c.sent, c.skipped
	return res, nil
}

// copier is one backup being copied.
type copier struct {
	ctx         context.Context
	remote      backup.Repository
	project, id string
	dir         string
	opts        CopyOptions
	task        *progress.Task
	sent        int64
	skipped     int
}

// files are the archives of m, then every other file of the backup's directory (reports,
// a release's compose files), with the bytes they hold.
func (c *copier) files(m *backup.Manifest) ([]file, int64, error) {
	out := archives(m)
	known := map[string]bool{}
	var total int64
	for _, f := range out {
		known[f.name] = true
		total += f.size
	}
	if len(c.opts.Seal) > 0 {
		// A sealed copy keeps no index (backup.Manifest.SealedCopy): the paths it names
		// stay on this host.
		for _, s := range m.Sources {
			if s.Index != nil {
				known[s.Index.File] = true
			}
		}
	}
	des, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, 0, err
	}
	for _, de := range des {
		if known[de.Name()] || skipName(de.Name()) || !de.Type().IsRegular() {
			continue
		}
		info, err := de.Info()
		if err != nil {
			return nil, 0, err
		}
		out = append(out, file{name: de.Name(), size: info.Size()})
		total += info.Size()
	}
	return out, total, nil
}

// remoteManifest is the manifest of the remote copy: m, with its extra files in Stored
// and, when the archives were sealed on the way (rcpts), recorded as a sealed backup is
// (backup.Manifest.SealedCopy: the ciphertexts' hashes, each archive's own as Plain).
func remoteManifest(m *backup.Manifest, stored map[string]backup.StoredFile, rcpts []age.Recipient) (*backup.Manifest, error) {
	arch := map[string]backup.Plain{}
	for _, f := range archives(m) {
		sf := stored[f.name]
		arch[f.name] = backup.Plain{SHA256: sf.SHA256, Size: sf.Size}
		delete(stored, f.name)
	}
	r := m
	if len(rcpts) > 0 {
		var err error
		if r, err = m.SealedCopy(rcpts, arch); err != nil {
			return nil, err
		}
	} else {
		c := *m
		r = &c
	}
	r.Stored = stored
	return r, nil
}

// one sends one file (an archive sealed first, when asked) and says how it is stored.
func (c *copier) one(f file) (backup.StoredFile, error) {
	src := filepath.Join(c.dir, f.name)
	mayResume := true
	if len(c.opts.Seal) > 0 && f.sha256 != "" {
		stage := filepath.Join(c.opts.StageDir, c.project, c.id, f.name+".age")
		if _, err := os.Stat(stage); err != nil {
			if err := c.seal(src, stage, f); err != nil {
				return backup.StoredFile{}, err
			}
			mayResume = false
		}
		src = stage
	}
	sum, size, err := archive.FileSHA256(src)
	if err != nil {
		return backup.StoredFile{}, err
	}
	if src == filepath.Join(c.dir, f.name) && f.sha256 != "" && (sum != f.sha256 || size != f.size) {
		return backup.StoredFile{}, &backup.VerifyError{Backup: c.id, File: f.name, Reason: "the local archive does not match its manifest (sha256 or size): not copied"}
	}
	sf := backup.StoredFile{SHA256: sum, Size: size}
	if n, err := c.remote.Stat(c.project, c.id, f.name); mayResume && err == nil && n == size {
		c.skipped++
		c.add(size)
		return sf, nil
	}
	in, err := os.Open(src)
	if err != nil {
		return sf, err
	}
	defer in.Close()
	if p, ok := c.remote.(Putter); ok {
		if err := p.Put(c.ctx, c.project, c.id, f.name, in, size, c.add); err != nil {
			return sf, err
		}
		c.sent += size
		return sf, nil
	}
	up, err := c.remote.Create(c.project, c.id, f.name)
	if err != nil {
		return sf, err
	}
	if _, err := io.Copy(up, &ctxReader{ctx: c.ctx, r: in, add: c.add}); err != nil {
		up.Abort()
		return sf, err
	}
	if err := up.Commit(); err != nil {
		return sf, err
	}
	c.sent += size
	return sf, nil
}

// seal writes src sealed into stage (through stage.partial, renamed when whole), hashing
// the plaintext on the way: an archive that does not match its manifest is not sealed.
func (c *copier) seal(src, stage string, f file) (err error) {
	if err := os.MkdirAll(filepath.Dir(stage), 0o700); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := stage + ".partial"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(tmp)
		}
	}()
	w, err := crypt.Seal(out, c.opts.Seal)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), &ctxReader{ctx: c.ctx, r: in})
	if err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if f.sha256 != "" && (hex.EncodeToString(h.Sum(nil)) != f.sha256 || n != f.size) {
		return &backup.VerifyError{Backup: c.id, File: f.name, Reason: "the local archive does not match its manifest (sha256 or size): not copied"}
	}
	if err := out.Sync(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, stage)
}

func (c *copier) add(n int64) {
	if c.task != nil {
		c.task.Add(n)
	}
}

// put writes a small file whole into a repository.
func put(r backup.Repository, project, id, name string, data []byte) error {
	up, err := r.Create(project, id, name)
	if err != nil {
		return err
	}
	if _, err := up.Write(data); err != nil {
		up.Abort()
		return err
	}
	return up.Commit()
}

// ctxReader reads r until ctx ends, telling add what it read.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
	add func(int64)
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	if c.add != nil && n > 0 {
		c.add(int64(n))
	}
	return n, err
}
