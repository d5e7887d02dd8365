package stack

import (
	"context"
	"fmt"

	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/client"
)

// pre_start hooks (compose v5.3+, service key pre_start: a list of container specs): compose
// runs each in a container of its own beside the service's (label com.docker.compose.hook=
// pre_start, sharing its volumes and networks), in order, before the service starts. One that
// exits non-zero keeps the service from starting, fails `up` (the upgrade's recreate: a
// failed upgrade, rolled back), and its container is kept for inspection until `down`. The
// rollback removes the project's hook containers before it recreates the old services: they
// are compose's runners, never the user's data (their anonymous volumes go with them, as
// compose removes a hook that succeeded). With --no-auto-rollback they stay for inspection.

// RemoveHookContainers removes the project's lifecycle-hook containers (any hook type).
func (m *Env) RemoveHookContainers(ctx context.Context, projectName string) error {
	res, err := m.Engine.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", project.LabelProject+"="+projectName).Add("label", api.HookLabel)})
	if err != nil {
		return err
	}
	for _, c := range res.Items {
		if c.Labels[api.HookLabel] == "" || c.Labels[project.LabelProject] != projectName {
			continue // only what the filter asked for
		}
		if _, err := m.Engine.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			return fmt.Errorf("removing the %s hook container of %s: %w", c.Labels[api.HookLabel], c.Labels[project.LabelService], err)
		}
		m.Logf("removed the %s hook container of %s (%s)", c.Labels[api.HookLabel], c.Labels[project.LabelService], ShortID(c.ID))
	}
	return nil
}
