package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// recordPauses replaces pause for the test: each wait is recorded and returns at once
// (or with ctx's error, as the real one does when ctx has ended).
func recordPauses(t *testing.T) *[]time.Duration {
	var waits []time.Duration
	old := pause
	pause = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	t.Cleanup(func() { pause = old })
	return &waits
}

var errFlaky = errors.New("connection reset by peer")

// TestRetryAttemptsAndBackoff: a request that always fails transiently runs attempts
// times, with waits that grow from about firstWait, double, stay under maxWait's 3/2 and
// each fall in [w/2, 3w/2); the error returned is the last attempt's.
func TestRetryAttemptsAndBackoff(t *testing.T) {
	waits := recordPauses(t)
	calls := 0
	err := retry(context.Background(), func() error {
		calls++
		return fmt.Errorf("attempt %d: %w", calls, errFlaky)
	})
	if calls != attempts {
		t.Fatalf("%d calls, want %d", calls, attempts)
	}
	if !errors.Is(err, errFlaky) || err.Error() != fmt.Sprintf("attempt %d: %v", attempts, errFlaky) {
		t.Fatalf("err %v, want the last attempt's", err)
	}
	if len(*waits) != attempts {
		t.Fatalf("%d waits, want %d (one after each failed attempt)", len(*waits), attempts)
	}
	w := firstWait
	for i, d := range *waits {
		if d < w/2 || d >= w/2+w {
			t.Errorf("wait %d is %v, want in [%v, %v)", i, d, w/2, w/2+w)
		}
		w = min(w*2, maxWait)
	}
}

// TestRetryStopsOnSuccess: the first success ends the loop.
func TestRetryStopsOnSuccess(t *testing.T) {
	waits := recordPauses(t)
	calls := 0
	err := retry(context.Background(), func() error {
		if calls++; calls < 3 {
			return errFlaky
		}
		return nil
	})
	if err != nil || calls != 3 || len(*waits) != 2 {
		t.Fatalf("err %v, %d calls, %d waits; want nil, 3, 2", err, calls, len(*waits))
	}
}

// TestRetryStopsOnPermanent: an error another attempt cannot mend (by S3 code or HTTP
// status, or ctx's own) is returned after one attempt, without a wait.
func TestRetryStopsOnPermanent(t *testing.T) {
	for _, perm := range []error{
		minio.ErrorResponse{Code: "AccessDenied", StatusCode: http.StatusForbidden},
		minio.ErrorResponse{Code: "NoSuchUpload", StatusCode: http.StatusNotFound},
		minio.ErrorResponse{Code: "Whatever", StatusCode: http.StatusPreconditionFailed},
		fmt.Errorf("get: %w", context.DeadlineExceeded),
	} {
		waits := recordPauses(t)
		calls := 0
		err := retry(context.Background(), func() error { calls++; return perm })
		if calls != 1 || len(*waits) != 0 || err != perm {
			t.Errorf("%v: %d calls, %d waits, err %v; want 1 call, no wait, the error", perm, calls, len(*waits), err)
		}
	}
	// A server error is not permanent: it is tried again.
	waits := recordPauses(t)
	calls := 0
	_ = retry(context.Background(), func() error {
		calls++
		return minio.ErrorResponse{Code: "InternalError", StatusCode: http.StatusInternalServerError}
	})
	if calls != attempts || len(*waits) != attempts {
		t.Fatalf("a 500: %d calls, %d waits; want %d each", calls, len(*waits), attempts)
	}
}

// TestRetryStopsOnCancel: with the real wait, a ctx cancelled while an attempt runs ends
// the loop at once (no further attempt), and one cancelled during a wait ends the wait
// early with ctx's error joined to the attempt's.
func TestRetryStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := retry(ctx, func() error { calls++; cancel(); return errFlaky })
	if calls != 1 || err != errFlaky {
		t.Fatalf("cancelled during the attempt: %d calls, err %v; want 1, the attempt's", calls, err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	calls = 0
	start := time.Now()
	time.AfterFunc(50*time.Millisecond, cancel) // during the first wait (at least 100 ms)
	err = retry(ctx, func() error { calls++; return errFlaky })
	if calls != 1 || !errors.Is(err, context.Canceled) || !errors.Is(err, errFlaky) {
		t.Fatalf("cancelled during the wait: %d calls, err %v; want 1, canceled joined with the attempt's", calls, err)
	}
	if d := time.Since(start); d >= maxWait {
		t.Fatalf("the wait went on for %v after the cancel", d)
	}
}

// TestFanOut: every job runs once and its bytes reach progress; the first error stops new
// jobs, reaches the others through ctx and is returned.
func TestFanOut(t *testing.T) {
	var ran [50]atomic.Int32
	var total int64
	err := fanOut(context.Background(), 4, len(ran), func(ctx context.Context, i int, buf []byte) (int64, error) {
		if len(buf) != hashBuf {
			return 0, fmt.Errorf("buffer of %d bytes", len(buf))
		}
		ran[i].Add(1)
		return int64(i), nil
	}, func(n int64) { total += n })
	if err != nil {
		t.Fatal(err)
	}
	for i := range ran {
		if ran[i].Load() != 1 {
			t.Fatalf("job %d ran %d times", i, ran[i].Load())
		}
	}
	if want := int64(49 * 50 / 2); total != want {
		t.Fatalf("progress %d, want %d", total, want)
	}

	boom := errors.New("boom")
	var started atomic.Int32
	err = fanOut(context.Background(), 2, 1000, func(ctx context.Context, i int, buf []byte) (int64, error) {
		started.Add(1)
		if i == 3 {
			return 0, boom
		}
		<-time.After(time.Millisecond)
		return 1, ctx.Err()
	}, func(int64) {})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	if n := started.Load(); n > 10 {
		t.Fatalf("%d jobs started after the failure of job 3", n)
	}
}
