//go:build linux || darwin

package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"math/bits"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// Concurrent writes of small regular files.
//
// Extract reads the tar stream on one goroutine (the zstd decoder decodes ahead on its own
// goroutines). Creating a small file costs far more than reading it: an inode allocation under
// its directory's lock, then chown, chmod, close and utimes, each a system call. So the reading
// goroutine (main) reads the content of each regular file of at most poolMaxFile bytes into a
// pooled buffer and hands it to a small pool of writers, batched by parent directory: a writer
// takes a whole batch, so two writers work in two directories and do not queue on one
// directory's lock. Everything else stays on main, in archive order: directories (created before
// anything is written into them), symlinks, hardlinks, fifos and devices, large files (streamed,
// while the writers work through the batches queued before them), removals and, after the last
// entry, pruning and the directory modes and times (deepest first).
//
// Order is kept where it matters: main waits for the batch writing a path before it does
// anything else at that path (a duplicate entry, a hardlink to it) and for every batch before
// it removes a directory tree. The content in flight is bounded by poolBudget bytes (pooled
// buffers, charged at their capacity, at least poolMinCharge per file), so memory does not grow
// with the archive. The first writer error stops the other writers (they skip what is queued)
// and is what Extract returns; Extract never returns before every writer has stopped.
const (
	poolMaxFile    = 1 << 20  // larger regular files are written by main
	poolBudget     = 16 << 20 // content bytes queued or being written
	poolMinCharge  = 4 << 10  // the budget charge of an empty or tiny file
	poolBatchFiles = 64       // a batch is handed over when it holds this many files
	poolBatchBytes = 1 << 20  // ... or this many bytes
)

// Test hooks: poolBudgetBytes is the budget in force, poolMaxFileBytes the largest pooled file; testHookWrite runs before a writer creates a
// file (an error fails it); testHookPoolClosed gets the peak of the budget in use.
var (
	poolBudgetBytes    int64 = poolBudget
	poolMaxFileBytes   int64 = poolMaxFile // -1: no pool (BenchmarkRestoreSerial)
	testHookWrite      func(rel string) error
	testHookPoolClosed func(peak int64)
)

func poolWorkers() int {
	return min(8, max(2, runtime.GOMAXPROCS(0)))
}

// fileJob is one regular file a writer creates in its batch's directory.
type fileJob struct {
	h    *tar.Header
	rel  string
	base string
	buf  *[]byte // content (len(*buf) == h.Size); nil for an empty file
	cost int64
	// inherits: the directory has a default ACL, so the new file may get an ACL the archive
	// does not give it (dropInherited).
	inherits bool
}

// batch is a run of files in one directory, written in order by one writer.
type batch struct {
	dir  *dirHandle
	jobs []fileJob
	size int64
	done chan struct{} // closed when the batch is written (or skipped after an error)
}

type writePool struct {
	x      *extractor
	work   chan *batch
	wg     sync.WaitGroup
	cur    *batch
	queued []*batch          // handed-over batches not yet known to be done, oldest first
	paths  map[string]*batch // path -> batch writing it (current or queued)

	mu     sync.Mutex
	cond   *sync.Cond
	used   int64
	peak   int64
	budget int64
	err    error
	failed chan struct{} // closed at the first writer error
	closed bool
}

func newWritePool(x *extractor) *writePool {
	n := poolWorkers()
	p := &writePool{x: x, work: make(chan *batch, 2*n), paths: map[string]*batch{}, failed: make(chan struct{}), budget: poolBudgetBytes}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(n)
	for range n {
		go p.writer()
	}
	return p
}

// bufPools hold content buffers by power-of-two capacity, 4 KiB to poolMaxFile.
var bufPools [21]sync.Pool

func getBuf(n int) *[]byte {
	c := max(12, bits.Len(uint(n-1)))
	if b, ok := bufPools[c].Get().(*[]byte); ok {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<c)
	return &b
}

func putBuf(b *[]byte) {
	c := bits.Len(uint(cap(*b) - 1))
	if c < len(bufPools) && cap(*b) == 1<<c {
		bufPools[c].Put(b)
	}
}

func (p *writePool) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
		close(p.failed)
	}
	p.mu.Unlock()
}

// Err returns the first writer error.
func (p *writePool) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// acquire reserves n bytes of the budget, handing the current batch over first when it would
// have to wait (the writers free the budget only of batches they have).
func (p *writePool) acquire(n int64) {
	p.mu.Lock()
	if p.used+n > p.budget && p.used > 0 {
		p.mu.Unlock()
		p.flush()
		p.mu.Lock()
		for p.used+n > p.budget && p.used > 0 {
			p.cond.Wait()
		}
	}
	p.used += n
	p.peak = max(p.peak, p.used)
	p.mu.Unlock()
}

func (p *writePool) release(n int64) {
	p.mu.Lock()
	p.used -= n
	p.mu.Unlock()
	p.cond.Broadcast()
}

// add queues the regular file rel (base in directory dir) whose content is read from rd.
func (p *writePool) add(dir, base, rel string, h *tar.Header, rd io.Reader) error {
	x := p.x
	cost := max(poolMinCharge, int64(1)<<max(12, bits.Len(uint(h.Size-1))))
	if h.Size == 0 {
		cost = poolMinCharge
	}
	p.acquire(cost)
	j := fileJob{h: h, rel: rel, base: base, cost: cost, inherits: x.inherits(dir)}
	if h.Size > 0 {
		j.buf = getBuf(int(h.Size))
		if err := x.readFull(rd, *j.buf, rel); err != nil {
			putBuf(j.buf)
			p.release(cost)
			return err
		}
	}
	if p.cur != nil && (p.cur.dir != x.parent || len(p.cur.jobs) >= poolBatchFiles || p.cur.size >= poolBatchBytes) {
		p.flush()
	}
	if p.cur == nil {
		x.parent.refs.Add(1)
		p.cur = &batch{dir: x.parent, done: make(chan struct{})}
	}
	p.cur.jobs = append(p.cur.jobs, j)
	p.cur.size += h.Size
	p.paths[rel] = p.cur
	return nil
}

// flush hands the current batch to the writers.
func (p *writePool) flush() {
	b := p.cur
	if b == nil {
		return
	}
	p.cur = nil
	// Forget the paths of batches already written, so the map stays as small as the queue.
	for len(p.queued) > 0 {
		select {
		case <-p.queued[0].done:
			for _, j := range p.queued[0].jobs {
				if p.paths[j.rel] == p.queued[0] {
					delete(p.paths, j.rel)
				}
			}
			p.queued[0].jobs = nil
			p.queued = p.queued[1:]
			continue
		default:
		}
		break
	}
	p.queued = append(p.queued, b)
	p.work <- b
}

// wait returns once nothing queued writes rel.
func (p *writePool) wait(rel string) {
	b, ok := p.paths[rel]
	if !ok {
		return
	}
	if b == p.cur {
		p.flush()
	}
	<-b.done
}

// waitAll returns once every queued file is written.
func (p *writePool) waitAll() {
	p.flush()
	for _, b := range p.queued {
		<-b.done
	}
	p.queued = nil
	clear(p.paths)
}

// close waits for every queued file and stops the writers; it returns the first writer error.
func (p *writePool) close() error {
	if !p.closed {
		p.closed = true
		p.waitAll()
		close(p.work)
		p.wg.Wait()
		if testHookPoolClosed != nil {
			testHookPoolClosed(p.peak)
		}
	}
	return p.Err()
}

// abort makes the writers skip what is queued, then stops them (Extract is failing anyway).
func (p *writePool) abort(err error) {
	if p.closed {
		return
	}
	p.fail(err)
	p.close()
}

func (p *writePool) writer() {
	defer p.wg.Done()
	for b := range p.work {
		for i := range b.jobs {
			j := &b.jobs[i]
			select {
			case <-p.failed:
			default:
				if err := p.x.ctx.Err(); err != nil {
					p.fail(err)
				} else if err := p.x.writeFile(b.dir.fd(), j); err != nil {
					p.fail(err)
				}
			}
			if j.buf != nil {
				putBuf(j.buf)
				j.buf = nil
			}
			p.release(j.cost)
		}
		b.dir.release()
		close(b.done)
	}
}

// writeFile creates j's file in the directory open as fd from its buffered content. Something
// already there (from before the extraction: duplicates in the archive are waited for) is
// replaced.
func (x *extractor) writeFile(fd int, j *fileJob) error {
	if testHookWrite != nil {
		if err := testHookWrite(j.rel); err != nil {
			return err
		}
	}
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	ffd, err := unix.Openat(fd, j.base, flags, 0o600)
	if err == unix.EEXIST {
		err = unix.Unlinkat(fd, j.base, 0)
		if err == unix.EISDIR || err == unix.EPERM {
			// A directory of the destination that is not in the archive (no entry of the
			// archive is below it, or main would know it and have removed it).
			err = x.root.RemoveAll(j.rel)
		}
		if err == nil {
			ffd, err = unix.Openat(fd, j.base, flags, 0o600)
		}
	}
	if err != nil {
		return pathErr("create", j.rel, err)
	}
	if j.buf != nil {
		b := *j.buf
		for len(b) > 0 {
			n, err := unix.Write(ffd, b)
			if err != nil {
				unix.Close(ffd)
				return pathErr("write", j.rel, err)
			}
			b = b[n:]
		}
	}
	if j.inherits {
		if err := dropInherited(ffd, j.h, j.rel); err != nil {
			unix.Close(ffd)
			return err
		}
	}
	if err := x.attrsFD(ffd, j.h, j.rel); err != nil {
		unix.Close(ffd)
		return err
	}
	if err := unix.Fchmod(ffd, uint32(j.h.Mode)&0o7777); err != nil {
		unix.Close(ffd)
		return pathErr("chmod", j.rel, err)
	}
	if err := unix.Close(ffd); err != nil {
		return pathErr("close", j.rel, err)
	}
	return setTimes(fd, j.base, j.rel, j.h.AccessTime, j.h.ModTime)
}

// readFull reads exactly len(b) bytes of an entry's content, counting them.
func (x *extractor) readFull(rd io.Reader, b []byte, rel string) error {
	for off := 0; off < len(b); {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		n, err := rd.Read(b[off:min(len(b), off+copyBufSize)])
		off += n
		x.stats.Bytes += int64(n)
		if n > 0 && x.opts.Progress != nil {
			x.opts.Progress(int64(n))
		}
		if err == io.EOF && off < len(b) {
			err = io.ErrUnexpectedEOF
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("archive: reading %q: %w", rel, err)
		}
	}
	return nil
}

// dirHandle is an open directory shared by main (its current parent) and the batches written
// in it; the last one to release it closes it.
func (d *dirHandle) fd() int { return d.fdv }

func (d *dirHandle) release() {
	if d.refs.Add(-1) == 0 {
		d.f.Close()
	}
}
