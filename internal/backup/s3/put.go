package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/minio/minio-go/v7"
)

// Put uploads size bytes of src as the file name of backup id of project: a multipart
// upload of parts of partSize(size) (8 MiB under 256 MiB, else 16 MiB or more), Workers at a time, each request retried with backoff.
// Memory stays the same for any size: each worker reads its part twice from src (once to
// hash it, once to send it) through one 1 MiB buffer, and no part is ever held whole.
//
// It is resumable: a Put that did not end (the process killed, ctx cancelled, the network
// gone) leaves its multipart upload open on the server; the next Put of the same file
// finds it (ListMultipartUploads, ListObjectParts), hashes the local parts, keeps every
// uploaded part whose size and ETag (its MD5) match the local one, uploads only the others
// and completes. Nothing is visible under the name before it completes.
//
// Checked: the server's ETag of every part is its MD5 (sent as Content-MD5 too), its
// SHA-256 is the signed payload hash and is sent as x-amz-checksum-sha256 (compared with
// what the server returns, when it does), the completed object's ETag and composite
// SHA-256 are those of the parts, and its size is size. progress, when set, is called with
// the bytes of each part done (kept or uploaded), never concurrently.
func (r *Repo) Put(ctx context.Context, project, id, name string, src io.ReaderAt, size int64, progress func(n int64)) error {
	key, err := r.checked(project, id, name)
	if err != nil {
		return err
	}
	where := r.Location(project, id, name)
	if progress == nil {
		progress = func(int64) {}
	}
	if size <= partSize(size) {
		return r.wrap("upload", where, r.putSmall(ctx, key, src, size, progress))
	}
	err = r.putMultipart(ctx, key, src, size, progress)
	if isNotFound(err) { // the upload it resumed was aborted meanwhile: once more, afresh
		err = r.putMultipart(ctx, key, src, size, progress)
	}
	if err != nil {
		return r.wrap("upload", where, err)
	}
	info, err := r.core.StatObject(ctx, r.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return r.wrap("upload", where, err)
	}
	if info.Size != size {
		return fmt.Errorf("remote upload %s: the server holds %d bytes, not the %d sent", where, info.Size, size)
	}
	return nil
}

// putSmall sends a file of one part or less in one PUT, checked like a part.
func (r *Repo) putSmall(ctx context.Context, key string, src io.ReaderAt, size int64, progress func(int64)) error {
	s, err := sumOf(src, 0, size, make([]byte, min(hashBuf, max(size, 1))))
	if err != nil {
		return err
	}
	err = retry(ctx, func() error {
		opts := minio.PutObjectOptions{ContentType: "application/octet-stream", DisableContentSha256: true}
		info, err := r.core.PutObject(ctx, r.bucket, key, io.NewSectionReader(src, 0, size), size, s.md5b64(), fmt.Sprintf("%x", s.sha), opts)
		if err != nil {
			return err
		}
		if got := unquote(info.ETag); got != s.etag() {
			return fmt.Errorf("the server's ETag %s is not the file's MD5 %s", got, s.etag())
		}
		return nil
	})
	if err == nil {
		progress(size)
	}
	return err
}

// putMultipart resumes the open upload of key, or starts one, and completes it.
func (r *Repo) putMultipart(ctx context.Context, key string, src io.ReaderAt, size int64, progress func(int64)) error {
	ps := partSize(size)
	n := int((size + ps - 1) / ps)
	uploadID, have, err := r.openUpload(ctx, key)
	if err != nil {
		return err
	}
	if uploadID == "" {
		if uploadID, err = r.newUpload(ctx, key); err != nil {
			return err
		}
	}
	parts := make([]minio.CompletePart, n)
	digests := make([]sums, n)
	err = fanOut(ctx, r.Workers, n, func(ctx context.Context, i int, buf []byte) (int64, error) {
		off := int64(i) * ps
		sz := min(ps, size-off)
		s, err := sumOf(src, off, sz, buf)
		if err != nil {
			return 0, err
		}
		digests[i] = s
		if p, ok := have[i+1]; ok && p.Size == sz && unquote(p.ETag) == s.etag() &&
			(p.ChecksumSHA256 == "" || p.ChecksumSHA256 == s.sha256b64()) {
			// Its SHA-256 is ours (its MD5 is), whether the server lists it or not (SeaweedFS does not).
			parts[i] = minio.CompletePart{PartNumber: i + 1, ETag: p.ETag}
			if !r.noChecksumHeader {
				parts[i].ChecksumSHA256 = s.sha256b64()
			}
		} else if parts[i], err = r.putPart(ctx, key, uploadID, i+1, src, off, sz, s); err != nil {
			return 0, err
		}
		return sz, nil
	}, progress)
	if err != nil {
		return err // the upload stays open: the next Put resumes it
	}
	return r.complete(ctx, key, uploadID, parts, digests)
}

// complete assembles the parts, checks the server's view of the whole, and aborts other
// uploads of the same key (older interrupted attempts) that would only cost space.
func (r *Repo) complete(ctx context.Context, key, uploadID string, parts []minio.CompletePart, digests []sums) error {
	var info minio.UploadInfo
	err := retry(ctx, func() error {
		var err error
		info, err = r.core.CompleteMultipartUpload(ctx, r.bucket, key, uploadID, parts, minio.PutObjectOptions{})
		return err
	})
	if err != nil {
		return err
	}
	if err := checkComplete(info, digests); err != nil {
		return err
	}
	r.abortUploads(ctx, key, uploadID)
	return nil
}

// newUpload starts a multipart upload, with SHA-256 part checksums when the server takes them.
func (r *Repo) newUpload(ctx context.Context, key string) (string, error) {
	var id string
	err := retry(ctx, func() error {
		opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
		if !r.noChecksumHeader {
			opts.UserMetadata = map[string]string{"x-amz-checksum-algorithm": "SHA256"}
		}
		var err error
		id, err = r.core.NewMultipartUpload(ctx, r.bucket, key, opts)
		return err
	})
	return id, err
}

// openUpload finds the newest open multipart upload of exactly key, and its parts by number.
func (r *Repo) openUpload(ctx context.Context, key string) (string, map[int]minio.ObjectPart, error) {
	var ups []minio.ObjectMultipartInfo
	for u := range r.core.ListIncompleteUploads(ctx, r.bucket, key, true) {
		if u.Err != nil {
			return "", nil, u.Err
		}
		if u.Key == key {
			ups = append(ups, u)
		}
	}
	if len(ups) == 0 {
		return "", nil, nil
	}
	newest := slices.MaxFunc(ups, func(a, b minio.ObjectMultipartInfo) int { return a.Initiated.Compare(b.Initiated) })
	have := map[int]minio.ObjectPart{}
	marker := 0
	for {
		res, err := r.core.ListObjectParts(ctx, r.bucket, key, newest.UploadID, marker, 1000)
		if isNotFound(err) {
			return "", nil, nil // gone since it was listed
		}
		if err != nil {
			return "", nil, err
		}
		for _, p := range res.ObjectParts {
			have[p.PartNumber] = p
		}
		if !res.IsTruncated || res.NextPartNumberMarker <= marker {
			break
		}
		marker = res.NextPartNumberMarker
	}
	return newest.UploadID, have, nil
}

// errClosed is the error of an Upload used after Commit or Abort.
var errClosed = errors.New("upload already ended")
