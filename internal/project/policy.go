package project

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	maim "github.com/docker-maim/docker-maim/internal/api"
)

// Policy is a source's backup policy (api.SourcePolicy).
type Policy = maim.SourcePolicy

// The x-maim key that sets a source's backup policy: on a top-level volume
// (`volumes: {media: {x-maim: {backup: never}}}`) or on a service's mount in the long
// syntax (`volumes: [{type: bind, source: ./media, target: /m, x-maim: {backup: changed}}]`).
// The volume label maim.LabelSourcePolicy does the same as the volume's key.
// The key max_deltas beside it says after how many incremental backups the source is
// archived whole again (MaxDeltas).
const (
	extensionKey = "x-maim"
	keyBackup    = "backup"
	keyMaxDeltas = "max_deltas"
)

// applyPolicies sets each source's Policy: what the compose file says (the volume's
// x-maim key, else its label; a mount's key, which must agree with the volume's and the
// other mounts'), then overrides (by source name, as --source-policy gives them), which
// must each name a source; always when nothing says.
func (p *Project) applyPolicies(srcs []Source, overrides map[string]Policy) error {
	set := map[string]Policy{}
	from := map[string]string{}
	put := func(name string, pol Policy, where string) error {
		if have, ok := set[name]; ok && have != pol {
			return fmt.Errorf("source %s: backup policy %s (%s) and %s (%s) disagree", name, have, from[name], pol, where)
		}
		set[name], from[name] = pol, where
		return nil
	}
	deltas, err := p.maxDeltas()
	if err != nil {
		return err
	}
	for key, cfg := range p.Volumes {
		pol, where, err := volumePolicy(key, cfg)
		if err != nil {
			return err
		}
		if pol != "" {
			if err := put(key, pol, where); err != nil {
				return err
			}
		}
	}
	for _, svcName := range p.ServiceNames() {
		for _, v := range p.Services[svcName].Volumes {
			where := "service " + svcName + " mount " + v.Target + " " + extensionKey + "." + keyBackup
			pol, err := extPolicy(v.Extensions, where)
			if err != nil || pol == "" {
				if err != nil {
					return err
				}
				continue
			}
			name := v.Source
			if v.Type == types.VolumeTypeBind {
				path := v.Source
				if !filepath.IsAbs(path) {
					path = filepath.Join(p.WorkingDir, path)
				}
				name = p.relName(path)
			} else if v.Type != types.VolumeTypeVolume || v.Source == "" {
				name = "anon:" + svcName + ":" + v.Target
			}
			if err := put(name, pol, where); err != nil {
				return err
			}
		}
	}
	known := map[string]bool{}
	var names []string
	for i := range srcs {
		known[srcs[i].Name] = true
		names = append(names, srcs[i].Name)
		if srcs[i].Kind == KindProjectFile || srcs[i].Kind == KindHostPath {
			continue // the project's own files are always taken, host paths never
		}
		srcs[i].Policy, srcs[i].MaxDeltas = maim.PolicyAlways, deltas[srcs[i].Name]
		if pol, ok := set[srcs[i].Name]; ok {
			srcs[i].Policy = pol
		}
		if pol, ok := overrides[srcs[i].Name]; ok {
			srcs[i].Policy = pol
		}
	}
	var unknown []string
	for _, n := range maim.PolicyNames(overrides) {
		if !known[n] {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(names)
		return fmt.Errorf("--source-policy %s: no such data source (the project has: %s)", strings.Join(unknown, ", "), strings.Join(names, ", "))
	}
	return nil
}

// volumePolicy reads a top-level volume's policy: its x-maim key, else its label.
func volumePolicy(key string, cfg types.VolumeConfig) (Policy, string, error) {
	where := "volume " + key + " " + extensionKey + "." + keyBackup
	pol, err := extPolicy(cfg.Extensions, where)
	if err != nil || pol != "" {
		return pol, where, err
	}
	if v, ok := cfg.Labels[maim.LabelSourcePolicy]; ok {
		where = "volume " + key + " label " + maim.LabelSourcePolicy
		pol, err := maim.ParseSourcePolicy(v)
		if err != nil {
			return "", where, fmt.Errorf("%s: %w", where, err)
		}
		return pol, where, nil
	}
	return "", "", nil
}

// extPolicy reads x-maim.backup from a compose extensions map ("" when not set).
func extPolicy(ext map[string]any, where string) (Policy, error) {
	raw, ok := ext[extensionKey]
	if !ok || raw == nil {
		return "", nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return "", fmt.Errorf("%s: %s must be a mapping, not %T", where, extensionKey, raw)
	}
	v, ok := m[keyBackup]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: want always, changed or never, not %v", where, v)
	}
	pol, err := maim.ParseSourcePolicy(s)
	if err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	return pol, nil
}

// maxDeltas reads x-maim.max_deltas of the top-level volumes and of the services' mounts,
// by source name (a volume's key or a mount's source as Sources names it).
func (p *Project) maxDeltas() (map[string]int, error) {
	out := map[string]int{}
	read := func(name string, ext map[string]any, where string) error {
		x, _ := ext[extensionKey].(map[string]any)
		v, ok := x[keyMaxDeltas]
		if !ok || v == nil {
			return nil
		}
		n, ok := v.(int)
		if !ok || n < 1 || n > 1000 {
			return fmt.Errorf("%s %s.%s: want a whole number from 1 to 1000, not %v", where, extensionKey, keyMaxDeltas, v)
		}
		out[name] = n
		return nil
	}
	for key, cfg := range p.Volumes {
		if err := read(key, cfg.Extensions, "volume "+key); err != nil {
			return nil, err
		}
	}
	for _, svcName := range p.ServiceNames() {
		for _, v := range p.Services[svcName].Volumes {
			name := v.Source
			if v.Type == types.VolumeTypeBind {
				path := v.Source
				if !filepath.IsAbs(path) {
					path = filepath.Join(p.WorkingDir, path)
				}
				name = p.relName(path)
			}
			if err := read(name, v.Extensions, "service "+svcName+" mount "+v.Target); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
