package s3

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// attempts is how many times retry runs a request (and a Read takes its stream up again)
// before it gives up.
const attempts = 8

// Backoff between attempts: the first wait is about firstWait, each next one twice the
// last, at most maxWait; every wait is drawn from [w/2, 3w/2) so workers that failed
// together do not come back together.
const (
	firstWait = 200 * time.Millisecond
	maxWait   = 10 * time.Second
)

// pause waits d or until ctx ends (then ctx's error). Tests replace it to record the waits.
var pause = func(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retry runs f until it succeeds, fails for good (permanent: a refused credential, a
// missing bucket or upload, a failed precondition), ctx ends, or attempts are spent; it
// returns f's last error (joined with ctx's when ctx ended during a wait). It is every
// request's retry in this package: Get's ranges and Open's reopened stream (get.go),
// Put's parts, uploads and completion (put.go, part.go).
func retry(ctx context.Context, f func() error) error {
	var err error
	wait := firstWait
	for i := 0; i < attempts; i++ {
		if err = f(); err == nil || permanent(err) || ctx.Err() != nil {
			return err
		}
		if perr := pause(ctx, wait/2+rand.N(wait)); perr != nil {
			return errors.Join(perr, err)
		}
		wait = min(wait*2, maxWait)
	}
	return err
}

// permanent: errors another attempt cannot mend.
func permanent(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	c, s := code(err)
	switch c {
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "NoSuchBucket", "NoSuchUpload",
		"NoSuchKey", "InvalidBucketName", "PreconditionFailed", "EntityTooLarge", "InvalidPart", "ExpiredToken",
		"InvalidRequest", "InvalidArgument", "MalformedXML", "InvalidPartOrder":
		return true
	}
	return s == http.StatusForbidden || s == http.StatusPreconditionFailed
}

// fanOut runs job(ctx, i, buf) for i in [0, n) on workers goroutines (at least one), each
// with its own hashBuf-sized buffer, handing out i in order. The first error cancels ctx
// for the others, no new job starts, and that error is returned (or ctx's own cause when
// the caller's ctx ended). progress gets the bytes each job reports done, never
// concurrently. Get's ranges and Put's parts both run on it.
func fanOut(ctx context.Context, workers, n int, job func(ctx context.Context, i int, buf []byte) (int64, error), progress func(int64)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < max(1, workers); w++ {
		wg.Go(func() {
			buf := make([]byte, hashBuf)
			for i := range jobs {
				done, err := job(ctx, i, buf)
				if err != nil {
					cancel(err)
					continue
				}
				mu.Lock()
				progress(done)
				mu.Unlock()
			}
		})
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	return context.Cause(ctx)
}
