package s3

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
)

// Part sizes: smallPart for files under smallFile (so even a 30 MiB archive keeps four
// workers busy), else minPart (fewer, larger requests), grown so a file never needs more
// than maxParts (S3 allows 10,000), in whole MiB.
const (
	smallPart = 8 << 20
	smallFile = 256 << 20
	minPart   = 16 << 20
	maxParts  = 9_000
	hashBuf   = 1 << 20
)

// partSize is the part size Put uses for a file of size bytes: a function of the size
// alone, so a resumed Put cuts the file where the interrupted one did.
func partSize(size int64) int64 {
	if size < smallFile {
		return smallPart
	}
	ps := int64(minPart)
	if need := (size + maxParts - 1) / maxParts; need > ps {
		ps = (need + 1<<20 - 1) &^ (1<<20 - 1)
	}
	return ps
}

// sums are a part's digests: MD5 (its ETag, and Content-MD5 the server checks) and SHA-256
// (the signed payload hash and the x-amz-checksum-sha256 the server checks).
type sums struct {
	md5 [md5.Size]byte
	sha [sha256.Size]byte
}

func (s sums) etag() string      { return hex.EncodeToString(s.md5[:]) }
func (s sums) md5b64() string    { return base64.StdEncoding.EncodeToString(s.md5[:]) }
func (s sums) sha256b64() string { return base64.StdEncoding.EncodeToString(s.sha[:]) }

// sumOf hashes the size bytes of src from off, through buf.
func sumOf(src io.ReaderAt, off, size int64, buf []byte) (sums, error) {
	m, h := md5.New(), sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(m, h), io.NewSectionReader(src, off, size), buf)
	if err == nil && n != size {
		err = fmt.Errorf("read %d bytes of %d at %d: %w", n, size, off, io.ErrUnexpectedEOF)
	}
	var s sums
	m.Sum(s.md5[:0])
	h.Sum(s.sha[:0])
	return s, err
}

// unquote strips the quotes an ETag comes in.
func unquote(etag string) string { return strings.Trim(etag, `"`) }

// putPart uploads part n (size bytes of src from off, whose digests are s) of an upload,
// retried with backoff, and checks what the server says it received: the part's ETag is
// its MD5, and its SHA-256 checksum (when the server returns one) is ours.
func (r *Repo) putPart(ctx context.Context, key, uploadID string, n int, src io.ReaderAt, off, size int64, s sums) (minio.CompletePart, error) {
	var out minio.CompletePart
	err := retry(ctx, func() error {
		hdr := http.Header{}
		if !r.noChecksumHeader {
			hdr.Set("x-amz-checksum-sha256", s.sha256b64())
		}
		p, err := r.core.PutObjectPart(ctx, r.bucket, key, uploadID, n, io.NewSectionReader(src, off, size), size,
			minio.PutObjectPartOptions{Md5Base64: s.md5b64(), Sha256Hex: hex.EncodeToString(s.sha[:]), DisableContentSha256: true, CustomHeader: hdr})
		if err != nil {
			return err
		}
		if got := unquote(p.ETag); got != s.etag() {
			return fmt.Errorf("part %d: the server's ETag %s is not the part's MD5 %s", n, got, s.etag())
		}
		if p.ChecksumSHA256 != "" && p.ChecksumSHA256 != s.sha256b64() {
			return fmt.Errorf("part %d: the server's SHA-256 %s is not the part's %s", n, p.ChecksumSHA256, s.sha256b64())
		}
		out = minio.CompletePart{PartNumber: n, ETag: p.ETag}
		if !r.noChecksumHeader {
			out.ChecksumSHA256 = s.sha256b64()
		}
		return nil
	})
	return out, err
}

// compositeETag is the ETag S3 gives a multipart object: the MD5 of its parts' MD5s, "-N".
func compositeETag(parts []sums) string {
	h := md5.New()
	for _, p := range parts {
		h.Write(p.md5[:])
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts))
}

// compositeSHA256 is S3's composite SHA-256 checksum of a multipart object: the SHA-256 of
// its parts' SHA-256s, base64, "-N".
func compositeSHA256(parts []sums) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p.sha[:])
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts))
}

// checkComplete compares what the server says of the object it assembled with the parts:
// its ETag, when in S3's multipart form, and its SHA-256 checksum, when it returns one.
func checkComplete(info minio.UploadInfo, parts []sums) error {
	if et := unquote(info.ETag); strings.Contains(et, "-") && et != compositeETag(parts) {
		return fmt.Errorf("the server's ETag %s is not the parts' %s", et, compositeETag(parts))
	}
	if c := info.ChecksumSHA256; c != "" && strings.Contains(c, "-") && c != compositeSHA256(parts) {
		return fmt.Errorf("the server's SHA-256 %s is not the parts' %s", c, compositeSHA256(parts))
	}
	return nil
}
