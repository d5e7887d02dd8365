package upgrade

import (
	"context"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker/compose/v5/pkg/compose"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
)

type volumes map[string]volume.Volume

func (v volumes) VolumeInspect(_ context.Context, name string, _ client.VolumeInspectOptions) (client.VolumeInspectResult, error) {
	vol, ok := v[name]
	if !ok {
		return client.VolumeInspectResult{}, errdefs.ErrNotFound.WithMessage("no such volume " + name)
	}
	return client.VolumeInspectResult{Volume: vol}, nil
}

func withVolumes(vs map[string]types.VolumeConfig) *project.Project {
	return &project.Project{Project: &types.Project{Name: "demo", Volumes: vs}}
}

// TestVolumeChanges: an adoption that changes an existing volume's driver or driver_opts
// (or, for a volume compose hashed, its labels) is a breaking change naming the volume; one
// that leaves the declaration as it is, a volume not created yet, and an external volume
// are not. The plan says the volume is kept, never recreated.
func TestVolumeChanges(t *testing.T) {
	local := types.VolumeConfig{Name: "demo_data"}
	nfs := types.VolumeConfig{Name: "demo_data", Driver: "local", DriverOpts: map[string]string{"type": "nfs", "o": "addr=10.0.0.1", "device": ":/srv"}}
	labelled := types.VolumeConfig{Name: "demo_data", Labels: types.Labels{"tier": "gold"}}
	hash, err := compose.VolumeHash(local)
	if err != nil {
		t.Fatal(err)
	}
	existing := volumes{"demo_data": {Name: "demo_data", Driver: "local", Labels: map[string]string{project.LabelConfigHash: hash}}}
	unhashed := volumes{"demo_data": {Name: "demo_data", Driver: "local"}}
	for _, tc := range []struct {
		what     string
		old, new types.VolumeConfig
		eng      volumes
		want     string // "" : no change
	}{
		{"driver_opts added", local, nfs, existing, "driver_opts (none) -> device=:/srv,o=addr=10.0.0.1,type=nfs"},
		{"driver changed", local, types.VolumeConfig{Name: "demo_data", Driver: "rexray"}, existing, "driver local -> rexray"},
		{"labels changed, hashed", local, labelled, existing, "config hash"},
		{"labels changed, no hash", local, labelled, unhashed, ""},
		{"same declaration", nfs, nfs, existing, ""},
		{"not created yet", local, nfs, volumes{}, ""},
		{"external", local, types.VolumeConfig{Name: "demo_data", External: true}, existing, ""},
	} {
		got, err := volumeChanges(context.Background(), tc.eng, withVolumes(map[string]types.VolumeConfig{"data": tc.old}), withVolumes(map[string]types.VolumeConfig{"data": tc.new}))
		if err != nil {
			t.Fatalf("%s: %v", tc.what, err)
		}
		if tc.want == "" {
			if len(got) != 0 {
				t.Errorf("%s: %+v, want no change", tc.what, got)
			}
			continue
		}
		if len(got) != 1 || got[0].Volume != "data" || !strings.Contains(strings.Join(got[0].What, "; "), tc.want) {
			t.Errorf("%s: %+v, want one change of data saying %q", tc.what, got, tc.want)
			continue
		}
		f := volumeFinding(got[0])
		if f.Service != "volume data" || !strings.Contains(f.Reason, "demo_data") || !strings.Contains(f.Reason, "not applied") {
			t.Errorf("%s: finding %+v", tc.what, f)
		}
	}
}
