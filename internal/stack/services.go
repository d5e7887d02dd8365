package stack

import (
	"context"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker/compose/v5/pkg/api"
)

// WithImages returns the project with --image overrides applied.
func WithImages(p *project.Project, images map[string]string) *project.Project {
	if len(images) == 0 {
		return p
	}
	cp := *p.Project
	cp.Services = types.Services{}
	for name, s := range p.Services {
		if ref, ok := images[name]; ok {
			s.Image = ref
		}
		cp.Services[name] = s
	}
	return &project.Project{Project: &cp, EnvFiles: p.EnvFiles}
}

// Recreate recreates every service of the project on its (present) images, keeping
// anonymous volumes, never pulling, never removing orphans. With services, only those are
// recreated: their dependencies are started (created when they have no container) as
// they are. The services are handed over as `docker compose up` models them
// (asComposeUp), so the user's next `docker compose up -d` finds the same config hash.
func (m *Env) Recreate(ctx context.Context, p *project.Project, services ...string) error {
	return m.Up(ctx, p, false, services...)
}

// Up is Recreate; removeOrphans also removes the project's containers of services p does
// not have (a compose-file swap: the services the new files removed, or, rolling back,
// the ones they added).
func (m *Env) Up(ctx context.Context, p *project.Project, removeOrphans bool, services ...string) error {
	pp := *p.Project
	pp.Services = types.Services{}
	for name, s := range p.Services {
		if s.PullPolicy == "" || s.PullPolicy == types.PullPolicyAlways || s.PullPolicy == types.PullPolicyMissing {
			s.PullPolicy = types.PullPolicyNever
		}
		pp.Services[name] = asComposeUp(s)
	}
	create := api.CreateOptions{Recreate: api.RecreateForce, RecreateDependencies: api.RecreateForce, Inherit: true, QuietPull: true, RemoveOrphans: removeOrphans}
	if len(services) > 0 {
		narrowed, err := pp.WithSelectedServices(services)
		if err != nil {
			return err
		}
		pp = *narrowed
		create.Services, create.RecreateDependencies = services, api.RecreateNever
	}
	return m.Compose.Up(ctx, &pp, api.UpOptions{Create: create, Start: api.StartOptions{Project: &pp}})
}

// asComposeUp is a service as `docker compose up` hands it to the engine: env_file already
// merged into environment (the loader did that) and the env_file list dropped. compose's
// config hash covers the whole service, so a container created with the list would be
// recreated by the user's next `docker compose up -d`.
func asComposeUp(s types.ServiceConfig) types.ServiceConfig {
	s.EnvFiles = nil
	return s
}

// StartAgain starts what ran before, with a context that survives cancellation.
func (m *Env) StartAgain(ctx context.Context, p *project.Project, r project.Running) error {
	if r.Empty() {
		return nil
	}
	m.Logf("starting %s", r.Describe())
	return p.Start(context.WithoutCancel(ctx), m.Engine, r)
}

// StartWhatRan starts the services of r again, in dependency order: the containers they
// had, or for the services in recreated the ones made since (a recreate replaced them).
// What a recreate started that was not running is stopped again.
func (m *Env) StartWhatRan(ctx context.Context, p *project.Project, r project.Running, recreated []string) error {
	if len(recreated) == 0 {
		return m.StartAgain(ctx, p, r)
	}
	cs, err := project.Containers(ctx, m.Engine, p.Name)
	if err != nil {
		return err
	}
	now := project.Running{Services: r.Services, IDs: map[string][]string{}, OneOffs: r.OneOffs}
	for _, s := range r.Services {
		if !slices.Contains(recreated, s) {
			now.IDs[s] = r.IDs[s]
			continue
		}
		for _, c := range cs {
			if c.Labels[project.LabelService] == s {
				now.IDs[s] = append(now.IDs[s], c.ID)
			}
		}
	}
	if err := m.StartAgain(ctx, p, now); err != nil {
		return err
	}
	return m.LeaveStopped(context.WithoutCancel(ctx), p, r.Services)
}

// LeaveStopped stops every service of p that runs now but is not in running (what ran
// before the command): a recreate starts every service it touches.
func (m *Env) LeaveStopped(ctx context.Context, p *project.Project, running []string) error {
	now, err := p.RunningContainers(ctx, m.Engine)
	if err != nil {
		return err
	}
	extra := project.Running{IDs: map[string][]string{}}
	for _, s := range now.Services {
		if !slices.Contains(running, s) {
			extra.Services = append(extra.Services, s)
			extra.IDs[s] = now.IDs[s]
		}
	}
	if extra.Empty() {
		return nil
	}
	m.Logf("stopping %s again (it was not running)", strings.Join(extra.Services, ", "))
	return p.Stop(ctx, m.Engine, extra)
}
