package project

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Order returns the project's services in dependency order: every service after the
// services it depends on (depends_on, and the network_mode: service:, volumes_from
// and links dependencies that compose-go adds to depends_on). Ties break by name so
// the order is stable. A cycle is an error.
func (p *Project) Order() ([]string, error) {
	names := p.ServiceNames()
	sort.Strings(names)
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	var out []string
	var visit func(string, []string) error
	visit = func(n string, path []string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("dependency cycle: %v", append(path, n))
		case 2:
			return nil
		}
		state[n] = 1
		svc, ok := p.Services[n]
		if ok {
			deps := svc.GetDependencies()
			sort.Strings(deps)
			for _, d := range deps {
				if _, known := p.Services[d]; !known {
					continue // disabled by profile
				}
				if err := visit(d, append(path, n)); err != nil {
					return err
				}
			}
		}
		state[n] = 2
		out = append(out, n)
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Lifecycle stops and starts containers.
type Lifecycle interface {
	ContainerLister
	ContainerStop(ctx context.Context, id string, options client.ContainerStopOptions) (client.ContainerStopResult, error)
	ContainerStart(ctx context.Context, id string, options client.ContainerStartOptions) (client.ContainerStartResult, error)
}

// Running is the set of containers that were running, by service, in start order.
type Running struct {
	Services []string            `json:"services"`
	IDs      map[string][]string `json:"container_ids"`
}

// Empty tells whether nothing was running.
func (r Running) Empty() bool { return len(r.Services) == 0 }

// RunningContainers reports which of the project's containers run now.
func (p *Project) RunningContainers(ctx context.Context, lister ContainerLister) (Running, error) {
	cs, err := Containers(ctx, lister, p.Name)
	if err != nil {
		return Running{}, err
	}
	return p.running(cs)
}

func (p *Project) running(cs []container.Summary) (Running, error) {
	order, err := p.Order()
	if err != nil {
		return Running{}, err
	}
	r := Running{IDs: map[string][]string{}}
	for _, c := range cs {
		if c.State == container.StateRunning || c.State == container.StateRestarting {
			svc := c.Labels[LabelService]
			r.IDs[svc] = append(r.IDs[svc], c.ID)
		}
	}
	for _, s := range order {
		if len(r.IDs[s]) > 0 {
			sort.Strings(r.IDs[s])
			r.Services = append(r.Services, s)
		}
	}
	// services that run but are no longer in the model (orphans) come last, by name
	var orphans []string
	for s := range r.IDs {
		if _, ok := p.Services[s]; !ok {
			sort.Strings(r.IDs[s])
			orphans = append(orphans, s)
		}
	}
	sort.Strings(orphans)
	r.Services = append(r.Services, orphans...)
	return r, nil
}

// Stop stops the given running containers in reverse dependency order, honouring
// each service's stop_grace_period.
func (p *Project) Stop(ctx context.Context, eng Lifecycle, r Running) error {
	for i := len(r.Services) - 1; i >= 0; i-- {
		svc := r.Services[i]
		var timeout *int
		if s, ok := p.Services[svc]; ok && s.StopGracePeriod != nil {
			t := int(time.Duration(*s.StopGracePeriod).Seconds())
			timeout = &t
		}
		for _, id := range r.IDs[svc] {
			if _, err := eng.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: timeout}); err != nil {
				return fmt.Errorf("stopping %s: %w", svc, err)
			}
		}
	}
	return nil
}

// Start starts the given containers in dependency order. It tries every service even
// when one fails, and reports all failures.
func (p *Project) Start(ctx context.Context, eng Lifecycle, r Running) error {
	var errs []error
	for _, svc := range r.Services {
		for _, id := range r.IDs[svc] {
			if _, err := eng.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
				errs = append(errs, fmt.Errorf("starting %s: %w", svc, err))
			}
		}
	}
	return errors.Join(errs...)
}
