package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"

	"github.com/docker-maim/docker-maim/internal/testrig"
)

// memFile is an io.WriterAt in memory, for Get.
type memFile struct {
	mu sync.Mutex
	b  []byte
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if need := int(off) + len(p); need > len(m.b) {
		m.b = append(m.b, make([]byte, need-len(m.b))...)
	}
	return copy(m.b[off:], p), nil
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// openVia opens a repo of srv under a fresh prefix, its requests sent to endpoint (a proxy).
func openVia(t *testing.T, srv *testrig.S3Server, endpoint, prefix string) *Repo {
	t.Helper()
	srv.Env(t)
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	r, err := Open(context.Background(), srv.URL(prefix))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPutThroughFaults: a Put (and a Get, and an Open) through a proxy that fails, drops
// and delays requests on a schedule still moves the file byte for byte.
func TestPutThroughFaults(t *testing.T) {
	srv := server(t)
	proxy := newFaultProxy(t, srv.Endpoint, func(n int, _ *http.Request) fault {
		switch {
		case n%7 == 3:
			return fail500
		case n%11 == 5:
			return drop
		case n%5 == 0:
			return slow
		}
		return pass
	})
	r := openVia(t, srv, proxy.URL(), "faults")
	data := randomBytes(t, 4*minPart+12345) // five parts, the last short
	var done int64
	if err := r.Put(context.Background(), "demo", "b1", "big.tar.zst", bytes.NewReader(data), int64(len(data)), func(n int64) { done += n }); err != nil {
		t.Fatalf("Put through faults: %v", err)
	}
	if done != int64(len(data)) {
		t.Errorf("progress summed to %d, want %d", done, len(data))
	}
	var got memFile
	n, err := r.Get(context.Background(), "demo", "b1", "big.tar.zst", &got, nil)
	if err != nil || n != int64(len(data)) || !bytes.Equal(got.b, data) {
		t.Fatalf("Get through faults = %d bytes, %v; equal: %v", n, err, bytes.Equal(got.b, data))
	}
	_, seen := proxy.counts()
	if seen[fail500] == 0 || seen[drop] == 0 || seen[slow] == 0 {
		t.Errorf("faults injected: %v; want some of each", seen)
	}
	// Open's reader, also through the faults.
	rc, err := r.Open("demo", "b1", "big.tar.zst")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(rc); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Errorf("Open read back %d bytes, %v; equal: %v", buf.Len(), err, bytes.Equal(buf.Bytes(), data))
	}
}

// TestPutResumes: a Put cancelled after some parts leaves its upload open; a second Put of
// the same file uploads only the parts the server does not hold, plus one whose local bytes
// changed since, and completes it byte for byte.
func TestPutResumes(t *testing.T) {
	srv := server(t)
	proxy := newFaultProxy(t, srv.Endpoint, nil)
	r := openVia(t, srv, proxy.URL(), "resume")
	r.Workers = 1 // cancelled in the callback of part 3: no other part is on its way then
	const parts = 8
	data := randomBytes(t, parts*minPart-777)
	ctx, cancel := context.WithCancel(context.Background())
	var done int64
	err := r.Put(ctx, "demo", "b1", "big.tar", bytes.NewReader(data), int64(len(data)), func(n int64) {
		if done += n; done >= 3*minPart {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted Put = %v, want context.Canceled", err)
	}
	if _, err := r.Stat("demo", "b1", "big.tar"); err == nil {
		t.Fatalf("an interrupted Put is visible")
	}
	c := srv.Client(t)
	key := r.key("demo", "b1", "big.tar")
	uploadID, have, err := r.openUpload(context.Background(), key)
	if err != nil || uploadID == "" {
		t.Fatalf("no open upload after the interruption: %q, %v", uploadID, err)
	}
	if got := slices.Sorted(maps.Keys(have)); !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("the server holds parts %v; want 1, 2 and 3 of %d", got, parts)
	}
	first, _ := proxy.counts()
	t.Logf("first Put sent parts %v; the server holds %v", first, slices.Sorted(maps.Keys(have)))
	changed := slices.Min(slices.Collect(maps.Keys(have))) // a part the server holds whose local bytes change
	data[int64(changed-1)*minPart+10] ^= 0xff
	r.Workers = 4

	if err := r.Put(context.Background(), "demo", "b1", "big.tar", bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatalf("resumed Put: %v", err)
	}
	puts, _ := proxy.counts()
	var want []int
	for i := 1; i <= parts; i++ {
		if _, ok := have[i]; !ok || i == changed {
			want = append(want, i)
		}
	}
	if got := slices.Sorted(maps.Keys(puts)); !slices.Equal(got, want) {
		t.Errorf("resumed Put sent parts %v; want only %v (missing on the server, or changed)", got, want)
	}
	for n, k := range puts {
		if k != 1 {
			t.Errorf("part %d sent %d times, want once (no faults here)", n, k)
		}
	}
	var got memFile
	if _, err := r.Get(context.Background(), "demo", "b1", "big.tar", &got, nil); err != nil || !bytes.Equal(got.b, data) {
		t.Fatalf("resumed file reads back %d bytes, %v; equal to the local file: %v", len(got.b), err, bytes.Equal(got.b, data))
	}
	for u := range c.ListIncompleteUploads(context.Background(), srv.Bucket, key, true) {
		t.Errorf("upload still open after completion: %+v", u)
	}
}

// TestPutSmallAndEmpty: files of one part or less, and of none, go up whole.
func TestPutSmallAndEmpty(t *testing.T) {
	srv := server(t)
	r := openVia(t, srv, srv.Endpoint, "small")
	for _, size := range []int{0, 1, 5 << 20, minPart} {
		data := randomBytes(t, size)
		name := fmt.Sprintf("f%d", size)
		if err := r.Put(context.Background(), "demo", "b1", name, bytes.NewReader(data), int64(size), nil); err != nil {
			t.Fatalf("Put %d bytes: %v", size, err)
		}
		var got memFile
		if n, err := r.Get(context.Background(), "demo", "b1", name, &got, nil); err != nil || n != int64(size) || !bytes.Equal(got.b, data) {
			t.Errorf("Get of %d bytes = %d, %v", size, n, err)
		}
	}
}

// TestServerChecksParts: a part whose bytes are damaged on the way is refused by the server
// (its Content-MD5 and signed SHA-256 no longer match), sent again, and the file completes
// byte for byte; the composite ETag and SHA-256 Put checks are the server's.
func TestServerChecksParts(t *testing.T) {
	srv := server(t)
	var once sync.Once
	proxy := newFaultProxy(t, srv.Endpoint, func(_ int, r *http.Request) fault {
		f := pass
		if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") == "2" {
			once.Do(func() { f = corrupt })
		}
		return f
	})
	r := openVia(t, srv, proxy.URL(), "corrupt")
	data := randomBytes(t, 3*minPart)
	if err := r.Put(context.Background(), "demo", "b1", "f", bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatalf("Put with a damaged part: %v", err)
	}
	proxy.mu.Lock()
	refused, corrupted := proxy.status[http.StatusBadRequest], proxy.seen[corrupt]
	proxy.mu.Unlock()
	if corrupted != 1 || refused != 1 {
		t.Errorf("damaged parts %d, refused by the server %d; want 1 and 1", corrupted, refused)
	}
	var got memFile
	if _, err := r.Get(context.Background(), "demo", "b1", "f", &got, nil); err != nil || !bytes.Equal(got.b, data) {
		t.Fatalf("file after a damaged part: %d bytes, %v", len(got.b), err)
	}
}

// TestPutResumesAfterKill: a process killed (SIGKILL) in the middle of a Put leaves its
// upload open; a Put from another process sends only the parts the server lacks.
func TestPutResumesAfterKill(t *testing.T) {
	if os.Getenv("MAIM_S3_KILLED_PUT") != "" {
		killedPut(t)
		return
	}
	srv := server(t)
	proxy := newFaultProxy(t, srv.Endpoint, nil)
	r := openVia(t, srv, proxy.URL(), "killed")
	file := filepath.Join(t.TempDir(), "data")
	data := randomBytes(t, 6*minPart+1)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPutResumesAfterKill$", "-test.count=1")
	cmd.Env = append(os.Environ(), "MAIM_S3_KILLED_PUT="+file, "MAIM_S3_KILLED_URL="+srv.URL("killed"), "AWS_ENDPOINT_URL="+proxy.URL())
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the uploading process was not killed: %v\n%s", err, out)
	}
	_, have, err := r.openUpload(context.Background(), r.key("demo", "b1", "big.tar"))
	if err != nil || !slices.Equal(slices.Sorted(maps.Keys(have)), []int{1, 2}) {
		t.Fatalf("after the kill the server holds parts %v, %v; want 1 and 2", slices.Sorted(maps.Keys(have)), err)
	}
	proxy.counts()
	if err := r.Put(context.Background(), "demo", "b1", "big.tar", bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatalf("Put after the kill: %v", err)
	}
	if puts, _ := proxy.counts(); !slices.Equal(slices.Sorted(maps.Keys(puts)), []int{3, 4, 5, 6, 7}) {
		t.Errorf("the Put after the kill sent parts %v; want 3 to 7", slices.Sorted(maps.Keys(puts)))
	}
	var got memFile
	if _, err := r.Get(context.Background(), "demo", "b1", "big.tar", &got, nil); err != nil || !bytes.Equal(got.b, data) {
		t.Fatalf("file after the kill and the resume: %d bytes, %v", len(got.b), err)
	}
}

// killedPut is the child of TestPutResumesAfterKill: it uploads the file with one worker
// and kills itself once two parts are done.
func killedPut(t *testing.T) {
	file := os.Getenv("MAIM_S3_KILLED_PUT")
	r, err := Open(context.Background(), os.Getenv("MAIM_S3_KILLED_URL"))
	if err != nil {
		t.Fatal(err)
	}
	r.Workers = 1
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	var done int64
	err = r.Put(context.Background(), "demo", "b1", "big.tar", f, st.Size(), func(n int64) {
		if done += n; done >= 2*minPart {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	})
	t.Fatalf("Put ended (%v) instead of being killed", err)
}
