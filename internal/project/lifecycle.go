package project

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
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
	// OneOffs are the running one-off containers (`docker compose run`, label
	// com.docker.compose.oneoff=True), by the service they run: jobs of the project that
	// may write to its data like its services, but no service of it (a recreate or a
	// rollback does not bring them back; Start does).
	OneOffs map[string][]string `json:"one_off_ids,omitempty"`
}

// Empty tells whether nothing was running.
func (r Running) Empty() bool { return len(r.Services) == 0 && len(r.OneOffs) == 0 }

// Describe lists what runs for messages: the services, then each one-off container's
// service marked "(one-off)".
func (r Running) Describe() string {
	out := append([]string(nil), r.Services...)
	out = append(out, r.OneOffServices()...)
	for i := len(r.Services); i < len(out); i++ {
		out[i] += " (one-off)"
	}
	return strings.Join(out, ", ")
}

// OneOffServices lists the service of each running one-off container, one entry per
// container, sorted.
func (r Running) OneOffServices() []string {
	var out []string
	for svc, ids := range r.OneOffs {
		for range ids {
			out = append(out, svc)
		}
	}
	sort.Strings(out)
	return out
}

// RunningContainers reports which of the project's containers run now: those of its
// services (in the model or not) and its one-off containers (Running.OneOffs).
func (p *Project) RunningContainers(ctx context.Context, lister ContainerLister) (Running, error) {
	res, err := lister.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelProject+"="+p.Name),
	})
	if err != nil {
		return Running{}, err
	}
	return p.running(res.Items)
}

func (p *Project) running(cs []container.Summary) (Running, error) {
	order, err := p.Order()
	if err != nil {
		return Running{}, err
	}
	r := Running{IDs: map[string][]string{}}
	for _, c := range cs {
		if c.State != container.StateRunning && c.State != container.StateRestarting {
			continue
		}
		svc := c.Labels[LabelService]
		if c.Labels[LabelOneOff] == "True" {
			if r.OneOffs == nil {
				r.OneOffs = map[string][]string{}
			}
			r.OneOffs[svc] = append(r.OneOffs[svc], c.ID)
			continue
		}
		r.IDs[svc] = append(r.IDs[svc], c.ID)
	}
	for _, ids := range r.OneOffs {
		sort.Strings(ids)
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

// Stop stops the given running containers: the one-off containers first (jobs that use
// the services), then the services in reverse dependency order, honouring each service's
// stop_grace_period.
func (p *Project) Stop(ctx context.Context, eng Lifecycle, r Running) error {
	for _, svc := range sortedKeys(r.OneOffs) {
		for _, id := range r.OneOffs[svc] {
			if _, err := eng.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: p.stopTimeout(svc)}); err != nil {
				return fmt.Errorf("stopping a one-off container of %s: %w", svc, err)
			}
		}
	}
	for i := len(r.Services) - 1; i >= 0; i-- {
		svc := r.Services[i]
		for _, id := range r.IDs[svc] {
			if _, err := eng.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: p.stopTimeout(svc)}); err != nil {
				return fmt.Errorf("stopping %s: %w", svc, err)
			}
		}
	}
	return nil
}

// stopTimeout is svc's stop_grace_period in seconds (nil: the engine's default).
func (p *Project) stopTimeout(svc string) *int {
	if s, ok := p.Services[svc]; ok && s.StopGracePeriod != nil {
		t := int(time.Duration(*s.StopGracePeriod).Seconds())
		return &t
	}
	return nil
}

func sortedKeys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Start starts the given containers: the services in dependency order, then the one-off
// containers. It tries every container even when one fails, and reports all failures.
func (p *Project) Start(ctx context.Context, eng Lifecycle, r Running) error {
	var errs []error
	for _, svc := range r.Services {
		for _, id := range r.IDs[svc] {
			if _, err := eng.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
				errs = append(errs, fmt.Errorf("starting %s: %w", svc, err))
			}
		}
	}
	for _, svc := range sortedKeys(r.OneOffs) {
		for _, id := range r.OneOffs[svc] {
			if _, err := eng.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
				errs = append(errs, fmt.Errorf("starting a one-off container of %s: %w", svc, err))
			}
		}
	}
	return errors.Join(errs...)
}
