package snapshot

import (
	"context"
	"errors"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/fsaccess"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/volume"
)

// SourceEstimate is what a backup can write of one source at most, worked out before
// anything stops (EstimateBackup).
type SourceEstimate struct {
	// Bytes bound what the backup writes of the source: for an increment, the content
	// bytes of the regular files its base's index does not have as they are now, plus
	// their headers and the index (fsaccess.Increment.Estimate); else the full size (Unknown
	// when that is unknown).
	Bytes int64
	// Base is the ID of the backup the source's increment builds on ("" : taken whole).
	Base string
	// Changed are an increment's content bytes alone (fsaccess.Increment.Bytes): the
	// regular files its base's index does not have as they are now.
	Changed int64
	// Whole says why a source that could be incremental is counted whole ("" when it is
	// an increment, or never incremental: a single file, a project file).
	Whole string
}

// EstimateBackup bounds what a backup with opts (Reason, Full, MaxDeltas, Compression,
// Excludes as the backup will have them) writes of each of srcs, by name; full are their
// full sizes (Sizes). A source is an increment when the backup would find a base for it
// (incrementalOf: the same listing, policy and checks) and its tree can be measured
// against the base's index, metadata only (fsaccess.MeasureSince: in this process a bind
// directory on its host path, a volume through the Mover's host fast path,
// volume.IncrementSizer; else in a helper container, volume.HelperIncrementSizer). A
// source the measure fails on is counted whole (Whole says so): the estimate is never
// below what the backup can write.
//
// The bound is exact (what the backup's first pass writes at most: fsaccess.Increment's
// metadata bound aside) when nothing in the sources changes between the estimate and the
// backup; a file written after it is not counted (the caller's margins are for that).
func (s *Service) EstimateBackup(ctx context.Context, p *project.Project, srcs []project.Source, opts BackupOptions, full map[string]int64) map[string]SourceEstimate {
	if opts.Compression == "" {
		opts.Compression = archive.Zstd
	}
	if opts.Reason == "" {
		opts.Reason = "manual"
	}
	pl := &BackupPlan{opts: opts}
	out := make(map[string]SourceEstimate, len(srcs))
	for _, src := range srcs {
		e := SourceEstimate{Bytes: Unknown}
		if n, ok := full[src.Name]; ok {
			e.Bytes = n
		}
		inc := s.incrementalOf(p, src, pl)
		switch {
		case inc == nil:
		case !inc.hasBase():
			e.Whole = inc.why
		default:
			x, err := s.measureIncrement(ctx, src, opts.Excludes, inc.base.idx)
			switch {
			case err != nil:
				e.Whole = "its increment over backup " + inc.base.entry.ID + " cannot be measured (" + err.Error() + "): counted whole"
			case !x.Delta:
				e.Whole = x.Why
				if e.Bytes < 0 {
					e.Bytes = x.Full
				}
			default:
				e.Bytes, e.Base, e.Changed = x.Estimate(), inc.base.entry.ID, x.Bytes
			}
		}
		out[src.Name] = e
	}
	return out
}

// measureIncrement measures src's tree against idx (fsaccess.MeasureSince): a bind
// directory on its host path; a volume through the Mover's host fast path
// (volume.IncrementSizer), else inside a helper container (volume.HelperIncrementSizer:
// one container start, the index on its stdin).
func (s *Service) measureIncrement(ctx context.Context, src project.Source, excludes []string, idx *archive.Index) (fsaccess.Increment, error) {
	if src.Kind == project.KindBindDir {
		return fsaccess.MeasureSince(ctx, src.HostPath, excludes, idx)
	}
	t, _ := TargetOf(src, "")
	err := errors.New("this data path cannot measure an increment")
	if sz, ok := s.Mover.(volume.IncrementSizer); ok {
		var x fsaccess.Increment
		if x, err = sz.SizeSince(ctx, t, excludes, idx); err == nil {
			return x, nil
		}
	}
	if hs, ok := s.Mover.(volume.HelperIncrementSizer); ok {
		return hs.HelperSizeSince(ctx, t, excludes, idx)
	}
	return fsaccess.Increment{}, err
}

// EstimateSources fills in sizes (the plan's sources with their full sizes, Bytes) what
// EstimateBackup finds of srcs: each increment's base and bound, why a source is counted
// whole. It returns the backup's bound (the sum of SourceSize.Estimate) and its full size
// (the sum of Bytes), unknown sizes left out of both.
func (s *Service) EstimateSources(ctx context.Context, p *project.Project, srcs []project.Source, opts BackupOptions, sizes []api.SourceSize) (bound, full int64) {
	known := make(map[string]int64, len(sizes))
	for _, sz := range sizes {
		known[sz.Name] = sz.Bytes
	}
	est := s.EstimateBackup(ctx, p, srcs, opts, known)
	for i := range sizes {
		sz := &sizes[i]
		if e, ok := est[sz.Name]; ok {
			if e.Base != "" {
				sz.IncrementOf, sz.IncrementBytes = e.Base, e.Bytes
			}
			sz.Whole = e.Whole
		}
		if sz.Bytes > 0 {
			full += sz.Bytes
		}
		if b := sz.Estimate(); b > 0 {
			bound += b
		}
	}
	return bound, full
}
