package volume

import (
	"context"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/fsaccess"
)

// IncrementSizer is a Mover that can measure, before a backup, what an incremental
// backup of a target over a base index can write at most (fsaccess.MeasureSince).
type IncrementSizer interface {
	SizeSince(ctx context.Context, t Target, excludes []string, since *archive.Index) (fsaccess.Increment, error)
}

// SizeSince measures the increment of t over since on the host fast path with
// fsaccess.MeasureSince (metadata only); an error when that path cannot reach t (a target
// reached only through a helper container: the caller then counts it whole).
func (m *EngineMover) SizeSince(ctx context.Context, t Target, excludes []string, since *archive.Index) (fsaccess.Increment, error) {
	if err := t.validate(); err != nil {
		return fsaccess.Increment{}, err
	}
	if err := m.hostUsable(ctx); err != nil {
		return fsaccess.Increment{}, err
	}
	p, err := m.hostDataPath(ctx, t, false)
	if err != nil {
		return fsaccess.Increment{}, err
	}
	return fsaccess.MeasureSince(ctx, p, excludes, since)
}
