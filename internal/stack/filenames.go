package stack

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	maim "github.com/docker-maim/docker-maim/internal/api"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/composefile"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker/compose/v5/pkg/compose"
	"github.com/moby/moby/api/types/container"
)

// The compose file names what runs: after an upgrade, a rollback, a restore or a resolved
// journal, a plain `docker compose up -d` must recreate nothing. These helpers find and
// write the minimal edits (internal/composefile) that make each service's image reference
// in the project's files the one its container runs, make a backup's recorded images run
// again, and find the services whose containers the files describe otherwise (compose's
// own config hash against the container's label).

// FileSources are the files a project's image references come from.
func FileSources(p *project.Project) composefile.Sources {
	src := composefile.Sources{ComposeFiles: p.ComposeFiles, EnvFiles: p.EnvFiles}
	for name := range p.DisabledServices {
		src.Inactive = append(src.Inactive, name)
	}
	return src
}

// LoadOptions select project p again from its files.
func LoadOptions(p *project.Project) project.Options {
	var env []string
	for _, f := range p.EnvFiles {
		if filepath.Clean(f) != filepath.Join(p.WorkingDir, ".env") {
			env = append(env, f)
		}
	}
	return project.Options{Files: p.ComposeFiles, Name: p.Name, WorkingDir: p.WorkingDir, EnvFiles: env, Profiles: p.Profiles}
}

// Differing keeps the services of want whose reference in p is another one.
func Differing(p *project.Project, want map[string]string) map[string]string {
	out := map[string]string{}
	for svc, ref := range want {
		if s, ok := p.Services[svc]; ok && ref != "" && s.Image != ref {
			out[svc] = ref
		}
	}
	return out
}

// planNames works out the edits that make p's files name want (service -> reference);
// what cannot be edited becomes a warning (the file is then left as it is).
func planNames(p *project.Project, want map[string]string, why string) ([]composefile.Edit, []string) {
	want = Differing(p, want)
	if len(want) == 0 {
		return nil, nil
	}
	edits, err := composefile.Plan(FileSources(p), want)
	var warns []string
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			warns = append(warns, fmt.Sprintf("the compose files are left naming another image than %s: %s; a plain `docker compose up -d` would change the service: edit the file by hand", why, line))
		}
	}
	return edits, warns
}

// NameWhatRuns rewrites p's files so each service of want names its reference, and
// returns the edits written and warnings.
func (m *Env) NameWhatRuns(p *project.Project, want map[string]string, why string) ([]composefile.Edit, []string) {
	edits, warns := planNames(p, want, why)
	if len(edits) == 0 {
		return nil, warns
	}
	if err := composefile.Apply(edits); err != nil {
		return nil, append(warns, fmt.Sprintf("writing the image references into the compose files failed (%v): they are left as they were", err))
	}
	for _, e := range edits {
		m.Logf("edited %s", e.Describe(p.WorkingDir))
	}
	return edits, warns
}

// Reload loads p again from its (edited) files.
func (m *Env) Reload(ctx context.Context, p *project.Project) (*project.Project, error) {
	np, err := m.Load(ctx, LoadOptions(p))
	if err != nil {
		return nil, fmt.Errorf("loading the edited compose files: %w", err)
	}
	return np, nil
}

// RunRecorded makes the services of man (only those in only, when only is not nil) run
// the image the backup recorded for them, under the reference their container was created
// from: the image made present (pulled by digest when gone), the reference pointed at it
// (a floating tag like ":latest" that a pull moved is put back), and p's files edited to
// name that reference when they name another (a minimal edit; when that cannot be done the
// file is left as it is, with a warning, and the reference is used for the recreate). It
// returns the project to recreate, loaded again after any edit.
func (m *Env) RunRecorded(ctx context.Context, p *project.Project, man *backup.Manifest, only map[string]bool) (*project.Project, []composefile.Edit, []string, error) {
	pinned := map[string]string{}
	for _, s := range man.Services {
		if s.ImageID == "" || (only != nil && !only[s.Name]) {
			continue
		}
		if err := EnsureImage(ctx, m.Engine, s.ImageID, s.RepoDigests, m.Auth); err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		ref := RecordedRef(s)
		if err := Repoint(ctx, m.Engine, s.ImageID, ref); err != nil {
			return nil, nil, nil, fmt.Errorf("re-pinning %s to %s: %w", ref, ShortID(s.ImageID), err)
		}
		if svc, ok := p.Services[s.Name]; ok && svc.Image != ref {
			pinned[s.Name] = ref
		}
	}
	edits, warns := m.NameWhatRuns(p, pinned, "the one the service runs")
	if len(edits) > 0 {
		np, err := m.Reload(ctx, p)
		if err != nil {
			return nil, edits, warns, err
		}
		p = np
		for svc, ref := range pinned {
			if s, ok := p.Services[svc]; ok && s.Image == ref {
				delete(pinned, svc)
			}
		}
	}
	return WithImages(p, pinned), edits, warns, nil
}

// RecordedRef is the reference a backup's service ran from.
func RecordedRef(s backup.Service) string {
	if s.RunningRef != "" {
		return s.RunningRef
	}
	return s.Image
}

// Recreated is a service a command recreated, and why.
type Recreated = maim.Recreated

// WhyDescribedDifferently is why a restore recreates a service whose container the
// restored compose files describe otherwise.
const WhyDescribedDifferently = "the restored compose file describes it differently"

// Described lists the services of p whose containers (cs) a plain `docker compose up -d`
// would recreate because p describes them differently: compose's own config hash of the
// service as compose up models it (asComposeUp, then compose.ServiceHash with service
// references resolved to container IDs the way compose resolves them) against the
// container's com.docker.compose.config-hash label.
// Only services that have a container are compared; a service sharing the namespace or the
// volumes of a recreated one is recreated with it, as compose would. The order is p's.
func Described(p *project.Project, cs []container.Summary) ([]Recreated, error) {
	byService := map[string][]container.Summary{}
	for _, c := range cs {
		byService[c.Labels[project.LabelService]] = append(byService[c.Labels[project.LabelService]], c)
	}
	for _, list := range byService {
		slices.SortFunc(list, func(a, b container.Summary) int { return strings.Compare(containerName(a), containerName(b)) })
	}
	order, err := p.Order()
	if err != nil {
		return nil, err
	}
	var out []Recreated
	why := map[string]string{}
	for _, name := range order {
		svc, ok := p.Services[name]
		if !ok || len(byService[name]) == 0 {
			continue
		}
		hash, err := compose.ServiceHash(withResolvedRefs(asComposeUp(svc), byService))
		if err != nil {
			return nil, fmt.Errorf("%s: config hash: %w", name, err)
		}
		for _, c := range byService[name] {
			if c.Labels[project.LabelConfigHash] != hash {
				why[name] = WhyDescribedDifferently
			}
		}
	}
	// Sharing a namespace or volumes of a recreated service: recreated too (to a fixed point).
	for changed := true; changed; {
		changed = false
		for _, name := range order {
			svc, ok := p.Services[name]
			if !ok || why[name] != "" || len(byService[name]) == 0 {
				continue
			}
			for _, parent := range sharedParents(svc) {
				if why[parent] != "" {
					why[name], changed = "it shares the namespace or volumes of "+parent+", which is recreated", true
					break
				}
			}
		}
	}
	for _, name := range order {
		if why[name] != "" {
			out = append(out, Recreated{Service: name, Why: why[name], Image: p.Services[name].Image})
		}
	}
	return out, nil
}

// sharedParents are the services whose namespaces (network_mode, ipc, pid: "service:X")
// or volumes (volumes_from) svc uses.
func sharedParents(svc types.ServiceConfig) []string {
	var out []string
	for _, mode := range []string{svc.NetworkMode, svc.Ipc, svc.Pid} {
		if name, ok := strings.CutPrefix(mode, types.NetworkModeServicePrefix); ok {
			out = append(out, name)
		}
	}
	for _, v := range svc.VolumesFrom {
		if name, _, _ := strings.Cut(v, ":"); name != "container" {
			out = append(out, name)
		}
	}
	return out
}

// withResolvedRefs is svc with its references to other services replaced by their first
// container's ID, as compose hashes it when it creates the container.
func withResolvedRefs(svc types.ServiceConfig, byService map[string][]container.Summary) types.ServiceConfig {
	first := func(name string) (string, bool) {
		if cs := byService[name]; len(cs) > 0 {
			return cs[0].ID, true
		}
		return "", false
	}
	for _, mode := range []*string{&svc.NetworkMode, &svc.Ipc, &svc.Pid} {
		if name, ok := strings.CutPrefix(*mode, types.NetworkModeServicePrefix); ok {
			if id, ok := first(name); ok {
				*mode = types.ContainerPrefix + id
			}
		}
	}
	svc.VolumesFrom = slices.Clone(svc.VolumesFrom)
	for i, v := range svc.VolumesFrom {
		spec := strings.Split(v, ":")
		if spec[0] == "container" && len(spec) > 1 {
			svc.VolumesFrom[i] = spec[1]
		} else if id, ok := first(spec[0]); ok {
			svc.VolumesFrom[i] = id
		}
	}
	return svc
}

func containerName(c container.Summary) string {
	if len(c.Names) == 0 {
		return c.ID
	}
	return strings.TrimPrefix(c.Names[0], "/")
}
