package volume

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker-maim/docker-maim/internal/archive"
)

// progressInterval is how often the helper reports progress on stderr.
const progressInterval = 200 * time.Millisecond

// HelperMain is the in-container side, run as `docker-maim __maim-helper ARGS...` with args
// being ARGS:
//
//	backup  --compression zstd|gzip|none --level N [--exclude PATTERN]... PATH
//	restore --compression zstd|gzip|none [--exclude PATTERN]... PATH
//
// backup writes the compressed archive of PATH to stdout; restore reads one from stdin and
// makes PATH exactly equal to it, leaving the paths matching the excludes as they are. Both write JSON lines on stderr: {"progress":N} while
// working, then {"stats":{...}} on success or {"error":"..."} on failure (exit code 1; 2 for
// usage errors). It returns the exit code.
func HelperMain(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return helperMain(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func helperMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	rep := &reporter{w: stderr}
	fail := func(code int, err error) int {
		rep.send(helperMsg{Error: err.Error()})
		return code
	}
	if len(args) == 0 {
		return fail(2, errors.New("usage: __maim-helper backup|restore [flags] PATH"))
	}
	fs := flag.NewFlagSet(HelperArg+" "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	comp := fs.String("compression", string(archive.Zstd), "zstd, gzip or none")
	var level int
	var excludes stringList
	switch args[0] {
	case "backup":
		fs.IntVar(&level, "level", 0, "compression level (0: codec default)")
		fs.Var(&excludes, "exclude", "pattern to leave out (repeatable)")
	case "restore":
		fs.Var(&excludes, "exclude", "pattern of paths to keep as they are (repeatable)")
	default:
		return fail(2, fmt.Errorf("unknown helper command %q", args[0]))
	}
	if err := fs.Parse(args[1:]); err != nil {
		return fail(2, err)
	}
	if fs.NArg() != 1 {
		return fail(2, fmt.Errorf("%s: want exactly one path, got %d", args[0], fs.NArg()))
	}
	c, err := archive.ParseCompression(*comp)
	if err != nil {
		return fail(2, err)
	}
	target := fs.Arg(0)

	stopProgress := rep.start()
	var st archive.Stats
	// The stream is counted and hashed on both sides: the engine's attach path is known to
	// drop data in some versions, and a silently short archive must never pass as a backup.
	sum := newStreamSum()
	if args[0] == "backup" {
		st, err = helperBackup(ctx, target, io.MultiWriter(stdout, sum), c, level, excludes, rep.add)
	} else {
		st, err = helperRestore(ctx, target, io.TeeReader(stdin, sum), c, excludes, rep.add)
	}
	stopProgress()
	if err != nil {
		return fail(1, err)
	}
	rep.send(helperMsg{Stats: &st, MaxRSS: peakRSSKiB(), StreamBytes: sum.n, StreamSHA256: sum.hex()})
	return 0
}

func helperBackup(ctx context.Context, root string, stdout io.Writer, c archive.Compression, level int, excludes []string, progress func(int64)) (archive.Stats, error) {
	bw := bufio.NewWriterSize(stdout, 1<<20)
	cw, err := archive.Compress(bw, c, level)
	if err != nil {
		return archive.Stats{}, err
	}
	st, err := archive.WriteTar(ctx, cw, root, archive.WriteOptions{Excludes: excludes, Progress: progress})
	if cerr := cw.Close(); err == nil {
		err = cerr
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return st, err
}

func helperRestore(ctx context.Context, dest string, stdin io.Reader, c archive.Compression, excludes []string, progress func(int64)) (archive.Stats, error) {
	in := bufio.NewReaderSize(stdin, 1<<20)
	dr, err := archive.Decompress(in, c)
	if err != nil {
		return archive.Stats{}, err
	}
	defer dr.Close()
	st, err := archive.Extract(ctx, dr, dest, archive.ExtractOptions{SameOwner: true, Excludes: excludes, Progress: progress})
	if err != nil {
		return st, err
	}
	// Read what the tar reader left (end-of-archive padding, codec trailer) so that the
	// sender never sees a broken pipe on success, and a damaged tail is still noticed.
	if _, err := io.Copy(io.Discard, dr); err != nil {
		return st, fmt.Errorf("reading archive tail: %w", err)
	}
	_, _ = io.Copy(io.Discard, in)
	return st, nil
}

// streamSum counts and hashes a stream.
type streamSum struct {
	n int64
	h hash.Hash
}

func newStreamSum() *streamSum { return &streamSum{h: sha256.New()} }

func (s *streamSum) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	return s.h.Write(p)
}

func (s *streamSum) hex() string { return hex.EncodeToString(s.h.Sum(nil)) }

// reporter writes protocol lines to stderr, one at a time.
type reporter struct {
	mu    sync.Mutex
	w     io.Writer
	total int64
	sent  int64
}

func (r *reporter) add(n int64) {
	r.mu.Lock()
	r.total += n
	r.mu.Unlock()
}

func (r *reporter) send(m helperMsg) {
	b, _ := json.Marshal(m)
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = r.w.Write(append(b, '\n'))
}

// start reports progress every progressInterval until the returned func is called.
func (r *reporter) start() func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				r.mu.Lock()
				total, sent := r.total, r.sent
				r.sent = total
				r.mu.Unlock()
				if total > sent {
					r.send(helperMsg{Progress: total})
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
