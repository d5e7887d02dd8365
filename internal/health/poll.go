package health

// One poll of the gate: which containers it watches, the project's failed hooks, and
// whether every selected service has passed.

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// list returns the project's service containers, by service, filtered by opts.Services.
func (g *gate) list(ctx context.Context) (map[string][]container.Summary, error) {
	res, err := g.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", project.LabelProject+"="+g.project),
	})
	if err != nil {
		return nil, err
	}
	out := map[string][]container.Summary{}
	g.hooks = g.hooks[:0]
	for _, c := range res.Items {
		svc := c.Labels[project.LabelService]
		if svc == "" || strings.EqualFold(c.Labels[project.LabelOneOff], "true") {
			continue
		}
		if len(g.opts.Services) > 0 && !slices.Contains(g.opts.Services, svc) {
			continue
		}
		if c.Labels[project.LabelHook] != "" {
			// A hook's container is not the service's: it runs to completion before the
			// service starts, and compose removes it when it succeeds.
			if c.State == container.StateExited {
				g.hooks = append(g.hooks, c)
			}
			continue
		}
		out[svc] = append(out[svc], c)
	}
	return out, nil
}

// failedHook returns the failure of a service whose lifecycle hook (compose's pre_start)
// exited non-zero: compose then never starts the service and keeps the hook's container.
func (g *gate) failedHook(ctx context.Context) *Failure {
	for _, c := range g.hooks {
		res, err := g.cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil || res.Container.State == nil {
			continue
		}
		if st := res.Container.State; st.Status == container.StateExited && st.ExitCode != 0 {
			w := &watched{service: c.Labels[project.LabelService], id: c.ID, name: strings.TrimPrefix(res.Container.Name, "/")}
			return g.fail(ctx, w, fmt.Sprintf("its %s hook exited with code %d", c.Labels[project.LabelHook], st.ExitCode))
		}
	}
	return nil
}

func (g *gate) poll(ctx context.Context) (bool, error) {
	cs, err := g.list(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return true, ctx.Err()
		}
		return true, fmt.Errorf("health gate: list containers of %s: %w", g.project, err)
	}
	if f := g.failedHook(ctx); f != nil {
		if ctx.Err() != nil {
			return true, ctx.Err()
		}
		return true, f
	}
	if g.byID == nil {
		g.byID = map[string]*watched{}
	}
	g.missing = g.missing[:0]
	if len(g.opts.Services) > 0 {
		for _, s := range g.opts.Services {
			if len(cs[s]) == 0 {
				g.missing = append(g.missing, s)
				g.report(s, "waiting: no container")
			}
		}
	} else if len(cs) == 0 {
		g.missing = append(g.missing, "")
	}
	seen := map[string]bool{}
	services := make([]string, 0, len(cs))
	for s := range cs {
		services = append(services, s)
	}
	sort.Strings(services)
	for _, s := range services {
		for _, c := range cs[s] {
			seen[c.ID] = true
			w := g.byID[c.ID]
			if w == nil {
				w = &watched{service: s, id: c.ID, restartCount: -1}
				g.byID[c.ID] = w
				g.order = append(g.order, w)
			}
			if w.done {
				continue
			}
			if f := g.check(ctx, w); f != nil {
				if ctx.Err() != nil {
					return true, ctx.Err()
				}
				return true, f
			}
		}
	}
	for _, w := range g.order {
		if !seen[w.id] && !w.done {
			return true, g.fail(ctx, w, "container was removed while the gate watched it")
		}
	}
	if len(g.missing) > 0 {
		return false, nil
	}
	for _, w := range g.order {
		if seen[w.id] && !w.done {
			return false, nil
		}
	}
	return true, nil
}
