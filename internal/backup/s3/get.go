package s3

import (
	"context"
	"fmt"
	"io"

	"github.com/minio/minio-go/v7"
)

// resumingReader is Open's reader: a GET whose body, when it fails half way, is asked for
// again from where it stopped (Range, and If-Match on the ETag first seen, so a file
// replaced meanwhile fails rather than mixing two versions), with backoff.
type resumingReader struct {
	r          *Repo
	key, where string
	etag       string
	size, off  int64
	body       io.ReadCloser
	ctx        context.Context
	cancel     context.CancelFunc
}

// open makes the first request, so a missing file fails Open with fs.ErrNotExist.
func (rr *resumingReader) open() error {
	rr.ctx, rr.cancel = context.WithCancel(context.Background())
	body, info, _, err := rr.r.core.GetObject(rr.ctx, rr.r.bucket, rr.key, minio.GetObjectOptions{})
	if err != nil {
		rr.cancel()
		return rr.r.wrap("open", rr.where, err)
	}
	rr.body, rr.etag, rr.size = body, info.ETag, info.Size
	return nil
}

func (rr *resumingReader) Read(p []byte) (int, error) {
	for tries := 0; ; tries++ {
		if rr.body == nil {
			if err := rr.reopen(); err != nil {
				return 0, err
			}
		}
		n, err := rr.body.Read(p)
		rr.off += int64(n)
		if err == nil || n > 0 {
			return n, nil
		}
		if err == io.EOF {
			if rr.off != rr.size {
				err = io.ErrUnexpectedEOF
			} else {
				return 0, io.EOF
			}
		}
		rr.body.Close()
		rr.body = nil
		if tries >= attempts || rr.ctx.Err() != nil {
			return 0, rr.r.wrap("read", rr.where, err)
		}
	}
}

// reopen asks for the rest of the same version, retried with backoff.
func (rr *resumingReader) reopen() error {
	return rr.r.wrap("read", rr.where, retry(rr.ctx, func() error {
		opts := minio.GetObjectOptions{}
		if err := opts.SetMatchETag(rr.etag); err != nil {
			return err
		}
		if err := opts.SetRange(rr.off, 0); err != nil {
			return err
		}
		body, _, _, err := rr.r.core.GetObject(rr.ctx, rr.r.bucket, rr.key, opts)
		if err == nil {
			rr.body = body
		}
		return err
	}))
}

func (rr *resumingReader) Close() error {
	if rr.body != nil {
		rr.body.Close()
		rr.body = nil
	}
	rr.cancel()
	return nil
}

// Get downloads the file name of backup id of project into dst and returns its size:
// ranged GETs of minPart bytes, Workers at a time, each taken up again where it stopped
// when it fails (with backoff), every range of the same version (If-Match on its ETag).
// The bytes are not hashed here: the manifest's SHA-256 of each archive is what a reader
// checks (backup.Store's Verify). progress, when set, gets the bytes of each range done,
// never concurrently.
func (r *Repo) Get(ctx context.Context, project, id, name string, dst io.WriterAt, progress func(n int64)) (int64, error) {
	key, err := r.checked(project, id, name)
	if err != nil {
		return 0, err
	}
	where := r.Location(project, id, name)
	info, err := r.core.StatObject(ctx, r.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return 0, r.wrap("download", where, err)
	}
	if progress == nil {
		progress = func(int64) {}
	}
	n := int((info.Size + minPart - 1) / minPart)
	err = fanOut(ctx, r.Workers, n, func(ctx context.Context, i int, buf []byte) (int64, error) {
		off := int64(i) * minPart
		end := min(off+minPart, info.Size)
		return end - off, r.getRange(ctx, key, info.ETag, off, end, dst, buf)
	}, progress)
	if err != nil {
		return 0, r.wrap("download", where, err)
	}
	return info.Size, nil
}

// getRange copies bytes [off, end) of the version etag of key into dst at off.
func (r *Repo) getRange(ctx context.Context, key, etag string, off, end int64, dst io.WriterAt, buf []byte) error {
	return retry(ctx, func() error {
		if off == end {
			return nil
		}
		opts := minio.GetObjectOptions{}
		if err := opts.SetMatchETag(etag); err != nil {
			return err
		}
		if err := opts.SetRange(off, end-1); err != nil {
			return err
		}
		body, _, _, err := r.core.GetObject(ctx, r.bucket, key, opts)
		if err != nil {
			return err
		}
		defer body.Close()
		n, err := io.CopyBuffer(io.NewOffsetWriter(dst, off), io.LimitReader(body, end-off), buf)
		off += n // the next attempt asks for the rest only
		if err == nil && off != end {
			err = fmt.Errorf("range ended %d bytes early: %w", end-off, io.ErrUnexpectedEOF)
		}
		return err
	})
}
