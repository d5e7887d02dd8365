package snapshot

import (
	"testing"

	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/volume"
)

func TestTargetOf(t *testing.T) {
	for _, c := range []struct {
		src  project.Source
		want volume.Target
		ok   bool
	}{
		{project.Source{Name: "data", Kind: project.KindVolume, VolumeName: "p_data"},
			volume.Target{Kind: volume.KindVolume, VolumeName: "p_data"}, true},
		{project.Source{Name: "anon:db:/var/lib", Kind: project.KindAnonymous, VolumeName: "0123abc"},
			volume.Target{Kind: volume.KindVolume, VolumeName: "0123abc"}, true},
		{project.Source{Name: "./data", Kind: project.KindBindDir, HostPath: "/srv/p/data"},
			volume.Target{Kind: volume.KindBind, HostPath: "/srv/p/data"}, true},
		{project.Source{Name: "./bot.toml", Kind: project.KindBindFile, HostPath: "/srv/p/bot.toml"},
			volume.Target{Kind: volume.KindBind, HostPath: "/srv/p/bot.toml", IsFile: true, Root: "/srv/p"}, true},
		{project.Source{Name: "/srv/shared/a.toml", Kind: project.KindBindFile, HostPath: "/srv/shared/a.toml", HostReason: project.HostReadOnly},
			volume.Target{Kind: volume.KindBind, HostPath: "/srv/shared/a.toml", IsFile: true}, true},
		{project.Source{Name: "file:compose.yaml", Kind: project.KindProjectFile, HostPath: "/srv/p/compose.yaml"},
			volume.Target{}, false},
		{project.Source{Name: "/var/run/docker.sock", Kind: project.KindHostPath, HostPath: "/var/run/docker.sock", HostReason: "socket"},
			volume.Target{}, false},
	} {
		got, ok := TargetOf(c.src, "/srv/p")
		if got != c.want || ok != c.ok {
			t.Errorf("%s (%s): got %+v %v, want %+v %v", c.src.Name, c.src.Kind, got, ok, c.want, c.ok)
		}
	}
}
