// Package s3 is the backup repository in an S3-compatible bucket (AWS S3, Cloudflare R2,
// Backblaze B2, MinIO, SeaweedFS, Garage): a backup.Repository over minio-go, passing
// backuptest.Conformance, plus what a remote copy needs beyond the seam: Put (a parallel,
// retried, resumable multipart upload of a local file whose parts the server's checksums
// confirm) and Get (parallel ranged, retried downloads).
//
// It owns the bucket's layout: PREFIX/PROJECT/ID/NAME for the files of a backup,
// PREFIX/PROJECT/ID/.maim-backup marking a backup made by Mkdir (so an empty backup lists),
// and PREFIX/PROJECT/.maim-lock, the project's lease (see Repo.Lock). Endpoint and
// credentials are read as the AWS tools read them (Open); no secret is ever shown.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/docker-maim/docker-maim/internal/backup"
)

const (
	markerName      = ".maim-backup"
	lockName        = ".maim-lock"
	defaultWorkers  = 4
	defaultLeaseTTL = 2 * time.Minute
	opTimeout       = 2 * time.Minute
)

// Repo is a backup.Repository in a bucket. Its methods are safe for concurrent use.
type Repo struct {
	core             *minio.Core
	bucket, prefix   string
	endpoint         string
	secrets          []string
	noChecksumHeader bool // the server refused x-amz-checksum-sha256: MD5 and the signed payload hash only

	// Workers is how many parts Put uploads (and Get downloads) at once; each holds one
	// 1 MiB buffer, whatever the part size. Default 4.
	Workers int
	// LeaseTTL is how long a lock lasts without a refresh (it is refreshed every third of
	// it while held). Default 2 minutes.
	LeaseTTL time.Duration
}

var _ backup.Repository = (*Repo)(nil)

// transport is minio-go's, with buffers sized for multi-MiB bodies and a connection per worker kept.
func transport() http.RoundTripper {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		WriteBufferSize:       256 << 10,
		ReadBufferSize:        256 << 10,
	}
}

// Location is s3://BUCKET/PREFIX, of a project or of a backup: never an endpoint secret.
func (r *Repo) Location(elem ...string) string {
	return "s3://" + r.bucket + "/" + strings.TrimPrefix(r.key(elem...), "/")
}

// key joins elem under the prefix.
func (r *Repo) key(elem ...string) string {
	parts := elem
	if r.prefix != "" {
		parts = append([]string{r.prefix}, elem...)
	}
	return strings.Join(parts, "/")
}

// checked is key after refusing an element that would leave its place or take a reserved name.
func (r *Repo) checked(elem ...string) (string, error) {
	for _, e := range elem {
		if e == "" || e == "." || e == ".." || strings.ContainsAny(e, `/\`) || e == markerName || e == lockName {
			return "", fmt.Errorf("backup repository %s: bad name %q", r.Location(), e)
		}
	}
	return r.key(elem...), nil
}

// redacted is an error whose text has the repository's secrets taken out; it still wraps
// the original for errors.Is and errors.As.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// wrap names the operation and place of err, maps S3's missing and existing answers onto
// fs.ErrNotExist and fs.ErrExist, and takes the secrets out of its text.
func (r *Repo) wrap(op, where string, err error) error {
	if err == nil {
		return nil
	}
	var mark error
	switch {
	case isNotFound(err):
		mark = fs.ErrNotExist
	case isPrecondition(err):
		mark = fs.ErrExist
	}
	msg := fmt.Sprintf("remote %s %s: %v", op, where, err)
	for _, s := range r.secrets {
		msg = strings.ReplaceAll(msg, s, "***")
	}
	if mark != nil {
		return &redacted{msg: msg, err: errors.Join(mark, err)}
	}
	return &redacted{msg: msg, err: err}
}

func code(err error) (string, int) {
	e := minio.ToErrorResponse(err)
	return e.Code, e.StatusCode
}

func isNotFound(err error) bool {
	c, s := code(err)
	return c == "NoSuchKey" || c == "NoSuchUpload" || c == "NotFound" || (s == http.StatusNotFound && c != "NoSuchBucket")
}

func isPrecondition(err error) bool {
	c, s := code(err)
	return c == "PreconditionFailed" || s == http.StatusPreconditionFailed
}

func opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

// List returns the IDs under PREFIX/PROJECT/: those of the backups holding at least one
// object. The listing is recursive: a server keeping directories (SeaweedFS's filer) shows
// the prefix of a deleted backup as empty, which is no backup.
func (r *Repo) List(project string) ([]string, error) {
	dir, err := r.checked(project)
	if err != nil {
		return nil, err
	}
	ctx, cancel := opCtx()
	defer cancel()
	var ids []string
	seen := map[string]bool{}
	for o := range r.core.Client.ListObjects(ctx, r.bucket, minio.ListObjectsOptions{Prefix: dir + "/", Recursive: true}) {
		if o.Err != nil {
			return nil, r.wrap("list", r.Location(project), o.Err)
		}
		id, rest, ok := strings.Cut(strings.TrimPrefix(o.Key, dir+"/"), "/")
		if ok && id != "" && rest != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Mkdir writes the backup's marker with If-None-Match: *, so of two writers of one ID only
// one succeeds, on every server that honours conditional writes (AWS since 2024, MinIO,
// SeaweedFS, R2). A server that ignores the header would let both through in the instant
// between the check for existing files (made first) and the write; every writer holds the
// project's lock (Lock) while it makes a backup, which is what keeps them apart there.
func (r *Repo) Mkdir(project, id string) error {
	dir, err := r.checked(project, id)
	if err != nil {
		return err
	}
	ctx, cancel := opCtx()
	defer cancel()
	for o := range r.core.Client.ListObjects(ctx, r.bucket, minio.ListObjectsOptions{Prefix: dir + "/", Recursive: true, MaxKeys: 1}) {
		if o.Err != nil {
			return r.wrap("list", r.Location(project, id), o.Err)
		}
		cancel()
		return fmt.Errorf("remote backup %s: %w", r.Location(project, id), fs.ErrExist)
	}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", DisableContentSha256: true}
	opts.SetMatchETagExcept("*")
	_, err = r.core.PutObject(ctx, r.bucket, dir+"/"+markerName, strings.NewReader(""), 0, "", "", opts)
	return r.wrap("make backup", r.Location(project, id), err)
}

// Stat returns a committed file's size.
func (r *Repo) Stat(project, id, name string) (int64, error) {
	key, err := r.checked(project, id, name)
	if err != nil {
		return 0, err
	}
	ctx, cancel := opCtx()
	defer cancel()
	info, err := r.core.StatObject(ctx, r.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return 0, r.wrap("stat", r.Location(project, id, name), err)
	}
	return info.Size, nil
}

// Open reads a committed file; a read that fails half way is taken up again where it
// stopped (a ranged GET of the same version, by its ETag), a few times.
func (r *Repo) Open(project, id, name string) (io.ReadCloser, error) {
	key, err := r.checked(project, id, name)
	if err != nil {
		return nil, err
	}
	rr := &resumingReader{r: r, key: key, where: r.Location(project, id, name)}
	if err := rr.open(); err != nil {
		return nil, err
	}
	return rr, nil
}

// Create starts a streamed upload (multipart past the first part) of a file of an existing backup.
func (r *Repo) Create(project, id, name string) (backup.Upload, error) {
	key, err := r.checked(project, id, name)
	if err != nil {
		return nil, err
	}
	return &upload{r: r, key: key, where: r.Location(project, id, name)}, nil
}

// Delete removes every object under PREFIX/PROJECT/ID/ and aborts the multipart uploads
// still open there.
func (r *Repo) Delete(project, id string) error {
	dir, err := r.checked(project, id)
	if err != nil {
		return err
	}
	ctx, cancel := opCtx()
	defer cancel()
	objs := make(chan minio.ObjectInfo)
	var listErr error
	go func() {
		defer close(objs)
		for o := range r.core.Client.ListObjects(ctx, r.bucket, minio.ListObjectsOptions{Prefix: dir + "/", Recursive: true}) {
			if o.Err != nil {
				listErr = o.Err
				return
			}
			select {
			case objs <- o:
			case <-ctx.Done():
				return
			}
		}
	}()
	for e := range r.core.RemoveObjects(ctx, r.bucket, objs, minio.RemoveObjectsOptions{}) {
		if e.Err != nil && !isNotFound(e.Err) {
			return r.wrap("delete", r.Location(project, id), e.Err)
		}
	}
	if listErr != nil {
		return r.wrap("list", r.Location(project, id), listErr)
	}
	r.abortUploads(ctx, dir+"/", "")
	return nil
}

// Remove removes one committed file.
func (r *Repo) Remove(project, id, name string) error {
	key, err := r.checked(project, id, name)
	if err != nil {
		return err
	}
	ctx, cancel := opCtx()
	defer cancel()
	err = r.core.RemoveObject(ctx, r.bucket, key, minio.RemoveObjectOptions{})
	if err != nil && !isNotFound(err) {
		return r.wrap("remove", r.Location(project, id, name), err)
	}
	return nil
}

// FreeBytes is -1: a bucket tells no free space.
func (r *Repo) FreeBytes() int64 { return -1 }

// abortUploads aborts the open multipart uploads under prefix, but keep's.
func (r *Repo) abortUploads(ctx context.Context, prefix, keep string) {
	for u := range r.core.ListIncompleteUploads(ctx, r.bucket, prefix, true) {
		if u.Err != nil {
			return
		}
		if u.UploadID != keep {
			_ = r.core.AbortMultipartUpload(ctx, r.bucket, u.Key, u.UploadID)
		}
	}
}
