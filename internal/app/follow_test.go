package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"
)

// lockedBuffer is a bytes.Buffer safe to read while follow writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestFollowOddChunks: a writer appends progress lines and the end line in chunks of odd
// sizes (1, 2, 3, 5, 7, 11, 13 bytes: lines cut anywhere, several per chunk) while the
// follower polls the file: every line arrives exactly once, whole and in order, and the
// end line ends it with its exit code.
func TestFollowOddChunks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "op.log")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := range 500 {
		line, _ := json.Marshal(map[string]any{"phase": "backup", "task": fmt.Sprintf("t%d", i), "bytes": i * 7})
		want.Write(line)
		want.WriteByte('\n')
	}
	want.WriteString("WARNING: a text line\n")
	var end maim.DetachedEnd
	end.End.ID, end.End.ExitCode = "op", 10
	endLine, _ := json.Marshal(end)
	all := want.String() + string(endLine) + "\n" + "after the end\n"
	var alive atomic.Bool
	alive.Store(true)
	go func() {
		defer f.Close()
		sizes := []int{1, 2, 3, 5, 7, 11, 13}
		for i, k := 0, 0; i < len(all); k++ {
			n := min(sizes[k%len(sizes)], len(all)-i)
			if _, err := f.WriteString(all[i : i+n]); err != nil {
				t.Error(err)
				return
			}
			i += n
			if k%17 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		alive.Store(false)
	}()
	var out lockedBuffer
	got, err := follow(context.Background(), path, &out, alive.Load, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if got.End.ExitCode != 10 || got.End.ID != "op" {
		t.Errorf("end %+v", got)
	}
	if out.String() != want.String() {
		t.Errorf("followed %d bytes, want %d; first difference at line %d", len(out.String()), want.Len(), firstDiff(out.String(), want.String()))
	}
}

func firstDiff(a, b string) int {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i
		}
	}
	return min(len(la), len(lb))
}

// TestFollowWriterGone: a writer that ends without the end line (killed) fails the
// follower once what it wrote is copied, a cut last line left out.
func TestFollowWriterGone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "op.log")
	if err := os.WriteFile(path, []byte("{\"a\":1}\n{\"b\":"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	_, err := follow(context.Background(), path, &out, func() bool { return false }, time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "without a result") || out.String() != "{\"a\":1}\n" {
		t.Errorf("err %v, out %q", err, out.String())
	}
}

// TestFollowCancel: cancelling the follower (Ctrl-C) stops it with the context's error;
// the log is only read.
func TestFollowCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "op.log")
	if err := os.WriteFile(path, []byte("{\"a\":1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	done := make(chan error)
	go func() {
		_, err := follow(ctx, path, &out, func() bool { return true }, time.Millisecond)
		done <- err
	}()
	for out.String() == "" {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err %v", err)
	}
}

func TestProcessAlive(t *testing.T) {
	if !processAlive(os.Getpid()) {
		t.Error("this process is not alive")
	}
}

func TestDetachEnv(t *testing.T) {
	got := detachEnv([]string{"A=1", "DOCKER_CLI_PLUGIN_SOCKET=x", maim.DetachedEnv + "=old", readyEnv + "=3", "B=2"})
	if strings.Join(got, " ") != "A=1 B=2" {
		t.Errorf("%v", got)
	}
}

// TestPruneOps keeps the newest operations and any whose process still runs.
func TestPruneOps(t *testing.T) {
	dir := t.TempDir()
	for i := range 5 {
		id := fmt.Sprintf("20260101T00000%dZ-aaaaaa", i)
		pid := 0
		if i == 0 {
			pid = os.Getpid() // still running
		}
		meta, _ := json.Marshal(opMeta{ID: id, PID: pid})
		for ext, b := range map[string][]byte{".log": nil, ".out": nil, ".json": meta} {
			if err := os.WriteFile(filepath.Join(dir, id+ext), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	pruneOps(dir, 2)
	got := opIDs(dir)
	want := []string{"20260101T000000Z-aaaaaa", "20260101T000003Z-aaaaaa", "20260101T000004Z-aaaaaa"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("kept %v, want %v", got, want)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 9 {
		t.Errorf("%d files left, want 9", len(ents))
	}
	if newestOp(dir) != want[2] {
		t.Errorf("newest %q", newestOp(dir))
	}
}

// TestRunningOp: the newest operation runs while its process lives and its log has no
// end line; the verb comes from its command line.
func TestRunningOp(t *testing.T) {
	dir := t.TempDir()
	id := "20260101T000000Z-aaaaaa"
	meta, _ := json.Marshal(opMeta{ID: id, PID: os.Getpid(), Args: []string{"/bin/docker-maim", "maim", "-p", "x", "rollback", "-d"}})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, id+".json"), meta, 0o600))
	must(os.WriteFile(filepath.Join(dir, id+".log"), []byte("{\"phase\":\"stop\"}\n"), 0o600))
	if op := runningOp(dir); op == nil || op.ID != id || op.Verb != "rollback" || op.PID != os.Getpid() {
		t.Fatalf("running op %+v", op)
	}
	var end maim.DetachedEnd
	end.End.ID = id
	b, _ := json.Marshal(end)
	f, err := os.OpenFile(filepath.Join(dir, id+".log"), os.O_APPEND|os.O_WRONLY, 0)
	must(err)
	_, err = f.Write(append(b, '\n'))
	must(err)
	must(f.Close())
	if op := runningOp(dir); op != nil {
		t.Errorf("an ended operation runs: %+v", op)
	}
	if runningOp(t.TempDir()) != nil {
		t.Error("an empty dir has a running operation")
	}
}
