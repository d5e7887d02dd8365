package snapshot

import (
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/volume"
)

// TargetOf is where the Mover reaches a source's data: a named or anonymous volume by its
// engine name, a bind-mounted directory or file by its host path. It is false for the kinds
// the Mover never handles: a project file (archived and restored on this host) and a host
// path (never archived; an included one has a bind kind).
func TargetOf(src project.Source) (volume.Target, bool) {
	switch src.Kind {
	case project.KindVolume, project.KindAnonymous:
		return volume.Target{Kind: volume.KindVolume, VolumeName: src.VolumeName}, true
	case project.KindBindDir, project.KindBindFile:
		return volume.Target{Kind: volume.KindBind, HostPath: src.HostPath, IsFile: src.Kind == project.KindBindFile}, true
	}
	return volume.Target{}, false
}
