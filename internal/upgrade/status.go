package upgrade

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/moby/moby/client"
)

// ServiceStatus is one container of a service as it is now.
type ServiceStatus struct {
	Service   string `json:"service"`
	Container string `json:"container"`
	Image     string `json:"image"`
	ImageID   string `json:"image_id"`
	Version   string `json:"version,omitempty"`
	Digest    string `json:"digest,omitempty"`
	State     string `json:"state"`
	Health    string `json:"health,omitempty"`
}

// Status is the project's state, its last upgrade and any interrupted operation.
type Status struct {
	Project     string          `json:"project"`
	Services    []ServiceStatus `json:"services"`
	LastUpgrade *Record         `json:"last_upgrade,omitempty"`
	LastOp      *Record         `json:"last_operation,omitempty"`
	Interrupted *Interrupted    `json:"interrupted,omitempty"`
	Backups     int             `json:"backups"`
}

// Interrupted describes a journal left behind and how to resolve it.
type Interrupted struct {
	Journal
	Resolve []string `json:"resolve"`
}

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
	j := Journals{Store: m.Store, Project: p.Name}
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
	return st, nil
}

// PruneOptions select what prune removes.
type PruneOptions struct {
	Keep      int           // newest complete backups to keep (default 5)
	OlderThan time.Duration // only remove backups older than this (0: any age)
	DryRun    bool
}

// Pruned is one removed backup.
type Pruned struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Size   int64  `json:"size"`
	Pins   int    `json:"pins_removed"`
}

// Prune removes old backups and their image pins. It never removes the newest complete
// backup nor one that an interrupted operation needs. The caller holds the project lock.
func (m *Manager) Prune(ctx context.Context, projectName string, opts PruneOptions) ([]Pruned, error) {
	if opts.Keep <= 0 {
		opts.Keep = 5
	}
	all, err := m.Store.List(projectName)
	if err != nil {
		return nil, err
	}
	needed := map[string]bool{}
	if jr, err := (Journals{Store: m.Store, Project: projectName}).Load(); err != nil {
		return nil, err
	} else if jr != nil && jr.BackupID != "" {
		needed[jr.BackupID] = true
	}
	kept := 0
	var out []Pruned
	for i := len(all) - 1; i >= 0; i-- { // newest first
		e := all[i]
		if needed[e.ID] {
			continue
		}
		if e.Status == backup.StatusComplete && kept < opts.Keep {
			kept++
			continue
		}
		if opts.OlderThan > 0 && e.Manifest != nil && time.Since(e.Manifest.CreatedAt) < opts.OlderThan {
			continue
		}
		if opts.OlderThan > 0 && e.Manifest == nil {
			if t, err := time.Parse("20060102T150405Z", strings.SplitN(e.ID, "-", 2)[0]); err == nil && time.Since(t) < opts.OlderThan {
				continue
			}
		}
		pr := Pruned{ID: e.ID, Status: string(e.Status)}
		if e.Manifest != nil {
			pr.Size = e.Manifest.Size()
		}
		if !opts.DryRun {
			if e.Manifest != nil {
				for _, s := range e.Manifest.Services {
					ref := pinRef(projectName, s.Name, e.ID)
					if _, err := m.Engine.ImageRemove(ctx, ref, client.ImageRemoveOptions{}); err == nil {
						pr.Pins++
					}
				}
			}
			if err := m.Store.Remove(projectName, e.ID); err != nil {
				return out, err
			}
		}
		out = append(out, pr)
	}
	return out, nil
}
