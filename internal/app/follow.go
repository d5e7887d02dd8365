package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"
)

// follow copies the complete lines of the log at path to w, from its start, while
// another process appends to it, until the api.DetachedEnd line (returned, not copied).
// It reads through one open file, never seeking: every byte is read once, and a line is
// copied only once its newline is read, so no line is missed, cut or copied twice
// whatever sizes the writer writes in. At the end of the file it polls every interval;
// when alive says the writer is gone it reads once more and, with no end line, fails.
// Cancelling ctx stops following and returns ctx's error.
func follow(ctx context.Context, path string, w io.Writer, alive func() bool, interval time.Duration) (maim.DetachedEnd, error) {
	f, err := os.Open(path)
	if err != nil {
		return maim.DetachedEnd{}, err
	}
	defer f.Close()
	var pending []byte
	buf := make([]byte, 64<<10)
	gone := false
	for {
		n, rerr := f.Read(buf)
		pending = append(pending, buf[:n]...)
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			line := pending[:i]
			if end, ok := maim.ParseDetachedEnd(line); ok {
				return end, nil
			}
			if _, err := w.Write(pending[:i+1]); err != nil {
				return maim.DetachedEnd{}, err
			}
			pending = pending[i+1:]
		}
		if rerr != nil && rerr != io.EOF {
			return maim.DetachedEnd{}, rerr
		}
		if n > 0 {
			continue
		}
		if gone {
			return maim.DetachedEnd{}, errors.New("the detached process ended without a result (killed?)")
		}
		if !alive() {
			gone = true // one more read: what it wrote before it ended
			continue
		}
		select {
		case <-ctx.Done():
			return maim.DetachedEnd{}, ctx.Err()
		case <-time.After(interval):
		}
	}
}
