package upgrade

import (
	"context"
	maim "github.com/docker-maim/docker-maim/internal/api"
	"sort"
	"strings"

	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/moby/moby/client"
)

// ServiceStatus is one container of a service as it is now.
type ServiceStatus = maim.ServiceStatus

// Status is the project's state, its last upgrade and any interrupted operation.
type Status = maim.StatusResult

// Interrupted describes a journal left behind and how to resolve it.
type Interrupted = maim.Interrupted

// Status gathers the project's status. It needs no lock.
func (m *Manager) Status(ctx context.Context, p *project.Project) (*Status, error) {
	st := &Status{Project: p.Name, Services: []ServiceStatus{}}
	cs, err := project.Containers(ctx, m.Engine, p.Name)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		s := ServiceStatus{Service: c.Labels[project.LabelService], Image: c.Image, ImageID: c.ImageID, State: string(c.State)}
		if len(c.Names) > 0 {
			s.Container = strings.TrimPrefix(c.Names[0], "/")
		}
		if c.Health != nil {
			s.Health = string(c.Health.Status)
		} else if ci, err := m.Engine.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{}); err == nil && ci.Container.State != nil && ci.Container.State.Health != nil {
			s.Health = string(ci.Container.State.Health.Status)
		}
		if info, err := inspectImage(ctx, m.Engine, c.ImageID); err == nil {
			s.Version = info.Version
			if len(info.Digests) > 0 {
				s.Digest = info.Digests[0]
			}
		}
		st.Services = append(st.Services, s)
	}
	sort.Slice(st.Services, func(i, j int) bool {
		if st.Services[i].Service != st.Services[j].Service {
			return st.Services[i].Service < st.Services[j].Service
		}
		return st.Services[i].Container < st.Services[j].Container
	})
	j := m.journals(p.Name)
	hist, err := j.History()
	if err != nil {
		return nil, err
	}
	for i := len(hist) - 1; i >= 0; i-- {
		if st.LastOp == nil {
			r := hist[i]
			st.LastOp = &r
		}
		if hist[i].Op == "upgrade" && hist[i].Result != string(OutcomeNothingToDo) {
			r := hist[i]
			st.LastUpgrade = &r
			break
		}
	}
	jr, err := j.Load()
	if err != nil {
		return nil, err
	}
	if jr != nil {
		in := &Interrupted{Journal: *jr}
		in.Resolve = []string{"docker maim -p " + p.Name + " rollback   # back to the state before the " + jr.Op}
		st.Interrupted = in
	}
	if all, err := m.Store.List(p.Name); err == nil {
		st.Backups = len(all)
	}
	st.AppVersions, _ = appVersions(p) // a version that cannot be read is absent
	if u := st.LastUpgrade; u != nil && u.BackupID != "" {
		if e, err := m.Store.Get(p.Name, u.BackupID); err == nil && e.Manifest != nil {
			st.LastUpgradeAppVersions = e.Manifest.AppVersions
		}
	}
	return st, nil
}
