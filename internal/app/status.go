package app

// The status verb: what the project runs now, its last operations and any interrupted one,
// its backups and its application versions. It reads only (no lock).

import (
	"context"
	"path/filepath"
	"sort"
	"strings"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/maibotgate"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/upgrade"
	"github.com/moby/moby/client"
)

func (s *service) Status(ctx context.Context, o api.StatusOptions) (*api.StatusResult, error) {
	ss, err := s.open(ctx, o.Scope, lockNone)
	if err != nil {
		return nil, err
	}
	defer ss.close()
	st, err := status(ctx, ss.eng, ss.proj, ss.store, ss.state)
	if st != nil {
		if st.Detached = runningOp(filepath.Join(ss.state.ProjectDir(ss.proj.Name), "ops")); st.Detached != nil {
			st.Interrupted = nil
		}
	}
	return st, err
}

// statusEngine is the engine calls status needs.
type statusEngine interface {
	project.ContainerLister
	ContainerInspect(ctx context.Context, id string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	upgrade.ImageInspector
}

// status gathers project p's status from the engine, the journal and history in state, and
// the backup store.
func status(ctx context.Context, eng statusEngine, p *project.Project, store backup.Store, state backup.State) (*api.StatusResult, error) {
	st := &api.StatusResult{Project: p.Name}
	var err error
	if st.Services, err = serviceStatus(ctx, eng, p.Name); err != nil {
		return nil, err
	}
	j := journal.Journals{State: state, Store: store, Project: p.Name}
	if err := lastOperations(j, st); err != nil {
		return nil, err
	}
	if err := interrupted(j, p.Name, st); err != nil {
		return nil, err
	}
	if all, err := store.List(p.Name); err == nil {
		st.Backups = len(all)
	}
	st.AppVersions, _ = maibotgate.AppVersions(p) // a version that cannot be read is absent
	if u := st.LastUpgrade; u != nil && u.BackupID != "" {
		if e, err := store.Get(p.Name, u.BackupID); err == nil && e.Manifest != nil {
			st.LastUpgradeAppVersions = e.Manifest.AppVersions
		}
	}
	return st, nil
}

// serviceStatus is each container of the project's services (one-offs aside) as it is now,
// sorted by service then container name: its state, its health (from the list, else from an
// inspect) and its image's version and digest when the image can be read.
func serviceStatus(ctx context.Context, eng statusEngine, name string) ([]api.ServiceStatus, error) {
	cs, err := project.Containers(ctx, eng, name)
	if err != nil {
		return nil, err
	}
	out := []api.ServiceStatus{}
	for _, c := range cs {
		s := api.ServiceStatus{Service: c.Labels[project.LabelService], Image: c.Image, ImageID: c.ImageID, State: string(c.State)}
		if len(c.Names) > 0 {
			s.Container = strings.TrimPrefix(c.Names[0], "/")
		}
		if c.Health != nil {
			s.Health = string(c.Health.Status)
		} else if ci, err := eng.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{}); err == nil && ci.Container.State != nil && ci.Container.State.Health != nil {
			s.Health = string(ci.Container.State.Health.Status)
		}
		if info, err := upgrade.InspectImage(ctx, eng, c.ImageID); err == nil {
			s.Version = info.Version
			if len(info.Digests) > 0 {
				s.Digest = info.Digests[0]
			}
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Container < out[j].Container
	})
	return out, nil
}

// lastOperations sets st's last operation and last upgrade (one that had something to do)
// from the project's history.
func lastOperations(j journal.Journals, st *api.StatusResult) error {
	hist, err := j.History()
	if err != nil {
		return err
	}
	for i := len(hist) - 1; i >= 0; i-- {
		if st.LastOp == nil {
			r := hist[i]
			st.LastOp = &r
		}
		if hist[i].Op == "upgrade" && hist[i].Result != string(api.OutcomeNothingToDo) {
			r := hist[i]
			st.LastUpgrade = &r
			break
		}
	}
	return nil
}

// interrupted sets st's interrupted operation from a journal left behind, with the command
// that resolves it.
func interrupted(j journal.Journals, name string, st *api.StatusResult) error {
	jr, err := j.Load()
	if err != nil || jr == nil {
		return err
	}
	st.Interrupted = &api.Interrupted{
		Journal: *jr,
		Resolve: []string{"docker maim -p " + name + " rollback   # back to the state before the " + jr.Op},
	}
	return nil
}
