package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/docker-maim/docker-maim/internal/backup"
)

// lease is the record of PREFIX/PROJECT/.maim-lock.
type lease struct {
	Holder  string    `json:"holder"`
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// Lock takes the project's lease: the object PREFIX/PROJECT/.maim-lock holding the holder's
// record and an expiry, created with If-None-Match: * so of two takers one wins. While held
// it is rewritten every LeaseTTL/3 with a later expiry (If-Match on its ETag, so a lease
// someone took over is never written back). A lease whose expiry has passed (its holder
// died without unlocking, or lost the network for LeaseTTL) is taken over, again by a
// conditional write on the ETag read, so of two takers one wins. unlock stops the
// refreshes and deletes the lease if it is still ours.
//
// How it differs from LocalDir's flock: the kernel ends a flock with its process at once;
// a lease outlives a killed holder until it expires (LeaseTTL, 2 minutes by default), and
// expiry compares the holder's clock with the taker's, so hosts whose clocks differ by
// more than LeaseTTL/2 may see it wrong. A holder cut off from the server for LeaseTTL
// loses the lease without being told (Lock's unlock cannot return an error); a holder that
// finds its lease taken over stops refreshing it. It needs a server that honours
// conditional writes (If-None-Match, If-Match), as AWS, MinIO, SeaweedFS and R2 do.
func (r *Repo) Lock(project, holder string) (unlock func(), err error) {
	dir, err := r.checked(project)
	if err != nil {
		return nil, err
	}
	key := dir + "/" + lockName
	ttl := r.LeaseTTL
	if ttl <= 0 {
		ttl = defaultLeaseTTL
	}
	tok := make([]byte, 16)
	rand.Read(tok)
	l := lease{Holder: holder, Token: hex.EncodeToString(tok)}
	ctx, cancel := opCtx()
	defer cancel()
	etag, err := r.writeLease(ctx, key, &l, ttl, "")
	if isPrecondition(err) {
		etag, err = r.takeOver(ctx, key, project, &l, ttl)
	}
	if err != nil {
		if errors.Is(err, backup.ErrLocked) {
			return nil, err
		}
		return nil, r.wrap("lock", r.Location(project), err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { r.refresh(key, &l, ttl, etag, stop) })
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			wg.Wait()
			ctx, cancel := opCtx()
			defer cancel()
			if cur, _, err := r.readLease(ctx, key); err == nil && cur.Token == l.Token {
				_ = r.core.RemoveObject(ctx, r.bucket, key, minio.RemoveObjectOptions{})
			}
		})
	}, nil
}

// writeLease writes l with an expiry ttl from now: a create (If-None-Match: *) when etag
// is "", else a replacement of that version only (If-Match). It returns the new ETag.
func (r *Repo) writeLease(ctx context.Context, key string, l *lease, ttl time.Duration, etag string) (string, error) {
	l.Expires = time.Now().UTC().Add(ttl)
	b, _ := json.Marshal(l)
	opts := minio.PutObjectOptions{ContentType: "application/json", DisableContentSha256: true}
	if etag == "" {
		opts.SetMatchETagExcept("*")
	} else {
		opts.SetMatchETag(etag)
	}
	info, err := r.core.PutObject(ctx, r.bucket, key, bytes.NewReader(b), int64(len(b)), "", "", opts)
	return info.ETag, err
}

// readLease reads the lease and its ETag.
func (r *Repo) readLease(ctx context.Context, key string) (lease, string, error) {
	body, info, _, err := r.core.GetObject(ctx, r.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return lease{}, "", err
	}
	defer body.Close()
	var l lease
	b, err := io.ReadAll(io.LimitReader(body, 64<<10))
	if err == nil {
		err = json.Unmarshal(b, &l)
	}
	if err != nil {
		l = lease{Holder: "an unreadable lease"} // expiry zero: stale, taken over
	}
	return l, info.ETag, nil
}

// takeOver takes a lease that exists: refused (ErrLocked, naming the holder) while it
// lasts, replaced by ours (If-Match on the version read) once it has expired.
func (r *Repo) takeOver(ctx context.Context, key, project string, l *lease, ttl time.Duration) (string, error) {
	cur, etag, err := r.readLease(ctx, key)
	if isNotFound(err) { // unlocked meanwhile
		return r.writeLease(ctx, key, l, ttl, "")
	}
	if err != nil {
		return "", err
	}
	if time.Now().Before(cur.Expires) {
		return "", r.locked(project, cur)
	}
	newTag, err := r.writeLease(ctx, key, l, ttl, etag)
	if isPrecondition(err) { // another taker won
		if cur, _, err := r.readLease(ctx, key); err == nil {
			return "", r.locked(project, cur)
		}
		return "", r.locked(project, lease{Holder: "another taker"})
	}
	return newTag, err
}

func (r *Repo) locked(project string, cur lease) error {
	return fmt.Errorf("%w: remote %s of project %q is in use by another docker-maim command (%s, its lease until %s)",
		backup.ErrLocked, r.Location(project), project, cur.Holder, cur.Expires.Format(time.RFC3339))
}

// refresh rewrites the lease every ttl/3 until stop; it gives up when the lease is no
// longer ours (a precondition failed: someone took it over). A failed request is tried
// again at the next tick.
func (r *Repo) refresh(key string, l *lease, ttl time.Duration, etag string, stop <-chan struct{}) {
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), ttl/3)
		tag, err := r.writeLease(ctx, key, l, ttl, etag)
		cancel()
		switch {
		case err == nil:
			etag = tag
		case isPrecondition(err):
			return
		}
	}
}
