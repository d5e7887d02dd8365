package upgrade

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker/compose/v5/pkg/compose"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
)

// A release's compose file that changes a named volume's declaration (driver, driver_opts,
// labels: what compose's volume config hash covers) meets a volume that exists with the old
// one. Compose (v5.2+) then asks "Volume ... exists but doesn't match configuration in
// compose file. Recreate (data will be lost)?" when the volume carries a config hash, and
// leaves it alone when it carries none (created by an older compose, or restored by
// docker-maim). docker-maim answers no: the volume, its data, its driver and its options
// stay; the new declaration is not applied. So the adoption is a breaking change (the new
// version may rely on the new driver or options), and even accepted nothing is recreated.

// VolumeChange is a named volume whose declaration the adoption changes while a volume
// with the old one exists.
type VolumeChange = maim.VolumeChange

// VolumeInspector is what volumeChanges needs from the engine.
type VolumeInspector interface {
	VolumeInspect(ctx context.Context, volumeID string, options client.VolumeInspectOptions) (client.VolumeInspectResult, error)
}

// volumeChanges finds the volumes of newp (not external) whose declaration differs from
// p's (compose.VolumeHash) and that exist in the engine with another driver, other driver
// options, or a config hash other than the new declaration's. A volume that does not exist
// yet is created with the new declaration: not a change.
func volumeChanges(ctx context.Context, eng VolumeInspector, p, newp *project.Project) ([]VolumeChange, error) {
	var out []VolumeChange
	keys := make([]string, 0, len(newp.Volumes))
	for k := range newp.Volumes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		want := newp.Volumes[key]
		if want.External {
			continue
		}
		if old, ok := p.Volumes[key]; ok && !bool(old.External) {
			oh, err1 := compose.VolumeHash(old)
			nh, err2 := compose.VolumeHash(want)
			if err1 == nil && err2 == nil && oh == nh {
				continue
			}
		}
		res, err := eng.VolumeInspect(ctx, want.Name, client.VolumeInspectOptions{})
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", want.Name, err)
		}
		if what := volumeDiffers(want, res.Volume); len(what) > 0 {
			out = append(out, VolumeChange{Volume: key, Name: want.Name, What: what})
		}
	}
	return out, nil
}

// volumeDiffers says how the existing volume v differs from the declaration want.
func volumeDiffers(want types.VolumeConfig, v volume.Volume) []string {
	var what []string
	driver := want.Driver
	if driver == "" {
		driver = "local"
	}
	if v.Driver != driver {
		what = append(what, fmt.Sprintf("driver %s -> %s", v.Driver, driver))
	}
	if !maps.Equal(nonNil(v.Options), nonNil(want.DriverOpts)) {
		what = append(what, fmt.Sprintf("driver_opts %s -> %s", showOpts(v.Options), showOpts(want.DriverOpts)))
	}
	if h := v.Labels[project.LabelConfigHash]; h != "" && len(what) == 0 {
		if nh, err := compose.VolumeHash(want); err == nil && nh != h {
			what = append(what, "labels or other configuration (compose's config hash differs)")
		}
	}
	return what
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func showOpts(m map[string]string) string {
	if len(m) == 0 {
		return "(none)"
	}
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k+"="+m[k])
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// volumeFinding is the breaking-change finding of a volume change.
func volumeFinding(vc VolumeChange) Finding {
	return Finding{Service: "volume " + vc.Volume, Reason: fmt.Sprintf("the new compose file changes %s (%s) while the volume exists: compose would ask to recreate it, losing its data, and docker-maim answers no; accepted, the volume and its data stay as they are and the new configuration is not applied (to apply it: back up, remove the volume, `docker compose up -d`, restore its data)", vc.Name, strings.Join(vc.What, "; "))}
}
