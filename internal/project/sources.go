package project

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/moby/moby/api/types/mount"
)

// Kind is what a data source is (api.SourceKind).
type Kind = maim.SourceKind

const (
	KindVolume      Kind = "volume"           // a named volume of the project
	KindAnonymous   Kind = "anonymous-volume" // a volume without a name in the compose file (or an image VOLUME)
	KindBindDir     Kind = "bind-dir"         // a bind-mounted directory
	KindBindFile    Kind = "bind-file"        // a bind-mounted single file
	KindProjectFile Kind = "project-file"     // a compose file or env file of the project itself
	// KindHostPath is a bind source that belongs to the host, not to the project: a socket,
	// a device, /proc, /sys, a system path, or a read-only bind from outside the project
	// dir. It is never archived nor restored unless included (SourceOptions.IncludeHostPaths).
	KindHostPath Kind = "host-path"
)

// Mount is one place a source is mounted.
type Mount struct {
	Service  string `json:"service"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// Source is one thing holding the project's data. Each becomes one archive.
type Source struct {
	// Name is stable across backups of the same project: the compose volume key,
	// "anon:SERVICE:TARGET", a bind path relative to the project dir ("./data"),
	// or "file:compose.yaml".
	Name       string `json:"name"`
	Kind       Kind   `json:"kind"`
	VolumeKey  string `json:"volume_key,omitempty"`
	VolumeName string `json:"volume_name,omitempty"`
	External   bool   `json:"external,omitempty"`
	HostPath   string `json:"host_path,omitempty"`
	// HostReason says why a bind source is a host path ("socket", "device", "system path
	// /etc", ...). It is kept when the host path is included (then Kind is a bind kind),
	// and set for an included symlink leading outside the project: a source with a
	// HostReason and a bind kind was opted in with --include-host-path.
	HostReason string  `json:"host_reason,omitempty"`
	Mounts     []Mount `json:"mounts,omitempty"`
	// Policy is when the source is backed up (always, changed, never: applyPolicies); ""
	// for the project's own files and host paths, and in a backup an older docker-maim made.
	Policy Policy `json:"policy,omitempty"`
	// MaxDeltas is how many incremental backups of the source follow a full one, as the
	// compose file's x-maim max_deltas sets it (0: the default, or --max-deltas).
	MaxDeltas int `json:"max_deltas,omitempty"`
}

// IsFile tells whether the source is a single file.
func (s Source) IsFile() bool { return s.Kind == KindBindFile || s.Kind == KindProjectFile }

// SourceOptions tune SourcesWith.
type SourceOptions struct {
	// IncludeHostPaths are bind sources (absolute, or relative to the project dir) to treat
	// as data although they are host paths or symlinks leading outside the project
	// (--include-host-path).
	IncludeHostPaths []string
	// Policies override the compose file's backup policies, by source name
	// (--source-policy); each must name a data source.
	Policies map[string]Policy
}

// Sources lists every data source of the project: named volumes used by services,
// anonymous volumes (from the compose file or the image, found on the containers),
// bind-mounted directories and files, and the project's compose and env files.
// A bind source inside another bind directory is folded into it (its mounts added),
// so no byte is archived twice. Bind sources that are host paths, not the project's
// data, come back as KindHostPath with a HostReason (see HostPathReason); they are
// never folded into nor fold anything. A bind source that is a symlink leading
// outside the project dir is refused with a *LinkOutsideError.
func (p *Project) Sources(ctx context.Context, lister ContainerLister) ([]Source, error) {
	return p.SourcesWith(ctx, lister, SourceOptions{})
}

// SourcesWith is Sources with options: included host paths are ordinary bind sources.
func (p *Project) SourcesWith(ctx context.Context, lister ContainerLister, opts SourceOptions) ([]Source, error) {
	containers, err := Containers(ctx, lister, p.Name)
	if err != nil {
		return nil, err
	}
	byKey := map[string]*Source{}
	var order []string
	add := func(s Source, m Mount) {
		key := string(s.Kind) + "\x00" + s.VolumeName + s.HostPath
		if s.Kind == KindBindDir || s.Kind == KindBindFile || s.Kind == KindProjectFile {
			key = "path\x00" + s.HostPath
		}
		if have, ok := byKey[key]; ok {
			if m.Service != "" && !hasMount(have.Mounts, m) {
				have.Mounts = append(have.Mounts, m)
			}
			return
		}
		if m.Service != "" {
			s.Mounts = []Mount{m}
		}
		byKey[key] = &s
		order = append(order, key)
	}

	for _, svcName := range p.ServiceNames() {
		svc := p.Services[svcName]
		for _, v := range svc.Volumes {
			m := Mount{Service: svcName, Target: v.Target, ReadOnly: v.ReadOnly}
			switch v.Type {
			case types.VolumeTypeVolume:
				if v.Source == "" {
					continue // anonymous: found on the containers below
				}
				cfg, ok := p.Volumes[v.Source]
				if !ok {
					return nil, fmt.Errorf("service %s mounts undeclared volume %q", svcName, v.Source)
				}
				name := cfg.Name
				if name == "" {
					name = p.Name + "_" + v.Source
				}
				add(Source{Name: v.Source, Kind: KindVolume, VolumeKey: v.Source, VolumeName: name, External: bool(cfg.External)}, m)
			case types.VolumeTypeBind:
				path := v.Source
				if !filepath.IsAbs(path) {
					path = filepath.Join(p.WorkingDir, path)
				}
				kind := KindBindDir
				if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
					kind = KindBindFile
				}
				add(Source{Name: p.relName(path), Kind: kind, HostPath: path}, m)
			}
		}
	}
	// Anonymous volumes live only on the containers: compose's `- /target` entries and
	// VOLUME lines of the image. Named ones were listed above.
	named := map[string]bool{}
	for _, k := range order {
		if byKey[k].Kind == KindVolume {
			named[byKey[k].VolumeName] = true
		}
	}
	for _, c := range containers {
		svc := c.Labels[LabelService]
		for _, mp := range c.Mounts {
			if mp.Type != mount.TypeVolume || mp.Name == "" || named[mp.Name] {
				continue
			}
			add(Source{
				Name:       "anon:" + svc + ":" + mp.Destination,
				Kind:       KindAnonymous,
				VolumeName: mp.Name,
			}, Mount{Service: svc, Target: mp.Destination, ReadOnly: !mp.RW})
		}
	}
	for _, f := range p.ConfigFiles() {
		add(Source{Name: "file:" + p.RelPath(f), Kind: KindProjectFile, HostPath: f}, Mount{})
	}

	out := make([]Source, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	if err := p.classifyBinds(out, opts.IncludeHostPaths); err != nil {
		return nil, err
	}
	out = foldNested(out)
	if err := p.applyPolicies(out, opts.Policies); err != nil {
		return nil, err
	}
	return out, nil
}

func hasMount(ms []Mount, m Mount) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

// foldNested merges host-path sources that lie inside a bind directory into that directory.
func foldNested(srcs []Source) []Source {
	var dirs []int
	for i, s := range srcs {
		if s.Kind == KindBindDir && s.HostReason == "" {
			dirs = append(dirs, i)
		}
	}
	drop := map[int]bool{}
	for i, s := range srcs {
		if s.HostPath == "" || s.HostReason != "" {
			continue
		}
		for _, d := range dirs {
			if d == i || drop[d] {
				continue
			}
			if Within(s.HostPath, srcs[d].HostPath) && !(s.Kind == KindBindDir && s.HostPath == srcs[d].HostPath) {
				for _, m := range s.Mounts {
					if !hasMount(srcs[d].Mounts, m) {
						srcs[d].Mounts = append(srcs[d].Mounts, m)
					}
				}
				drop[i] = true
				break
			}
		}
	}
	out := srcs[:0]
	for i, s := range srcs {
		if !drop[i] {
			out = append(out, s)
		}
	}
	return out
}

// Within tells whether path equals dir or lies below it (both cleaned, absolute).
func Within(path, dir string) bool {
	path, dir = filepath.Clean(path), filepath.Clean(dir)
	if path == dir {
		return true
	}
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// RelPath is path relative to the project dir when inside it, else path itself.
func (p *Project) RelPath(path string) string {
	if rel, err := filepath.Rel(p.WorkingDir, path); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return path
}

func (p *Project) relName(path string) string {
	r := p.RelPath(path)
	if filepath.IsAbs(r) {
		return r
	}
	if r == "." {
		return "./"
	}
	return "./" + r
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// ArchiveBase gives a file-system-safe base name for the i-th source's archive.
func ArchiveBase(i int, s Source) string {
	n := strings.Trim(unsafeChars.ReplaceAllString(strings.TrimPrefix(s.Name, "./"), "_"), "_.")
	if n == "" {
		n = "root"
	}
	if len(n) > 60 {
		n = n[:60]
	}
	return fmt.Sprintf("%02d-%s-%s", i+1, kindShort(s.Kind), n)
}

func kindShort(k Kind) string {
	switch k {
	case KindVolume:
		return "vol"
	case KindAnonymous:
		return "anon"
	case KindBindDir:
		return "dir"
	case KindBindFile:
		return "file"
	case KindHostPath:
		return "host"
	default:
		return "project"
	}
}

// SortByPath orders sources so parents come before what they contain (restore order).
func SortByPath(srcs []Source) {
	sort.SliceStable(srcs, func(i, j int) bool { return len(srcs[i].HostPath) < len(srcs[j].HostPath) })
}
