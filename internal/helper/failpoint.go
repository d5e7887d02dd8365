package helper

import (
	"context"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// FailpointEnv names the helper's one test failpoint. docker-maim passes it from its own
// environment into the stages of a two-pass restore (diffstage) or, when no stage ran
// before, into the first restore or differential restore helper of the process
// (internal/volume), never into a helper after a restore's, and it is unset in every
// normal run. "restore:hold" holds such a helper once a restore has read the first MiB of
// its archive (a differential restore or a stage: once it has written the first MiB,
// holdWrites; a stage with less to write is never held), until the run is cancelled (its
// lifeline ended: the caller was killed or cut off) or holdLimit passed, then lets it go
// on, where the next safe point sees the cancellation. It makes "the caller went away
// while the helper was restoring (or staging)" certain instead of a race between a test's
// signal and a fast disk.
const FailpointEnv = "MAIM_HELPER_FAILPOINT"

// FailpointHoldRestore is the value of FailpointEnv that holds a restore or a stage (see
// FailpointEnv).
const FailpointHoldRestore = "restore:hold"

// holdAfter and holdLimit bound the hold: after the first MiB of the archive, for at most two
// minutes (a failpoint set by mistake delays a restore, it never hangs one).
const (
	holdAfter = 1 << 20
	holdLimit = 2 * time.Minute
)

// holdReader reads r and, once after holdAfter bytes, waits for ctx's end or holdLimit.
type holdReader struct {
	ctx  context.Context
	r    io.Reader
	n    int64
	held bool
}

func (h *holdReader) Read(p []byte) (int, error) {
	if !h.held && h.n >= holdAfter {
		h.held = true
		t := time.NewTimer(holdLimit)
		select {
		case <-h.ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	n, err := h.r.Read(p)
	h.n += int64(n)
	return n, err
}

// withFailpoint wraps a restore's archive reader in the hold of FailpointEnv when it is set.
func (inv *invocation) withFailpoint(ctx context.Context, in io.Reader) io.Reader {
	if inv.cmd != "restore" || os.Getenv(FailpointEnv) != FailpointHoldRestore {
		return in
	}
	return &holdReader{ctx: ctx, r: in}
}

// holdWrites wraps the progress of a differential restore, or of a stage (diffstage, its
// pass one), in the hold of FailpointEnv when it is set: both read their archives at
// random, so they are held once they have written holdAfter bytes, in the progress call of
// their writer.
func (inv *invocation) holdWrites(ctx context.Context, add func(int64)) func(int64) {
	if (inv.cmd != "diffrestore" && inv.cmd != "diffstage") || os.Getenv(FailpointEnv) != FailpointHoldRestore {
		return add
	}
	var n atomic.Int64
	var once sync.Once
	return func(k int64) {
		add(k)
		if n.Add(k) >= holdAfter {
			once.Do(func() {
				t := time.NewTimer(holdLimit)
				defer t.Stop()
				select {
				case <-ctx.Done():
				case <-t.C:
				}
			})
		}
	}
}
