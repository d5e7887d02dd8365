package helper

import (
	"context"
	"encoding/json"
	"io"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/fsaccess"
)

// measure --since-stdin reads a base's final index from stdin, framed by its length as
// WriteFramed frames it (as backup --since-stdin receives pass one's), measures what an
// incremental backup of PATH over it can write at most (fsaccess.MeasureSince, metadata
// only) and sends that fsaccess.Increment as JSON in {"index"} pieces before the stats
// (whose Bytes are the increment's content bytes; the stream it reports is the index it
// read, which the host checks against what it sent). It is how the upgrade's space check
// bounds the increment of a volume reached only through a helper container.

// measureSince is measure with --since-stdin.
func (inv *invocation) measureSince(ctx context.Context, stdin io.Reader, rep *reporter) int {
	sum := NewStreamSum() // the host checks the stream it sent: the framed index
	since, err := readFramed(io.TeeReader(stdin, sum))
	if err != nil {
		return rep.fail(1, err)
	}
	inc, err := fsaccess.MeasureSince(ctx, inv.target, inv.excludes, since)
	if err != nil {
		return rep.fail(1, err)
	}
	b, err := json.Marshal(inc)
	if err != nil {
		return rep.fail(1, err)
	}
	rep.sendBytes(b)
	rep.send(Msg{Stats: &archive.Stats{Bytes: inc.Bytes}, StreamBytes: sum.N, StreamSHA256: sum.Hex()})
	return 0
}
