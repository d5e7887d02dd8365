package app

import (
	"context"
	"os"
	"sort"
	"strings"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/moby/moby/client"
)

// containerLister is the engine call Projects needs.
type containerLister interface {
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
}

func (s *service) Projects(ctx context.Context, _ api.ProjectsOptions) (*api.ProjectsResult, error) {
	eng, err := s.engine(ctx)
	if err != nil {
		return nil, err
	}
	st, _, err := s.state(ctx, eng)
	if err != nil {
		return nil, err
	}
	return listProjects(ctx, eng, func(name string) bool {
		fi, err := os.Stat(st.ProjectDir(name))
		return err == nil && fi.IsDir()
	})
}

// listProjects groups the engine's containers by their compose project label, sorted by name.
func listProjects(ctx context.Context, eng containerLister, known func(string) bool) (*api.ProjectsResult, error) {
	res, err := eng.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", project.LabelProject)})
	if err != nil {
		return nil, err
	}
	byName := map[string]*api.ProjectSummary{}
	for _, c := range res.Items {
		name := c.Labels[project.LabelProject]
		if name == "" {
			continue
		}
		p := byName[name]
		if p == nil {
			p = &api.ProjectSummary{Name: name, WorkingDir: c.Labels[project.LabelWorkingDir], Services: []string{}}
			if f := c.Labels[project.LabelConfigFiles]; f != "" {
				p.ConfigFiles = strings.Split(f, ",")
			}
			byName[name] = p
		}
		p.Containers++
		if c.State == "running" {
			p.Running++
		}
		if svc := c.Labels[project.LabelService]; svc != "" && !contains(p.Services, svc) {
			p.Services = append(p.Services, svc)
		}
	}
	out := &api.ProjectsResult{Projects: []api.ProjectSummary{}}
	for _, p := range byName {
		sort.Strings(p.Services)
		p.Known = known(p.Name)
		out.Projects = append(out.Projects, *p)
	}
	sort.Slice(out.Projects, func(i, j int) bool { return out.Projects[i].Name < out.Projects[j].Name })
	return out, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
