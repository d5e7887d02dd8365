package snapshot

import (
	"path/filepath"
	"strings"

	"github.com/docker-maim/docker-maim/internal/fsaccess"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/volume"
)

// TargetOf is where the Mover reaches a source's data: a named or anonymous volume by its
// engine name, a bind-mounted directory or file by its host path. It is false for the kinds
// the Mover never handles: a project file (archived and restored on this host) and a host
// path (never archived; an included one has a bind kind).
//
// dir is the project dir: a single file inside it is confined to it when its data is read
// or written (volume.Target.Root), so a symlink swapped in for the file or a dir above it
// after the plan is followed only while it stays inside the project. A file outside it (an
// included host path) is confined to its own directory; one that is an included symlink
// leading out of the project (--include-host-path) is reached at the file the link leads to
// now, the user having opted in to that link.
func TargetOf(src project.Source, dir string) (volume.Target, bool) {
	switch src.Kind {
	case project.KindVolume, project.KindAnonymous:
		return volume.Target{Kind: volume.KindVolume, VolumeName: src.VolumeName}, true
	case project.KindBindDir, project.KindBindFile:
		t := volume.Target{Kind: volume.KindBind, HostPath: src.HostPath, IsFile: src.Kind == project.KindBindFile}
		if !t.IsFile {
			return t, true
		}
		if strings.HasPrefix(src.HostReason, project.HostLinkOutside) {
			if real, err := filepath.EvalSymlinks(src.HostPath); err == nil {
				t.HostPath = real
			}
			return t, true
		}
		if dir != "" && project.Within(src.HostPath, dir) {
			t.Root = filepath.Clean(dir)
		}
		return t, true
	}
	return volume.Target{}, false
}

// fileBeneath is the confinement of a project file read or written on this host (the
// compose and env files): the project dir dir when the file lies inside it, else the
// file's own directory (see TargetOf).
func fileBeneath(path, dir string) *fsaccess.Beneath {
	root := filepath.Dir(path)
	if dir != "" && project.Within(path, dir) {
		root = filepath.Clean(dir)
	}
	b := &fsaccess.Beneath{Dir: root}
	if real, err := filepath.EvalSymlinks(root); err == nil && real != root {
		b.Aliases = []string{real}
	}
	return b
}
