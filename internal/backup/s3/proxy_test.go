package s3

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fault is what the proxy does to one request.
type fault int

const (
	pass fault = iota
	fail500
	drop // the connection is closed after part of the request body is read
	slow
	corrupt // one byte of the request body is flipped on its way to the server
)

// faultProxy is a loopback HTTP proxy in front of an S3 server that answers some requests
// with 500, drops the connection of others half way through their body, delays others, by
// a schedule of the request count; it counts the part PUTs it let through, by part number.
type faultProxy struct {
	srv      *httptest.Server
	rp       *httputil.ReverseProxy
	schedule func(n int, r *http.Request) fault

	mu       sync.Mutex
	n        int
	seen     map[fault]int
	partPuts map[int]int
	status   map[int]int // answers the server gave, by status
}

func newFaultProxy(t *testing.T, target string, schedule func(n int, r *http.Request) fault) *faultProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{rp: httputil.NewSingleHostReverseProxy(u), schedule: schedule, seen: map[fault]int{}, partPuts: map[int]int{}, status: map[int]int{}}
	p.srv = httptest.NewServer(p)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *faultProxy) URL() string { return p.srv.URL }

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.n++
	f := pass
	if p.schedule != nil {
		f = p.schedule(p.n, r)
	}
	p.seen[f]++
	p.mu.Unlock()
	switch f {
	case fail500:
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected by the test's proxy</Message></Error>`)
		return
	case drop:
		io.CopyN(io.Discard, r.Body, 64<<10)
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
		return
	case slow:
		time.Sleep(300 * time.Millisecond)
	case corrupt:
		r.Body = &flipper{ReadCloser: r.Body, at: 1000}
	}
	rec := &statusRecorder{ResponseWriter: w}
	p.rp.ServeHTTP(rec, r)
	p.mu.Lock()
	p.status[rec.status]++
	p.mu.Unlock()
	if q := r.URL.Query(); r.Method == http.MethodPut && q.Has("partNumber") && rec.status == http.StatusOK {
		n, _ := strconv.Atoi(q.Get("partNumber"))
		p.mu.Lock()
		p.partPuts[n]++
		p.mu.Unlock()
	}
}

// counts returns the part PUTs let through by number and resets them, and the faults injected.
func (p *faultProxy) counts() (map[int]int, map[fault]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	puts, seen := p.partPuts, p.seen
	p.partPuts, p.seen = map[int]int{}, map[fault]int{}
	return puts, seen
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// flipper flips the byte at offset at of the body it reads.
type flipper struct {
	io.ReadCloser
	off, at int64
}

func (f *flipper) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if f.at >= f.off && f.at < f.off+int64(n) {
		p[f.at-f.off] ^= 0xff
	}
	f.off += int64(n)
	return n, err
}
