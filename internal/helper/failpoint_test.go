package helper

import (
	"bytes"
	"context"
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
