package volume

// One run of a helper container: its configuration, its streams (stdin with the go-ahead and
// the lifeline, stdout, the JSON lines on stderr), its exit and its removal.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/helper"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// helperRun is one helper container for runHelper to run: its image, command, mounts and
// streams, and what the run promises its caller (go-ahead, lifeline, result).
type helperRun struct {
	labels   map[string]string
	image    string
	args     []string
	mounts   []mount.Mount
	binds    []string
	stdin    io.Reader // nil: no stdin
	stdout   io.Writer // nil: discarded
	progress func(int64)
	direct   bool          // the archive is in the bind-mounted backup dir, not on stdin/stdout
	result   *helperResult // filled in when set
	index    *bytes.Buffer // nil: no index expected; else receives the helper's {"index"} pieces
	// lifeline keeps the helper's stdin open, silent, after what it reads from it (the
	// go-ahead, pass one's index) until the helper exits; the helper (--lifeline) stops
	// with helper.ExitAborted when it ends. The engine closes it when this process's
	// attach connection goes (kill -9, a dropped session, a cancellation), so no helper
	// outlives its caller by more than the step it is in. A streamed restore's archive goes
	// framed (helper.NewFrameWriter) so that stdin stays open after it too.
	lifeline bool
	// framed (a streamed restore with a lifeline) sends stdin framed (helper.NewFrameWriter),
	// so that the end of the archive is not the end of stdin.
	framed bool
	// ready (restores only), when set, gates the helper: it starts with --await-go and
	// touches nothing until the first bytes on its stdin are the go-ahead, sent once ready
	// returns nil. An error closes stdin instead; the helper exits untouched and runHelper
	// returns that error.
	ready func() error
}

// goAhead is what a helper started with --await-go waits for on stdin (helper.GoAhead).
var goAhead = []byte(helper.GoAhead)

// gateReader yields the go-ahead once ready returns nil, or ready's error (kept in err).
type gateReader struct {
	ready func() error
	err   error
	done  bool
}

func (g *gateReader) Read(p []byte) (int, error) {
	if g.done {
		return 0, io.EOF
	}
	g.done = true
	if g.err = g.ready(); g.err != nil {
		return 0, g.err
	}
	return copy(p, goAhead), nil // p is io.Copy's buffer: large enough
}

// helperResult is what a helper reported besides its stats: the compressed stream it wrote
// or read (through the attach stream or into the backup dir).
type helperResult struct {
	stats       archive.Stats
	streamBytes int64
	streamSHA   string
	diff        *helper.DiffReport // diffrestore's result
}

// runHelper creates, attaches, starts and waits for one helper container, removing it in all
// cases. The helper reports progress and its final Stats as JSON lines on stderr. Its steps:
// the container is configured and created, attached (the connection closed when ctx ends),
// waited for and started; then its stdin is sent, its output read, its exit awaited, and
// what it reported checked against what this side sent or received (helperCall.outcome).
func runHelper(ctx context.Context, cli client.APIClient, h helperRun) (st archive.Stats, retErr error) {
	c := &helperCall{h: h}
	if h.ready != nil {
		c.gate = &gateReader{ready: h.ready}
	}
	cfg, hc := c.containerConfig()
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: hc})
	if err != nil {
		if h.direct && !strings.Contains(err.Error(), "No such image") && ctx.Err() == nil {
			// The engine cannot bind-mount the backup dir (it does not exist where the
			// engine runs): nothing was touched, the stream is the way.
			return st, &errNotVisible{notVisibleMsg + " (it cannot mount it: " + err.Error() + ")"}
		}
		return st, fmt.Errorf("creating helper container: %w", err)
	}
	id := created.ID
	defer func() {
		if err := removeContainer(cli, id); err != nil && retErr == nil {
			retErr = err
		}
	}()

	att, err := cli.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdin: cfg.OpenStdin, Stdout: true, Stderr: true})
	if err != nil {
		return st, fmt.Errorf("attaching to helper container: %w", err)
	}
	c.att = att
	var closeOnce sync.Once
	c.closeConn = func() { closeOnce.Do(att.Close) }
	defer c.closeConn()
	stop := context.AfterFunc(ctx, c.closeConn)
	defer stop()

	stopWaiting := c.waitRemoved(ctx, cli, id)
	defer stopWaiting()
	if _, err := cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return st, fmt.Errorf("starting helper container: %w", err)
	}

	c.sum = helper.NewStreamSum()
	c.sendStdin(cfg.OpenStdin)
	c.readOutput()
	c.awaitExit()
	return c.outcome(ctx)
}

// helperCall is one run of a helper container from its configuration to its result: what
// runHelper's steps share.
type helperCall struct {
	h         helperRun
	gate      *gateReader // the go-ahead (h.ready), nil without one
	att       client.ContainerAttachResult
	closeConn func() // closes the attach connection, once
	wait      client.ContainerWaitResult
	sum       *helper.StreamSum // the stream this side sent or received
	stdinDone chan error
	errw      *helperStderr // what the helper reported on stderr
	copyErr   error         // reading the helper's output
	exitCode  int64
	waitErr   error
	inErr     error // sending its stdin
}

// containerConfig is the helper container: h's command with the flags of its go-ahead and
// lifeline, no network, no logs (the archive passes through stdout), removed by the engine
// when it exits.
func (c *helperCall) containerConfig() (*container.Config, *container.HostConfig) {
	h := c.h
	var flags []string
	if c.gate != nil {
		flags = append(flags, "--await-go")
	}
	if h.lifeline {
		flags = append(flags, "--lifeline")
	}
	if len(flags) > 0 {
		last := len(h.args) - 1
		h.args = append(append(append([]string(nil), h.args[:last]...), flags...), h.args[last])
	}
	cfg := &container.Config{
		Image:           h.image,
		Cmd:             h.args,
		User:            "0:0",
		Labels:          h.labels,
		AttachStdout:    true,
		AttachStderr:    true,
		NetworkDisabled: true,
	}
	if h.stdin != nil || c.gate != nil || h.lifeline {
		cfg.AttachStdin, cfg.OpenStdin, cfg.StdinOnce = true, true, true
	}
	if env, ok := helper.FailpointFor(h.args); ok {
		cfg.Env = []string{env}
	}
	hc := &container.HostConfig{
		NetworkMode: "none",
		Mounts:      h.mounts,
		Binds:       h.binds,
		// The archive passes through stdout: a logging driver would store a second copy.
		LogConfig: container.LogConfig{Type: "none"},
		// The engine removes the helper when it exits, also when this process is killed
		// (kill -9, a crash): no stopped helper is left holding the volume.
		AutoRemove: true,
	}
	return cfg, hc
}

// waitRemoved starts waiting for "removed" (registered before the start, as `docker run
// --rm` does): with AutoRemove a not-running container may already be gone when asked
// about. The wait outlives ctx by up to cleanupTimeout: a cancelled helper with a lifeline
// stops on its own at its next safe point once the connection is closed, and is waited for
// rather than killed mid-file. The returned func ends the wait.
func (c *helperCall) waitRemoved(ctx context.Context, cli client.APIClient, id string) func() {
	waitCtx, waitCancel := context.WithCancel(context.WithoutCancel(ctx))
	stopWait := context.AfterFunc(ctx, func() { time.AfterFunc(cleanupTimeout, waitCancel) })
	c.wait = cli.ContainerWait(waitCtx, id, client.ContainerWaitOptions{Condition: container.WaitConditionRemoved})
	return func() {
		stopWait()
		waitCancel()
	}
}

// sendStdin sends the helper's stdin, when it has one, on its own goroutine: the go-ahead
// once ready, then h.stdin (framed for a streamed restore with a lifeline); with a lifeline
// stdin then stays open. Its error arrives on c.stdinDone.
func (c *helperCall) sendStdin(open bool) {
	h, gate, att := c.h, c.gate, c.att
	c.stdinDone = make(chan error, 1)
	if !open {
		c.stdinDone <- nil
		return
	}
	var in io.Reader = bytes.NewReader(nil)
	if h.stdin != nil {
		in = io.TeeReader(h.stdin, c.sum)
		if h.stdout != nil {
			in = h.stdin // a backup's stdin (pass one's index) is not the stream the sum covers
		}
	}
	framed := h.framed
	go func() {
		var err error
		if gate != nil {
			_, err = io.Copy(att.Conn, gate)
		}
		if err == nil && framed {
			fw := helper.NewFrameWriter(att.Conn)
			if _, err = io.Copy(fw, in); err == nil {
				err = fw.Close()
			}
		} else if err == nil {
			_, err = io.Copy(att.Conn, in)
		}
		// With a lifeline, stdin stays open until the connection is closed after the
		// helper exited; an error (no go-ahead) still ends it at once.
		if err != nil || !h.lifeline {
			if cerr := att.CloseWrite(); err == nil {
				err = cerr
			}
		}
		c.stdinDone <- err
	}()
}

// readOutput copies the helper's stdout (the archive of a backup, hashed) to h.stdout and
// parses its stderr, until the connection ends.
func (c *helperCall) readOutput() {
	var stdout io.Writer = io.Discard
	if c.h.stdout != nil {
		stdout = io.MultiWriter(c.h.stdout, c.sum)
	}
	c.errw = &helperStderr{progress: c.h.progress, index: c.h.index}
	_, c.copyErr = stdcopy.StdCopy(stdout, c.errw, c.att.Reader)
	c.errw.flush()
	if c.copyErr != nil {
		// The output side failed (w broken or the connection dropped): stop the helper now.
		c.closeConn()
	}
}

// awaitExit waits for the helper's exit (after a complete output only), closes the
// connection and waits for the stdin sender.
func (c *helperCall) awaitExit() {
	c.exitCode = -1
	if c.copyErr == nil {
		select {
		case res := <-c.wait.Result:
			c.exitCode = res.StatusCode
			if res.Error != nil && res.Error.Message != "" {
				c.waitErr = errors.New(res.Error.Message)
			}
		case err := <-c.wait.Error:
			c.waitErr = err
		}
	}
	c.closeConn()
	c.inErr = <-c.stdinDone
}

// outcome is the result of the run: the first failure in the order a reader would look
// (cancelled, refused go-ahead, output, wait, not visible, the helper's error, stdin, no
// result) or the helper's stats once its stream count and hash match this side's.
func (c *helperCall) outcome(ctx context.Context) (st archive.Stats, err error) {
	h, gate, errw := c.h, c.gate, c.errw
	if ctx.Err() != nil {
		if h.lifeline && c.copyErr != nil && !(gate != nil && gate.err != nil) {
			// Not waited for yet (the connection was closed under the output copy): the
			// closed connection ended its lifeline, let it stop at a safe point.
			select {
			case <-c.wait.Result:
			case <-c.wait.Error:
			}
		}
		return st, ctx.Err()
	}
	if gate != nil && gate.err != nil {
		return st, gate.err // the helper was never given the go-ahead: it touched nothing
	}
	if c.copyErr != nil {
		return st, fmt.Errorf("reading helper output: %w", c.copyErr)
	}
	if c.waitErr != nil {
		return st, fmt.Errorf("waiting for helper: %w", c.waitErr)
	}
	if h.direct && c.exitCode == helper.ExitNotVisible && errw.notVisible {
		return st, &errNotVisible{notVisibleMsg + " (" + errw.errMsg + ")"}
	}
	if c.exitCode != 0 || errw.errMsg != "" {
		msg := errw.errMsg
		if msg == "" {
			msg = strings.TrimSpace(errw.text.String())
		}
		if msg == "" {
			msg = "no message"
		}
		return st, fmt.Errorf("helper exited with code %d: %s", c.exitCode, msg)
	}
	if c.inErr != nil {
		return st, fmt.Errorf("sending archive to helper: %w", c.inErr)
	}
	if !errw.gotStats {
		return st, errors.New("helper did not report its result")
	}
	if h.result != nil {
		*h.result = helperResult{stats: errw.stats, streamBytes: errw.streamBytes, streamSHA: errw.streamSHA, diff: errw.diff}
	}
	if h.direct {
		return errw.stats, nil
	}
	if got := c.sum.Hex(); errw.streamBytes != c.sum.N || errw.streamSHA != got {
		return st, fmt.Errorf("the engine corrupted the stream: helper %s %d bytes (sha256 %.12s), host %s %d bytes (sha256 %.12s)",
			map[bool]string{true: "read", false: "wrote"}[h.stdout == nil], errw.streamBytes, errw.streamSHA,
			map[bool]string{true: "sent", false: "received"}[h.stdout == nil], c.sum.N, got)
	}
	return errw.stats, nil
}

// removeContainer force-removes a helper container and returns once it is gone: one the
// engine has removed already is fine, and one the engine is removing itself (AutoRemove
// answers a conflict: "removal already in progress") is waited for, so no helper outlives
// the call that made it (a caller that lists or removes the volume next finds it free).
func removeContainer(cli client.APIClient, id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	_, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
	switch {
	case err == nil || cerrdefs.IsNotFound(err):
		return nil
	case !cerrdefs.IsConflict(err):
		return fmt.Errorf("removing helper container %.12s: %w", id, err)
	}
	for {
		if _, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); cerrdefs.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("helper container %.12s is still being removed: %w", id, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// lastHelperMaxRSS is the peak RSS (KiB) the last finished helper reported; for benchmarks.
var lastHelperMaxRSS atomic.Int64

// helperStderr parses the helper's stderr: JSON lines are protocol, anything else is kept
// (bounded) for error messages.
type helperStderr struct {
	progress func(int64)
	buf      []byte
	last     int64
	stats    archive.Stats
	gotStats bool
	errMsg   string
	// notVisible: the helper found the backup dir is not the host's (helper.Msg.NotVisible)
	notVisible bool

	streamBytes int64
	streamSHA   string
	text        bytes.Buffer
	index       *bytes.Buffer
	diff        *helper.DiffReport
}

const maxStderrText = 16 << 10

func (h *helperStderr) Write(p []byte) (int, error) {
	h.buf = append(h.buf, p...)
	for {
		i := bytes.IndexByte(h.buf, '\n')
		if i < 0 {
			break
		}
		h.line(h.buf[:i])
		h.buf = h.buf[i+1:]
	}
	if len(h.buf) > maxStderrText {
		h.keepText(h.buf)
		h.buf = h.buf[:0]
	}
	return len(p), nil
}

func (h *helperStderr) flush() {
	if len(h.buf) > 0 {
		h.line(h.buf)
		h.buf = nil
	}
}

func (h *helperStderr) line(l []byte) {
	var msg helper.Msg
	if len(l) == 0 || l[0] != '{' || json.Unmarshal(l, &msg) != nil {
		h.keepText(append(l, '\n'))
		return
	}
	if msg.Progress > h.last {
		if h.progress != nil {
			h.progress(msg.Progress - h.last)
		}
		h.last = msg.Progress
	}
	if msg.Stats != nil {
		h.stats, h.gotStats = *msg.Stats, true
		h.streamBytes, h.streamSHA = msg.StreamBytes, msg.StreamSHA256
		if h.progress != nil && msg.Stats.Bytes > h.last {
			h.progress(msg.Stats.Bytes - h.last)
			h.last = msg.Stats.Bytes
		}
	}
	if msg.Error != "" {
		h.errMsg = msg.Error
		h.notVisible = msg.NotVisible
	}
	if len(msg.Index) > 0 && h.index != nil {
		h.index.Write(msg.Index)
	}
	if msg.MaxRSS > 0 {
		lastHelperMaxRSS.Store(msg.MaxRSS)
	}
	if msg.Diff != nil {
		h.diff = msg.Diff
	}
}

func (h *helperStderr) keepText(b []byte) {
	if h.text.Len()+len(b) > maxStderrText {
		return
	}
	h.text.Write(b)
}
