package s3

import (
	"bytes"
	"context"
	"fmt"

	"github.com/minio/minio-go/v7"
)

// upload is Create's Upload: writes gather in one part-sized buffer (minPart); each full
// one is sent as a part of a multipart upload started at the first, and Commit sends the
// rest and completes it (a file of one part or less is one PUT at Commit). Nothing is
// visible under the name before Commit; Abort aborts the multipart upload.
type upload struct {
	r          *Repo
	key, where string
	buf        []byte
	uploadID   string
	parts      []minio.CompletePart
	digests    []sums
	done       bool
	err        error
}

func (u *upload) Write(p []byte) (int, error) {
	if u.done {
		return 0, errClosed
	}
	if u.err != nil {
		return 0, u.err
	}
	n := len(p)
	for len(p) > 0 {
		if u.buf == nil {
			u.buf = make([]byte, 0, min(minPart, max(len(p), 64<<10)))
		}
		take := min(len(p), minPart-len(u.buf))
		u.buf = append(u.buf, p[:take]...)
		p = p[take:]
		if len(u.buf) == minPart {
			if u.err = u.flush(); u.err != nil {
				return n - len(p), u.err
			}
		}
	}
	return n, nil
}

// flush sends the buffer as the next part.
func (u *upload) flush() error {
	ctx, cancel := opCtx()
	defer cancel()
	if u.uploadID == "" {
		id, err := u.r.newUpload(ctx, u.key)
		if err != nil {
			return u.r.wrap("upload", u.where, err)
		}
		u.uploadID = id
	}
	src := bytes.NewReader(u.buf)
	s, err := sumOf(src, 0, int64(len(u.buf)), make([]byte, 32<<10))
	if err != nil {
		return err
	}
	p, err := u.r.putPart(ctx, u.key, u.uploadID, len(u.parts)+1, src, 0, int64(len(u.buf)), s)
	if err != nil {
		return u.r.wrap("upload", u.where, err)
	}
	u.parts = append(u.parts, p)
	u.digests = append(u.digests, s)
	u.buf = u.buf[:0]
	return nil
}

// LocalPath is false: the file is written into the bucket, not on this host.
func (u *upload) LocalPath() (string, bool) { return "", false }

func (u *upload) Commit() error {
	if u.done {
		return errClosed
	}
	if u.err != nil {
		u.Abort()
		return u.err
	}
	u.done = true
	ctx, cancel := opCtx()
	defer cancel()
	if u.uploadID == "" {
		src := bytes.NewReader(u.buf)
		err := u.r.putSmall(ctx, u.key, src, int64(len(u.buf)), func(int64) {})
		u.buf = nil
		return u.r.wrap("upload", u.where, err)
	}
	if len(u.buf) > 0 {
		if err := u.flush(); err != nil {
			u.abort(ctx)
			return err
		}
	}
	u.buf = nil
	if err := u.r.complete(ctx, u.key, u.uploadID, u.parts, u.digests); err != nil {
		u.abort(ctx)
		return u.r.wrap("upload", u.where, fmt.Errorf("complete: %w", err))
	}
	return nil
}

func (u *upload) Abort() {
	if u.done {
		return
	}
	u.done = true
	u.buf = nil
	ctx, cancel := opCtx()
	defer cancel()
	u.abort(ctx)
}

func (u *upload) abort(ctx context.Context) {
	if u.uploadID != "" {
		_ = u.r.core.AbortMultipartUpload(ctx, u.r.bucket, u.key, u.uploadID)
	}
}
