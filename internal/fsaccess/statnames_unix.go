//go:build linux || darwin

package fsaccess

import (
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// StatBatch is how many names of one directory a walk stats ahead with StatNames: enough to
// keep the cores busy, few enough that the results (144 bytes each, about 150 KiB a batch,
// one batch per directory level being walked) stay small whatever the size of the
// directory.
const StatBatch = 1024

// StatNamesMin: fewer names than this are statted in order, on the caller's goroutine
// (starting workers costs more than it saves); a walk need not open the directory for
// StatNames below it.
const StatNamesMin = 64

// StatNames lstats each of names in the directory dirfd (fstatat with AT_SYMLINK_NOFOLLOW:
// the name is looked up in that directory, never through a path walked again from the
// root) into sts[i] and errs[i] (both len(names)), on up to GOMAXPROCS goroutines. A walk
// that compares a large directory with an index (pass two of a backup, a differential
// restore's plan) spends most of its time in these calls, and they run in parallel.
//
// It equals statting each name just before it is visited whenever nothing changes the
// directory's entries meanwhile, the condition those walks already have (the services are
// stopped); a change in between is seen as the walk would have seen it a moment earlier,
// and the next stage that opens the file checks what it opened (fstat) as before.
func StatNames(dirfd int, names []string, sts []unix.Stat_t, errs []error) {
	workers := min(runtime.GOMAXPROCS(0), 4)
	if workers < 2 || len(names) < StatNamesMin {
		for i, n := range names {
			errs[i] = unix.Fstatat(dirfd, n, &sts[i], unix.AT_SYMLINK_NOFOLLOW)
		}
		return
	}
	const chunk = 32
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= len(names) {
					return
				}
				for i := lo; i < min(lo+chunk, len(names)); i++ {
					errs[i] = unix.Fstatat(dirfd, names[i], &sts[i], unix.AT_SYMLINK_NOFOLLOW)
				}
			}
		})
	}
	wg.Wait()
}

// Ahead holds the lstats of one directory's names, taken StatBatch at a time (StatNames)
// ahead of a walk that visits the names in order, some of them (Lstat).
type Ahead struct {
	names []string
	dirfd int // -1: no batches, each name statted by its path when visited
	lo    int // the index of the batch's first name
	sts   []unix.Stat_t
	errs  []error
}

// StatAhead prepares the lstats of names, the entries of the directory dir: batched when
// batch is set and they are at least StatNamesMin (the directory opened, O_NOFOLLOW; its
// error is returned as the open's errno), else statted by path one at a time as visited.
func StatAhead(dir string, names []string, batch bool) (*Ahead, error) {
	a := &Ahead{names: names, dirfd: -1}
	if !batch || len(names) < StatNamesMin {
		return a, nil
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	a.dirfd = fd
	return a, nil
}

// Lstat is the lstat of names[i], whose path is full: from the batch that holds it, statted
// when first asked for. The error is the errno, unwrapped.
func (a *Ahead) Lstat(i int, full string, st *unix.Stat_t) error {
	if a.dirfd < 0 {
		return unix.Lstat(full, st)
	}
	if a.sts == nil || i < a.lo || i >= a.lo+len(a.sts) {
		a.lo = i
		n := min(StatBatch, len(a.names)-i)
		if a.sts == nil {
			a.sts, a.errs = make([]unix.Stat_t, n), make([]error, n)
		}
		a.sts, a.errs = a.sts[:n], a.errs[:n]
		StatNames(a.dirfd, a.names[i:i+n], a.sts, a.errs)
	}
	*st = a.sts[i-a.lo]
	return a.errs[i-a.lo]
}

// Close closes the directory the batches are statted in.
func (a *Ahead) Close() {
	if a.dirfd >= 0 {
		unix.Close(a.dirfd)
		a.dirfd = -1
	}
}
