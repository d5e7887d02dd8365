package dbdump

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// TakeAndLoad is Take of a PostgreSQL dump from container id (of service) with c, its
// output written to archive and, at the same time, fed to LoadAndAnalyze in container
// loadID (environment loadEnv): one stream, tee'd, so the bytes loaded are exactly the
// bytes archived (the archive is hashed as it is written by its caller). The dump and the
// load run concurrently (psql reads while pg_dumpall writes), as `pg_dumpall | psql` does.
// midway, when set, is called once after the first teeBuffer bytes passed (the upgrade's
// failpoint inside the stream). The first failure ends both: a
// load that fails ends the dump, a dump that fails ends the load.
func TakeAndLoad(ctx context.Context, eng Engine, service, id string, c Command, archive io.Writer, loadID string, loadEnv []string, midway func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	loaded := make(chan error, 1)
	go func() {
		err := LoadAndAnalyze(ctx, eng, service, loadID, loadEnv, pr)
		if err == nil {
			// psql read to the end of its input: nothing may still be unsent.
			_, _ = io.Copy(io.Discard, pr)
		}
		pr.CloseWithError(errLoadEnded)
		loaded <- err
	}()
	aw := newAsyncWriter(archive)
	tw := &teeWriter{archive: aw, load: pw, midway: midway}
	terr := Take(ctx, eng, service, id, c, tw)
	if aerr := aw.Close(); terr == nil && aerr != nil {
		terr = fmt.Errorf("writing the dump into the backup: %w", aerr)
	}
	pw.CloseWithError(terr) // nil: the end of the dump
	if terr != nil {
		cancel()
	}
	lerr := <-loaded
	switch {
	case lerr != nil && (terr == nil || errors.Is(terr, errLoadEnded) || errors.Is(terr, io.ErrClosedPipe)):
		return lerr
	case terr != nil:
		return terr
	}
	return nil
}

// errLoadEnded is what writing to a load that ended gives.
var errLoadEnded = errors.New("the load into the new cluster ended")

// asyncWriter writes to w in a goroutine of its own, up to asyncChunks pieces queued: the
// archive's compression runs beside the transfer into the load instead of between its
// pieces. Close waits until everything queued is written and returns the first error.
// The bytes written are the bytes queued, in order: the tee stays exact.
type asyncWriter struct {
	ch   chan []byte
	done chan error
}

// asyncChunks bounds the queue (the attach stream's pieces are 32 KiB at most: 8 MiB).
const asyncChunks = 256

func newAsyncWriter(w io.Writer) *asyncWriter {
	a := &asyncWriter{ch: make(chan []byte, asyncChunks), done: make(chan error, 1)}
	go func() {
		var err error
		for b := range a.ch {
			if err == nil {
				_, err = w.Write(b)
			}
		}
		a.done <- err
	}()
	return a
}

// Write queues a copy of p (a failed write of w shows at Close; the rest is then dropped).
func (a *asyncWriter) Write(p []byte) (int, error) {
	a.ch <- append([]byte(nil), p...)
	return len(p), nil
}

// Close ends the queue and returns the first error of the writes.
func (a *asyncWriter) Close() error {
	close(a.ch)
	return <-a.done
}

// teeWriter writes each piece of the dump to the archive, then to the load.
type teeWriter struct {
	archive, load io.Writer
	midway        func()
	n             int64
	once          sync.Once
}

// teeBuffer is how many bytes pass before midway fires.
const teeBuffer = 1 << 20

func (t *teeWriter) Write(p []byte) (int, error) {
	if _, err := t.archive.Write(p); err != nil {
		return 0, fmt.Errorf("writing the dump into the backup: %w", err)
	}
	if _, err := t.load.Write(p); err != nil {
		return 0, err
	}
	t.n += int64(len(p))
	if t.midway != nil && t.n >= teeBuffer {
		t.once.Do(t.midway)
	}
	return len(p), nil
}
