package snapshot

import (
	"context"

	"github.com/docker-maim/docker-maim/internal/fsaccess"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"
)

// Unknown is the size of a source that could not be measured.
const Unknown int64 = -1

// minDiskUsageAPI is the first API version whose /system/df honours type=volume: older
// engines compute every image's and container's size too, which can take minutes.
const minDiskUsageAPI = "1.42"

// Sizes measures the content bytes each source holds now, what a backup of it will count
// (backup.Source.Bytes), keyed by source name; Unknown where it cannot be told. Bind
// paths and project files are walked on this host (fsaccess.Measure, metadata only); a
// volume is walked through the Mover's host fast path when it has one (volume.Sizer), else
// taken from the engine's volume usage data (/system/df, on engines that can list volumes
// alone; the engine counts excluded files and symlinks too, so that size is rougher), else
// measured in a helper container (volume.HelperSizer: one container start each). The
// sizes are progress totals and space estimates, never a promise.
func (s *Service) Sizes(ctx context.Context, srcs []project.Source, excludes []string) map[string]int64 {
	out := make(map[string]int64, len(srcs))
	var df map[string]int64
	for _, src := range srcs {
		n := Unknown
		switch src.Kind {
		case project.KindVolume, project.KindAnonymous:
			if sz, ok := s.Mover.(volume.Sizer); ok {
				t, _ := TargetOf(src, "")
				if v, err := sz.Size(ctx, t, excludes); err == nil {
					n = v
					break
				}
			}
			if df == nil {
				df = s.volumeUsage(ctx)
			}
			if v, ok := df[src.VolumeName]; ok {
				n = v
				break
			}
			if hs, ok := s.Mover.(volume.HelperSizer); ok {
				t, _ := TargetOf(src, "")
				if v, err := hs.HelperSize(ctx, t, excludes); err == nil {
					n = v
				}
			}
		case project.KindBindDir, project.KindBindFile, project.KindProjectFile:
			ex := excludes
			if src.Kind == project.KindProjectFile {
				ex = nil
			}
			if v, err := fsaccess.Measure(ctx, src.HostPath, ex); err == nil {
				n = v
			}
		}
		out[src.Name] = n
	}
	return out
}

// volumeUsage is the engine's size of each volume it has measured (an empty map when it
// cannot tell: an old API, an error, or sizes reported as -1).
func (s *Service) volumeUsage(ctx context.Context) map[string]int64 {
	out := map[string]int64{}
	v, err := s.Engine.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil || versions.LessThan(v.APIVersion, minDiskUsageAPI) {
		return out
	}
	du, err := s.Engine.DiskUsage(ctx, client.DiskUsageOptions{Volumes: true, Verbose: true})
	if err != nil {
		return out
	}
	for _, vol := range du.Volumes.Items {
		if vol.UsageData != nil && vol.UsageData.Size >= 0 {
			out[vol.Name] = vol.UsageData.Size
		}
	}
	return out
}
