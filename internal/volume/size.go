package volume

import (
	"context"
	"fmt"

	"github.com/docker-maim/docker-maim/internal/fsaccess"
)

// Sizer is a Mover that can tell, before a backup, how many content bytes it will read
// from a target (what archive.Stats.Bytes will count), so progress has a total.
type Sizer interface {
	Size(ctx context.Context, t Target, excludes []string) (int64, error)
}

// HelperSizer is a Mover that can measure a target inside a helper container: slower than
// a Sizer (a container start), so asked last.
type HelperSizer interface {
	HelperSize(ctx context.Context, t Target, excludes []string) (int64, error)
}

// Size measures t on the host fast path with fsaccess.Measure (metadata only); an error
// when that path cannot reach t (the size is then unknown to this Mover, see HelperSize).
func (m *EngineMover) Size(ctx context.Context, t Target, excludes []string) (int64, error) {
	if err := t.validate(); err != nil {
		return 0, err
	}
	if err := m.hostUsable(ctx); err != nil {
		return 0, err
	}
	p, err := m.hostDataPath(ctx, t, false)
	if err != nil {
		return 0, err
	}
	return fsaccess.Measure(ctx, p, excludes)
}

// HelperSize measures t with fsaccess.Measure inside a helper container (`maim-helper
// measure`, one short run with t mounted read-only): the progress total where neither the
// host path nor the engine can tell a volume's size (a non-root user on an engine before
// API 1.42, see internal/snapshot). It costs a container start, so callers ask the engine
// first. It records no data path: nothing moves.
func (m *EngineMover) HelperSize(ctx context.Context, t Target, excludes []string) (int64, error) {
	if err := t.validate(); err != nil {
		return 0, err
	}
	// Never mount a volume that is not there: the engine would create it, without the
	// labels compose gives its volumes (a restore after `docker compose down -v`).
	if err := m.checkSource(ctx, t); err != nil {
		return 0, err
	}
	p, _, _, err := m.pickFor1(ctx, t, false)
	if err != nil {
		return 0, err
	}
	if p != PathHelper {
		return 0, fmt.Errorf("measuring %s: no helper container on this engine", t)
	}
	mounts, binds, dir := helperMounts(t, true)
	args := []string{"measure"}
	for _, ex := range excludes {
		args = append(args, "--exclude", ex)
	}
	st, err := m.runWithHelperImage(ctx, helperRun{labels: m.targetLabels(t), args: append(args, dir), mounts: mounts, binds: binds})
	if err != nil {
		return 0, fmt.Errorf("measuring %s: %w", t, err)
	}
	return st.Bytes, nil
}
