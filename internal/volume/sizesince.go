package volume

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/fsaccess"
	"github.com/docker-maim/docker-maim/internal/helper"
)

// IncrementSizer is a Mover that can measure, before a backup, what an incremental
// backup of a target over a base index can write at most (fsaccess.MeasureSince).
type IncrementSizer interface {
	SizeSince(ctx context.Context, t Target, excludes []string, since *archive.Index) (fsaccess.Increment, error)
}

// SizeSince measures the increment of t over since on the host fast path with
// fsaccess.MeasureSince (metadata only); an error when that path cannot reach t (a target
// reached only through a helper container: HelperSizeSince).
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

// HelperIncrementSizer is a Mover that can measure an increment inside a helper container
// (one container start): for a target the host fast path cannot reach.
type HelperIncrementSizer interface {
	HelperSizeSince(ctx context.Context, t Target, excludes []string, since *archive.Index) (fsaccess.Increment, error)
}

// HelperSizeSince measures the increment of t over since inside a helper container
// (`maim-helper measure --since-stdin`: the index goes framed on its stdin, as pass two's
// does, and the Increment comes back as JSON in the {"index"} pieces), t mounted read-only.
// It records no data path: nothing moves.
func (m *EngineMover) HelperSizeSince(ctx context.Context, t Target, excludes []string, since *archive.Index) (fsaccess.Increment, error) {
	if err := t.validate(); err != nil {
		return fsaccess.Increment{}, err
	}
	// Never mount a volume that is not there (HelperSize).
	if err := m.checkSource(ctx, t); err != nil {
		return fsaccess.Increment{}, err
	}
	p, _, _, err := m.pickFor1(ctx, t, false)
	if err != nil {
		return fsaccess.Increment{}, err
	}
	if p != PathHelper {
		return fsaccess.Increment{}, fmt.Errorf("measuring %s: no helper container on this engine", t)
	}
	var in, out bytes.Buffer
	if err := helper.WriteFramed(&in, since); err != nil {
		return fsaccess.Increment{}, err
	}
	mounts, binds, dir := helperMounts(t, true)
	args := []string{"measure", "--since-stdin"}
	for _, ex := range excludes {
		args = append(args, "--exclude", ex)
	}
	h := helperRun{labels: m.targetLabels(t), args: append(args, dir), mounts: mounts, binds: binds, stdin: &in, index: &out}
	if _, err := m.runWithHelperImage(ctx, h); err != nil {
		return fsaccess.Increment{}, fmt.Errorf("measuring %s: %w", t, err)
	}
	var inc fsaccess.Increment
	if err := json.Unmarshal(out.Bytes(), &inc); err != nil {
		return fsaccess.Increment{}, fmt.Errorf("measuring %s: the helper's result: %w", t, err)
	}
	return inc, nil
}
