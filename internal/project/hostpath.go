package project

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// systemDirs are host directories whose binds are the host's, never the project's data.
var systemDirs = []string{"/etc", "/dev", "/run", "/var/run", "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/boot"}

// Reasons a bind source is a host path (Source.HostReason).
const (
	HostSocket   = "socket"
	HostDevice   = "device"
	HostReadOnly = "read-only, outside the project"
	// HostLinkOutside (followed by the target) marks an included bind source that is a
	// symlink leading outside the project.
	HostLinkOutside = "symlink leading outside the project to"
)

// HostPathReason tells why the bind source s is a host path and not the project's data,
// or "" when it is data. A socket or a device node is a host path wherever it lies.
// Otherwise a path inside the project dir is data; outside it, /proc, /sys, the host's
// root and paths under systemDirs are host paths, and so is a path every service mounts
// read-only (the project reads it, the host owns it). A missing path is judged by its
// name: compose creates it as an empty directory.
func (p *Project) HostPathReason(s Source) string {
	if fi, err := os.Stat(s.HostPath); err == nil {
		switch {
		case fi.Mode()&os.ModeSocket != 0:
			return HostSocket
		case fi.Mode()&os.ModeDevice != 0:
			return HostDevice
		}
	}
	path := filepath.Clean(s.HostPath)
	if Within(path, p.WorkingDir) {
		return ""
	}
	if path == "/" {
		return "the host's root directory"
	}
	for _, fs := range []string{"/proc", "/sys"} {
		if Within(path, fs) {
			return "kernel file system " + fs
		}
	}
	for _, dir := range systemDirs {
		if Within(path, dir) {
			return "system path " + dir
		}
	}
	if len(s.Mounts) == 0 {
		return ""
	}
	for _, m := range s.Mounts {
		if !m.ReadOnly {
			return ""
		}
	}
	return HostReadOnly
}

// LinkOutsideError refuses a bind source that is a symlink leading outside the project
// dir: archiving or restoring it would read or write wherever the link points.
type LinkOutsideError struct {
	Source string // source name ("./data")
	Link   string // the bind path
	Target string // where it resolves to
	Dir    string // the project dir
}

func (e *LinkOutsideError) Error() string {
	return fmt.Sprintf("bind source %s is a symlink: %s -> %s, outside the project dir %s; refusing to back it up or restore through it "+
		"(bind the target itself, or pass --include-host-path %s to back it up and restore it through the link)",
		e.Source, e.Link, e.Target, e.Dir, e.Source)
}

// linkOutside reports where path leads when it is a bind source that is a symlink (or,
// inside the project, lies below one) resolving outside the project dir.
func (p *Project) linkOutside(path string) (target string, out bool) {
	path = filepath.Clean(path)
	resolved := resolvePath(path, 0)
	if resolved == path {
		return "", false
	}
	if Within(resolved, resolvePath(filepath.Clean(p.WorkingDir), 0)) || Within(resolved, p.WorkingDir) {
		return "", false
	}
	if Within(path, p.WorkingDir) {
		return resolved, true
	}
	// Outside the project only the source itself being a link counts: a bind below a
	// symlinked directory of the host (/srv -> /mnt/srv) is an ordinary path.
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return resolved, true
	}
	return "", false
}

// resolvePath is path with every symlink resolved, also when its last components do not
// exist (they are appended to the resolved existing part) or a link dangles (it is
// followed by name).
func resolvePath(path string, depth int) string {
	if depth > 40 {
		return path
	}
	rest := ""
	cur := path
	for {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest)
		}
		if t, err := os.Readlink(cur); err == nil {
			if !filepath.IsAbs(t) {
				t = filepath.Join(filepath.Dir(cur), t)
			}
			return filepath.Join(resolvePath(filepath.Clean(t), depth+1), rest)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return path
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// classifyBinds marks host paths (KindHostPath with HostReason) and refuses bind sources
// that are symlinks leading outside the project, except those in include.
func (p *Project) classifyBinds(srcs []Source, include []string) error {
	want := map[string]string{} // cleaned absolute path -> as given
	for _, x := range include {
		abs := x
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(p.WorkingDir, abs)
		}
		want[filepath.Clean(abs)] = x
	}
	used := map[string]bool{}
	for i := range srcs {
		s := &srcs[i]
		if s.Kind != KindBindDir && s.Kind != KindBindFile {
			continue
		}
		_, included := want[filepath.Clean(s.HostPath)]
		if included {
			used[filepath.Clean(s.HostPath)] = true
		}
		if reason := p.HostPathReason(*s); reason != "" {
			s.HostReason = reason
			if !included {
				s.Kind = KindHostPath
			} else if reason == HostSocket || reason == HostDevice {
				return fmt.Errorf("--include-host-path %s: a %s cannot be backed up", want[filepath.Clean(s.HostPath)], reason)
			}
			continue
		}
		if target, out := p.linkOutside(s.HostPath); out {
			if !included {
				return &LinkOutsideError{Source: s.Name, Link: s.HostPath, Target: target, Dir: p.WorkingDir}
			}
			s.HostReason = HostLinkOutside + " " + target
		}
	}
	for abs, x := range want {
		if used[abs] {
			continue
		}
		var binds []string
		for _, s := range srcs {
			if s.Kind == KindBindDir || s.Kind == KindBindFile || s.Kind == KindHostPath {
				binds = append(binds, s.HostPath)
			}
		}
		have := "none"
		if len(binds) > 0 {
			have = strings.Join(binds, ", ")
		}
		return fmt.Errorf("--include-host-path %s: no service binds %s (bind sources: %s)", x, abs, have)
	}
	return nil
}
