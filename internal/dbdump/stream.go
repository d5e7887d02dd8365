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
	tw := &teeWriter{archive: archive, load: pw, midway: midway}
	terr := Take(ctx, eng, service, id, c, tw)
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
