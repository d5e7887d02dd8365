package stack

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// An engine can go away for a while in the middle of an upgrade: `systemctl restart docker`,
// a Docker Desktop update or restart. While it shuts down it stops the containers (the health
// gate then fails) and answers with internal errors, then it refuses connections, then it is
// back. An automatic rollback that fails in that window is tried again once the engine
// answers, instead of leaving the user with a half-done rollback to finish by hand.
var (
	// rollbackAttempts bounds the automatic rollback tries.
	rollbackAttempts = 5
	// engineWaitMax bounds each wait for the engine to answer again.
	engineWaitMax = 2 * time.Minute
	// engineSettle is the pause after the engine answers again, before the next try: a
	// restarting engine answers before it has brought back the containers with a
	// restart policy.
	engineSettle = 3 * time.Second
	enginePoll   = 500 * time.Millisecond
)

// Pinger is the engine call used to see whether the engine answers.
type Pinger interface {
	Ping(ctx context.Context, options client.PingOptions) (client.PingResult, error)
}

// engineTrouble says whether err looks like the engine went away or is shutting down
// (rather than something wrong with the project or the backup): a failed connection, an
// internal server error, a connection reset, or an engine that does not answer a ping
// right now.
func engineTrouble(ctx context.Context, eng Pinger, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	// Not io.EOF / io.ErrUnexpectedEOF: a damaged archive reports those too, and retrying
	// it would only verify a large backup again and again.
	if client.IsErrConnectionFailed(err) || cerrdefs.IsInternal(err) || cerrdefs.IsUnavailable(err) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	// The compose SDK and the helper flatten some errors into text.
	msg := err.Error()
	for _, s := range []string{"Cannot connect to the Docker daemon", "connection refused", "connection reset", "broken pipe"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return ping(ctx, eng) != nil
}

// ping asks the engine whether it answers, within 5 s.
func ping(ctx context.Context, eng Pinger) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := eng.Ping(pctx, client.PingOptions{})
	return err
}

// waitEngine waits until the engine answers a ping, then engineSettle more. It returns the
// last ping error when the engine does not answer within engineWaitMax.
func waitEngine(ctx context.Context, eng Pinger) error {
	deadline := time.Now().Add(engineWaitMax)
	for {
		err := ping(ctx, eng)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(enginePoll)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(engineSettle):
	}
	return nil
}

// RetryOnEngineTrouble runs fn, and runs it again (up to rollbackAttempts in all) while it
// fails in a way engineTrouble recognises, each time once the engine answers again. fn must
// be safe to repeat (a rollback is: it resolves the journal from wherever it stopped).
func (m *Env) RetryOnEngineTrouble(ctx context.Context, what string, fn func() error) error {
	err := fn()
	for attempt := 2; attempt <= rollbackAttempts && engineTrouble(ctx, m.Engine, err); attempt++ {
		m.Logf("%s failed while the engine was unavailable (%v); waiting for the engine", what, err)
		if werr := waitEngine(ctx, m.Engine); werr != nil {
			m.Logf("the engine did not come back within %s: %v", engineWaitMax, werr)
			return err
		}
		m.Logf("the engine answers again: %s, attempt %d of %d", what, attempt, rollbackAttempts)
		err = fn()
	}
	return err
}
