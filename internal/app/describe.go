package app

// Describe: what shell completion offers, read from the compose files and the backup store
// alone.

import (
	"context"
	"errors"
	"os"
	"sort"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/moby/moby/client"
)

// noContainers is the project.ContainerLister of Describe: no engine is asked, so a
// project is never found by its containers' labels and has no anonymous volumes.
type noContainers struct{}

func (noContainers) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{}, nil
}

// Describe reads the project from its compose files (offline: compose's loader, no
// engine) and its backups from the store (every engine's), taking no lock and writing
// nothing. A project named by -p (or COMPOSE_PROJECT_NAME) without compose files here
// still gets its backups listed; the load error is returned with what was read.
func (s *service) Describe(ctx context.Context, o maim.DescribeOptions) (*maim.DescribeResult, error) {
	res := &maim.DescribeResult{Project: o.Scope.Name, Services: []string{}, Profiles: []string{}, Sources: []string{}, Backups: []maim.BackupRow{}}
	if res.Project == "" {
		res.Project = os.Getenv("COMPOSE_PROJECT_NAME")
	}
	loadErr := s.describeProject(ctx, o.Scope, res)
	if res.Project == "" {
		return res, loadErr
	}
	st, err := store(o.Scope)
	if err != nil {
		return res, errors.Join(loadErr, err)
	}
	list, err := listBackups(st, res.Project, true)
	if err != nil {
		return res, errors.Join(loadErr, err)
	}
	for _, r := range list.Backups {
		r.Owner = "" // the store has no origin to compare with: no engine was asked
		res.Backups = append(res.Backups, r)
	}
	return res, loadErr
}

// describeProject fills in the project's name, services, profiles and resettable sources
// from its compose files.
func (s *service) describeProject(ctx context.Context, sc maim.Scope, res *maim.DescribeResult) error {
	cs, err := s.compose()
	if err != nil {
		return err
	}
	p, err := project.Resolve(ctx, cs, noContainers{}, project.Options{Files: sc.Files, Name: sc.Name, WorkingDir: sc.WorkingDir, EnvFiles: sc.EnvFiles, Profiles: sc.Profiles})
	if err != nil {
		return err
	}
	res.Project = p.Name
	res.Services = append(append(res.Services, p.ServiceNames()...), p.DisabledServiceNames()...)
	sort.Strings(res.Services)
	res.Profiles = append(res.Profiles, p.AllServices().GetProfiles()...)
	sort.Strings(res.Profiles)
	srcs, err := p.Sources(ctx, noContainers{})
	if err != nil {
		return err
	}
	for _, src := range srcs {
		if src.Kind == project.KindVolume || src.Kind == project.KindBindDir {
			res.Sources = append(res.Sources, src.Name)
		}
	}
	return nil
}
