package helper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/diffrestore"
	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
	"github.com/docker-maim/docker-maim/internal/treeindex"
)

// TestHoldReaderWaitsForCancel: the held restore reads its first MiB, then reads nothing
// more until its run is cancelled, and then reads the rest unchanged.
func TestHoldReaderWaitsForCancel(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), (3<<20)/16)
	ctx, cancel := context.WithCancel(context.Background())
	var cancelled atomic.Bool
	h := &holdReader{ctx: ctx, r: bytes.NewReader(data)}
	first := make([]byte, holdAfter)
	if _, err := io.ReadFull(h, first); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte)
	go func() {
		rest, _ := io.ReadAll(h)
		if !cancelled.Load() {
			t.Error("the held reader read past its first MiB before the run was cancelled")
		}
		got <- rest
	}()
	cancelled.Store(true)
	cancel()
	if rest := <-got; !bytes.Equal(append(first, rest...), data) {
		t.Fatal("the held reader changed what it read")
	}
}

// TestFailpointOnlyForRestoreWhenSet: without FailpointEnv, or for a backup, the reader is
// the one given.
func TestFailpointOnlyForRestoreWhenSet(t *testing.T) {
	r := bytes.NewReader(nil)
	if got := (&invocation{cmd: "restore"}).withFailpoint(context.Background(), r); got != io.Reader(r) {
		t.Error("a restore without the failpoint is wrapped")
	}
	t.Setenv(FailpointEnv, FailpointHoldRestore)
	if got := (&invocation{cmd: "backup"}).withFailpoint(context.Background(), r); got != io.Reader(r) {
		t.Error("a backup is held by the restore failpoint")
	}
	if _, ok := (&invocation{cmd: "restore"}).withFailpoint(context.Background(), r).(*holdReader); !ok {
		t.Error("a restore with the failpoint is not held")
	}
}

// TestHoldWritesWaitsForCancel: a differential restore with the failpoint set goes on
// writing up to its first MiB, then its next progress call holds until the run is
// cancelled; without the failpoint its progress is the one given.
func TestHoldWritesWaitsForCancel(t *testing.T) {
	var total atomic.Int64
	reached := make(chan struct{}, 1)
	add := func(n int64) {
		if total.Add(n) >= holdAfter {
			select {
			case reached <- struct{}{}:
			default:
			}
		}
	}
	t.Setenv(FailpointEnv, FailpointHoldRestore)
	ctx, cancel := context.WithCancel(context.Background())
	var cancelled atomic.Bool
	hold := (&invocation{cmd: "diffrestore"}).holdWrites(ctx, add)
	hold(holdAfter - 1) // below the hold: returns at once
	done := make(chan struct{})
	go func() {
		hold(1) // reaches the first MiB: held
		if !cancelled.Load() {
			t.Error("the held restore went on before the run was cancelled")
		}
		hold(5) // once only
		close(done)
	}()
	<-reached // the first MiB is written: the restore holds from here
	select {
	case <-done:
		t.Error("the restore went on past its first MiB before the run was cancelled")
	default:
	}
	cancelled.Store(true)
	cancel()
	<-done
	if total.Load() != holdAfter+5 {
		t.Errorf("progress counted %d bytes, want %d", total.Load(), holdAfter+5)
	}
	t.Setenv(FailpointEnv, "")
	if got := (&invocation{cmd: "diffrestore"}).holdWrites(context.Background(), add); fmt.Sprintf("%p", got) != fmt.Sprintf("%p", add) {
		t.Error("a differential restore without the failpoint has its progress wrapped")
	}
}

// TestHoldWritesStage: the stage of a two-pass restore (diffstage) is held by the failpoint
// as a differential restore is, a backup is not.
func TestHoldWritesStage(t *testing.T) {
	add := func(int64) {}
	t.Setenv(FailpointEnv, FailpointHoldRestore)
	for cmd, held := range map[string]bool{"diffstage": true, "diffrestore": true, "backup": false, "restore": false} {
		got := (&invocation{cmd: cmd}).holdWrites(context.Background(), add)
		if wrapped := fmt.Sprintf("%p", got) != fmt.Sprintf("%p", add); wrapped != held {
			t.Errorf("%s: progress wrapped %v, want %v", cmd, wrapped, held)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for the run's reporter and the test to share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestStageCallerGone: a stage (diffstage --lifeline) held by the failpoint after its first
// MiB, with a file in its stage dir, whose caller then goes (stdin ends), stops with
// ExitAborted and removes its stage dir; the rest of the tree is as it was.
func TestStageCallerGone(t *testing.T) {
	root := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("f%d", i)), bytes.Repeat([]byte{byte(i)}, 2*holdAfter), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(treeindex.CtimeMargin + 1100*time.Millisecond) // older than the index's margin
	file := filepath.Join(t.TempDir(), "a"+archive.Zstd.Ext())
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	cw, err := archive.Compress(f, archive.Zstd, 0)
	if err != nil {
		t.Fatal(err)
	}
	idx := archive.NewIndex()
	if _, err := archive.WriteTar(context.Background(), cw, root, archive.WriteOptions{Final: idx}); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(cw.Close(), f.Close()); err != nil {
		t.Fatal(err)
	}
	if idx.OnePass != "" {
		t.Skipf("the test dir is not on an exact file system: %s", idx.OnePass)
	}
	var ib bytes.Buffer
	if _, err := idx.WriteTo(&ib); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "index")
	if err := os.WriteFile(in, ib.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// The upgrade's changes: every file is one to stage, each larger than the first MiB (a
	// file of more than a MiB is written as it is read, not pooled: the first one is in the
	// stage dir, half written, while the stage is held).
	for i := range 4 {
		if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("f%d", i)), []byte("v2\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := treediff.Of(t, root)

	t.Setenv(FailpointEnv, FailpointHoldRestore)
	pr, pw := io.Pipe()
	var stderr lockedBuffer
	code := make(chan int, 1)
	go func() {
		code <- Run(context.Background(), []string{"diffstage", "--lifeline", "--in", in, "--archive", file, root}, pr, nil, &stderr)
	}()
	// Held: a stage dir with a file in it, and the run has not ended.
	for staged := false; !staged; {
		select {
		case c := <-code:
			t.Fatalf("the stage ended (exit %d) before its caller went: %s", c, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if names := stageNames(t, root); len(names) == 1 {
			ents, _ := os.ReadDir(filepath.Join(root, names[0]))
			staged = len(ents) > 0
		}
	}
	pw.Close() // the caller is gone
	if c := <-code; c != ExitAborted {
		t.Fatalf("exit %d, want %d: %s", c, ExitAborted, stderr.String())
	}
	if names := stageNames(t, root); len(names) != 0 {
		t.Errorf("stage dirs left by the aborted stage: %v", names)
	}
	if d := treediff.Diff(before, treediff.Of(t, root), treediff.Options{NoRootMtime: true}); len(d) > 0 {
		t.Errorf("the aborted stage changed the tree:\n%s", strings.Join(d, "\n"))
	}
}

// stageNames lists the stage dirs at root.
func stageNames(t *testing.T, root string) []string {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if diffrestore.IsStageName(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}
