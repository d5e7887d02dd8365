// Package helper is the in-container side of docker-maim's helper container: the whole of
// the small static program cmd/maim-helper, built for linux/amd64 and linux/arm64 and embedded
// in every docker-maim build (internal/volume imports it as a local image). It writes and
// extracts archives (internal/archive: tar, zstd/gzip, exact extraction) and hashes the
// stream; the host side (internal/volume) parses the JSON lines it writes on stderr ([Msg]).
// The plugin binary never runs it.
package helper

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/fsaccess"
)

// progressInterval is how often the helper reports progress on stderr.
const progressInterval = 200 * time.Millisecond

// Main is the in-container side, run as `maim-helper ARGS...` with args being ARGS:
//
//	backup  --compression zstd|gzip|none --level N [--exclude PATTERN]... [--index-out|[--since-stdin] [--index-final]] [--lifeline] [BENEATH] [DIRECT] PATH
//	restore --compression zstd|gzip|none [--exclude PATTERN]... [--delta] [--await-go] [--lifeline] [BENEATH] [DIRECT] PATH
//	diffrestore [--exclude PATTERN]... --archive FILE... [--staged-stdin] [--await-go] [--lifeline] DIRECT PATH
//	diffstage [--exclude PATTERN]... --archive FILE... [--await-go] [--lifeline] DIRECT PATH
//	diffstage --drop NAME PATH
//	measure [--exclude PATTERN]... [--since-stdin] PATH   (--since-stdin: measuresince.go)
//	swap --from NAME [--root-attrs] PATH | drop --from NAME PATH   (sidedir.go)
//
// Two-pass backups: --index-out makes backup pass one (it also writes the index of what it
// read, archive.Index.WriteTo, as {"index":"BASE64"} lines on stderr before its stats);
// --since-stdin makes it pass two (it reads such an index from stdin first, framed by its
// length (WriteFramed), and writes the delta). --index-final (pass two, or a one-pass
// backup) writes the index of the tree as the archive leaves it (archive.WriteOptions.Final)
// the same way. restore --delta applies a delta over the base extracted before (archive.ApplyDelta).
//
// diffrestore makes PATH equal to a backup rewriting only what differs (DiffRestore): the
// index is the file DIRECT's --in names, the archives (base, then delta) are files of the
// mounted backup dir; its result carries {"diff":{...}}, a fallback reason when nothing was
// touched. A two-pass differential restore: diffstage (pass one, the services running) writes
// the backup's version of each file to rewrite into a stage dir at PATH's root and sends the
// stage record (diffrestore.Staged) as {"index"} pieces; --staged-stdin (pass two) reads that
// record from stdin, framed by its length as WriteFramed frames an index (after the
// go-ahead), renames the untouched staged files into place and removes the stage;
// diffstage --drop NAME removes the stage dir NAME (a failure before the stop).
//
// backup writes the compressed archive of PATH to stdout; restore reads one from stdin and
// makes PATH exactly equal to it, leaving the paths matching the excludes as they are. Both write JSON lines on stderr: {"progress":N} while
// working, then {"stats":{...}} on success or {"error":"..."} on failure (exit code 1; 2 for
// usage errors). measure walks PATH's metadata only and reports {"stats":{...}} with the
// content bytes a backup would count (fsaccess.Measure): the progress total on engines that
// cannot tell a volume's size themselves. It returns the exit code.
//
// BENEATH (single files) is --beneath DIR [--alias PATH]...: PATH is a single file that must
// stay beneath DIR (the project dir, mounted) when it is opened or replaced, symlinks on the
// way followed only while they do; an absolute link may name DIR by its host paths, the
// aliases (fsaccess.Beneath). A link leading out fails the command, nothing read or written.
//
// DIRECT is the backup dir bind-mounted into the container, so the archive never passes
// through the engine's attach stream: --marker FILE --token T name a file the host just
// wrote into that dir with content T, checked before anything else is touched (when it is
// missing or differs, the dir the container sees is not the host's: exit code 3 with
// {"error":...,"not_visible":true}, and the host streams instead); then backup --out FILE
// writes the archive into FILE, an existing file (the repository's temporary file, which the
// host fsyncs and renames), truncating it: never created here, so it keeps the owner and mode
// the host user created it with (also under a user-namespaced engine, where a chown to the
// host's uid would be wrong); restore --in FILE reads the archive from FILE.
//
// restore --await-go touches nothing until its stdin starts with GoAhead: the host sends it
// once its own check of the archive passed, so the container starts while that check runs.
// Anything else (the host closed stdin: the check failed) exits with ExitNoGoAhead, nothing
// touched. In stream mode the archive follows the go-ahead on stdin.
//
// --lifeline ties the run to its caller: after what it reads from stdin (the go-ahead,
// pass one's index, a streamed restore's archive, which comes framed: NewFrameWriter)
// stdin stays open and silent, and when it ends
// (the engine closes it when the caller's attach connection goes: the caller was killed,
// its session dropped, or it cancelled) the run is cancelled and stops at the next safe
// point (between files) with ExitAborted. Without it a helper that reads its archive from
// the backup dir would finish a restore nobody waits for.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}

// Backup writes the compressed archive of root to stdout (also the host fast path of
// internal/volume).
func Backup(ctx context.Context, root string, stdout io.Writer, c archive.Compression, level int, excludes []string, progress func(int64)) (archive.Stats, error) {
	return BackupPass(ctx, root, stdout, c, level, excludes, progress, Pass{})
}

// Pass makes a backup one of a two-pass pair: Record (pass one) is filled with the index of
// what was read; Since (pass two) makes the archive the delta since that index.
type Pass struct {
	Record, Since *archive.Index
	// Final, when set, is filled with the index of the tree as the archive leaves it
	// (archive.WriteOptions.Final).
	Final *archive.Index
	// Beneath, when set, makes root a single file confined to that directory at the
	// moment it is opened (archive.WriteOptions.Beneath).
	Beneath *fsaccess.Beneath
}

// BackupPass is Backup as pass one or two of a two-pass backup.
func BackupPass(ctx context.Context, root string, stdout io.Writer, c archive.Compression, level int, excludes []string, progress func(int64), pass Pass) (archive.Stats, error) {
	bw := bufio.NewWriterSize(stdout, 1<<20)
	cw, err := archive.Compress(bw, c, level)
	if err != nil {
		return archive.Stats{}, err
	}
	st, err := archive.WriteTar(ctx, cw, root, archive.WriteOptions{Excludes: excludes, Progress: progress, Record: pass.Record, Since: pass.Since, Final: pass.Final, Beneath: pass.Beneath})
	if cerr := cw.Close(); err == nil {
		err = cerr
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return st, err
}

// Restore makes dest exactly equal to the compressed archive read from stdin, owners
// included, keeping the paths excludes match (also the host fast path of internal/volume).
func Restore(ctx context.Context, dest string, stdin io.Reader, c archive.Compression, excludes []string, progress func(int64)) (archive.Stats, error) {
	return restore(ctx, dest, stdin, c, excludes, progress, archive.Extract)
}

// RestoreBeneath makes the single file dest equal to the compressed single-file archive
// read from stdin, dest confined to b at the moment it is written
// (archive.ExtractOptions.Beneath).
func RestoreBeneath(ctx context.Context, dest string, b *fsaccess.Beneath, stdin io.Reader, c archive.Compression, progress func(int64)) (archive.Stats, error) {
	return restore(ctx, dest, stdin, c, nil, progress, func(ctx context.Context, r io.Reader, dest string, o archive.ExtractOptions) (archive.Stats, error) {
		o.Beneath = b
		return archive.Extract(ctx, r, dest, o)
	})
}

// RestoreDelta applies the delta of a two-pass backup read from stdin over dest, which holds
// its base (Restore of pass one's archive).
func RestoreDelta(ctx context.Context, dest string, stdin io.Reader, c archive.Compression, excludes []string, progress func(int64)) (archive.Stats, error) {
	return restore(ctx, dest, stdin, c, excludes, progress, archive.ApplyDelta)
}

func restore(ctx context.Context, dest string, stdin io.Reader, c archive.Compression, excludes []string, progress func(int64),
	extract func(context.Context, io.Reader, string, archive.ExtractOptions) (archive.Stats, error)) (archive.Stats, error) {
	in := bufio.NewReaderSize(stdin, 1<<20)
	dr, err := archive.Decompress(in, c)
	if err != nil {
		return archive.Stats{}, err
	}
	defer dr.Close()
	st, err := extract(ctx, dr, dest, archive.ExtractOptions{SameOwner: true, Excludes: excludes, Progress: progress})
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

// ExitNotVisible is the exit code when the marker file is not what the host wrote.
const ExitNotVisible = 3

// ExitAborted is the exit code of a --lifeline run whose stdin ended before it finished:
// the caller is gone (killed, its session dropped, cancelled), so the helper stopped at the
// next safe point (between files) instead of finishing on its own. A restore stopped so has
// changed part of its target: the caller's journal redoes it from the safety backup.
const ExitAborted = 5

// ErrCallerGone is the cause of a --lifeline run's cancellation.
var ErrCallerGone = errors.New("the caller's stream ended before the helper finished")

// watchLifeline cancels with ErrCallerGone when stdin ends (the engine closes it when the
// caller's attach connection goes) or carries anything more: the host keeps it open and
// silent for the whole run.
func watchLifeline(stdin io.Reader, cancel context.CancelCauseFunc) {
	var b [1]byte
	_, _ = stdin.Read(b[:])
	cancel(ErrCallerGone)
}

// NewFrameWriter returns a writer that frames what it is given for a streamed restore
// --lifeline: chunks, each after its length (4 bytes, big endian), then an empty chunk on
// Close, after which stdin stays open as the run's lifeline.
func NewFrameWriter(w io.Writer) io.WriteCloser { return &frameWriter{w: w} }

type frameWriter struct{ w io.Writer }

const maxFrame = 1 << 20

func (f *frameWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := p[:min(len(p), maxFrame)]
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], uint32(len(c)))
		if _, err := f.w.Write(append(hdr[:], c...)); err != nil {
			return n, err
		}
		n += len(c)
		p = p[len(c):]
	}
	return n, nil
}

func (f *frameWriter) Close() error {
	_, err := f.w.Write(make([]byte, 4))
	return err
}

// frameReader reads what a frameWriter wrote: io.EOF after the empty chunk, and from then on
// watches the rest of stdin as the lifeline. stdin ending inside the frames is the caller
// gone as well (ErrCallerGone).
type frameReader struct {
	r      io.Reader
	cancel context.CancelCauseFunc
	left   int
	ended  bool
}

func (f *frameReader) Read(p []byte) (int, error) {
	if f.ended {
		return 0, io.EOF
	}
	if f.left == 0 {
		var hdr [4]byte
		if _, err := io.ReadFull(f.r, hdr[:]); err != nil {
			f.cancel(ErrCallerGone)
			return 0, fmt.Errorf("%w: %v", ErrCallerGone, err)
		}
		f.left = int(binary.BigEndian.Uint32(hdr[:]))
		if f.left == 0 {
			f.ended = true
			go watchLifeline(f.r, f.cancel)
			return 0, io.EOF
		}
	}
	n, err := f.r.Read(p[:min(len(p), f.left)])
	f.left -= n
	if err != nil && f.left > 0 {
		f.cancel(ErrCallerGone)
		return n, fmt.Errorf("%w: %v", ErrCallerGone, err)
	}
	return n, nil
}

// readFramed reads pass one's index as the host frames it on stdin: its length (8 bytes,
// big endian), then archive.Index.WriteTo's bytes. Nothing after it is read.
func readFramed(stdin io.Reader) (*archive.Index, error) {
	var n [8]byte
	if _, err := io.ReadFull(stdin, n[:]); err != nil {
		return nil, fmt.Errorf("reading the index length: %w", err)
	}
	size := binary.BigEndian.Uint64(n[:])
	b := make([]byte, size)
	if _, err := io.ReadFull(stdin, b); err != nil {
		return nil, fmt.Errorf("reading the index: %w", err)
	}
	return archive.ReadIndex(bytes.NewReader(b))
}

// maxFramedBytes bounds a framed stage record (readFramedBytes).
const maxFramedBytes = 1 << 30

// readFramedBytes reads bytes framed as WriteFramedBytes frames them.
func readFramedBytes(stdin io.Reader) ([]byte, error) {
	var n [8]byte
	if _, err := io.ReadFull(stdin, n[:]); err != nil {
		return nil, fmt.Errorf("reading the length: %w", err)
	}
	size := binary.BigEndian.Uint64(n[:])
	if size > maxFramedBytes {
		return nil, fmt.Errorf("a framed record of %d bytes", size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(stdin, b); err != nil {
		return nil, fmt.Errorf("reading the record: %w", err)
	}
	return b, nil
}

// WriteFramedBytes writes b framed by its length (8 bytes, big endian), as WriteFramed
// frames an index: the stage record diffrestore --staged-stdin reads.
func WriteFramedBytes(w io.Writer, b []byte) error {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

// WriteFramed writes idx as readFramed reads it.
func WriteFramed(w io.Writer, idx *archive.Index) error {
	var b bytes.Buffer
	if _, err := idx.WriteTo(&b); err != nil {
		return err
	}
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(b.Len()))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// ExitNoGoAhead is the exit code of a restore --await-go whose stdin did not start with
// GoAhead: the host's check of the archive failed and nothing was touched.
const ExitNoGoAhead = 4

// GoAhead is what restore --await-go waits for on stdin before it touches anything.
const GoAhead = "go\n"

// CheckMarker says whether the file at path holds exactly token: the host wrote it into its
// backup dir just before, so a mismatch means the dir mounted here is not the host's (a
// remote engine, a Docker Desktop VM that does not share it).
func CheckMarker(path, token string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("the backup dir is not visible to the engine: %w", err)
	}
	if string(b) != token {
		return errors.New("the backup dir is not visible to the engine: its marker file differs")
	}
	return nil
}

// StreamSum counts and hashes a stream (an io.Writer).
type StreamSum struct {
	N int64 // bytes written so far
	h hash.Hash
}

// NewStreamSum returns an empty StreamSum.
func NewStreamSum() *StreamSum { return &StreamSum{h: sha256.New()} }

// NewStreamCounter returns a StreamSum that only counts: its Hex is "".
func NewStreamCounter() *StreamSum { return &StreamSum{} }

func (s *StreamSum) Write(p []byte) (int, error) {
	s.N += int64(len(p))
	if s.h == nil {
		return len(p), nil
	}
	return s.h.Write(p)
}

// Hex is the SHA-256 of the bytes written so far ("" for a counter).
func (s *StreamSum) Hex() string {
	if s.h == nil {
		return ""
	}
	return hex.EncodeToString(s.h.Sum(nil))
}

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

func (r *reporter) send(m Msg) {
	b, _ := json.Marshal(m)
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = r.w.Write(append(b, '\n'))
}

// fail reports err and returns the exit code.
func (r *reporter) fail(code int, err error) int {
	r.send(Msg{Error: err.Error()})
	return code
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
					r.send(Msg{Progress: total})
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// indexChunk bounds the index bytes of one {"index":...} line (the host keeps lines below
// 16 KiB).
const indexChunk = 8 << 10

// sendIndex writes idx as {"index":"BASE64"} lines.
func (r *reporter) sendIndex(idx *archive.Index) error {
	var b bytes.Buffer
	if _, err := idx.WriteTo(&b); err != nil {
		return err
	}
	r.sendBytes(b.Bytes())
	return nil
}

// sendBytes writes b as {"index":"BASE64"} lines (also a stage record: diffrestore --stage).
func (r *reporter) sendBytes(b []byte) {
	for p := b; len(p) > 0; {
		n := min(len(p), indexChunk)
		r.send(Msg{Index: p[:n]})
		p = p[n:]
	}
}

// Msg is one JSON line the helper writes on stderr.
type Msg struct {
	Progress int64          `json:"progress,omitempty"` // content bytes so far (cumulative)
	Stats    *archive.Stats `json:"stats,omitempty"`    // final result
	Error    string         `json:"error,omitempty"`
	MaxRSS   int64          `json:"maxrss_kib,omitempty"` // helper's peak RSS, with the stats
	// StreamBytes and StreamSHA256 describe the compressed stream the helper wrote (backup)
	// or read (restore), with the stats.
	StreamBytes  int64  `json:"stream_bytes,omitempty"`
	StreamSHA256 string `json:"stream_sha256,omitempty"`
	// NotVisible, with Error, says the backup dir mounted into the container is not the
	// host's (exit code ExitNotVisible): nothing was touched.
	NotVisible bool `json:"not_visible,omitempty"`
	// Index is a piece of pass one's index (backup --index-out), before the stats; the
	// pieces in order are archive.Index.WriteTo's bytes.
	Index []byte `json:"index,omitempty"`
	// Diff is what diffrestore did, with the stats.
	Diff *DiffReport `json:"diff,omitempty"`
}
