package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// fakePinger answers pings from a script: down for the first `down` pings, then up.
type fakePinger struct{ pings, down int }

func (f *fakePinger) Ping(context.Context, client.PingOptions) (client.PingResult, error) {
	f.pings++
	if f.pings <= f.down {
		return client.PingResult{}, errors.New("Cannot connect to the Docker daemon at unix:///var/run/docker.sock")
	}
	return client.PingResult{}, nil
}

func TestEngineTrouble(t *testing.T) {
	ctx := context.Background()
	up := &fakePinger{}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{fmt.Errorf("restoring botdata: %w", cerrdefs.ErrInternal.WithMessage("database not open")), true},
		{fmt.Errorf("starting bot: %w", syscall.ECONNRESET), true},
		{fmt.Errorf("archive 01-vol-botdata.tar.zst: %w", io.ErrUnexpectedEOF), false},
		{errors.New("Error response from daemon: dial unix /var/run/docker.sock: connect: connection refused"), true},
		{errors.New("backup 20261126T005226Z of the interrupted operation is corrupt"), false},
		{fmt.Errorf("volume: %w", cerrdefs.ErrNotFound), false},
	} {
		if got := engineTrouble(ctx, up, c.err); got != c.want {
			t.Errorf("engineTrouble(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	// An error of no known kind counts when the engine does not answer right now.
	if !engineTrouble(ctx, &fakePinger{down: 1}, errors.New("health gate: something odd")) {
		t.Error("an unclassified error while the engine is down is not engine trouble")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if engineTrouble(cctx, &fakePinger{down: 1}, cerrdefs.ErrInternal) {
		t.Error("a cancelled command is retried")
	}
}

type fakeEngine struct {
	Engine
	*fakePinger
}

func (f fakeEngine) Ping(ctx context.Context, o client.PingOptions) (client.PingResult, error) {
	return f.fakePinger.Ping(ctx, o)
}

func TestRetryOnEngineTrouble(t *testing.T) {
	defer func(s, p time.Duration) { engineSettle, enginePoll = s, p }(engineSettle, enginePoll)
	engineSettle, enginePoll = time.Millisecond, time.Millisecond
	ctx := context.Background()

	// Two failures while the engine restarts, then success: three tries, waiting in between.
	pinger := &fakePinger{down: 3}
	m := &Env{Engine: fakeEngine{fakePinger: pinger}}
	calls := 0
	err := m.RetryOnEngineTrouble(ctx, "the rollback", func() error {
		calls++
		if calls < 3 {
			return fmt.Errorf("starting bot: %w", cerrdefs.ErrInternal)
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("got %v after %d calls, want success after 3", err, calls)
	}

	// A failure that is not the engine's: one try.
	m = &Env{Engine: fakeEngine{fakePinger: &fakePinger{}}}
	calls = 0
	cause := errors.New("backup is corrupt")
	if err := m.RetryOnEngineTrouble(ctx, "the rollback", func() error { calls++; return cause }); err != cause || calls != 1 {
		t.Errorf("got %v after %d calls, want the cause after 1", err, calls)
	}

	// The engine keeps failing: bounded by rollbackAttempts.
	m = &Env{Engine: fakeEngine{fakePinger: &fakePinger{}}}
	calls = 0
	if err := m.RetryOnEngineTrouble(ctx, "the rollback", func() error { calls++; return cerrdefs.ErrUnavailable }); err == nil || calls != rollbackAttempts {
		t.Errorf("got %v after %d calls, want a failure after %d", err, calls, rollbackAttempts)
	}

	// The engine never answers again: give up after the wait.
	defer func(w time.Duration) { engineWaitMax = w }(engineWaitMax)
	engineWaitMax = 20 * time.Millisecond
	m = &Env{Engine: fakeEngine{fakePinger: &fakePinger{down: 1 << 30}}}
	calls = 0
	if err := m.RetryOnEngineTrouble(ctx, "the rollback", func() error { calls++; return cerrdefs.ErrInternal }); err == nil || calls != 1 {
		t.Errorf("got %v after %d calls, want a failure after 1 (engine never back)", err, calls)
	}
}
