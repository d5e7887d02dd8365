package helper

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
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
