package stack

import (
	"context"
	"errors"
	"strings"

	"github.com/docker-maim/docker-maim/internal/health"
	"github.com/docker-maim/docker-maim/internal/project"
)

// GateServices is the one health gate of upgrade, rollback and restore: it waits for the
// services (health.Wait with the project's x-maim settings, and the application's ready
// rules: Env.Ready) and, when one fails, reports its last log lines.
func (m *Env) GateServices(ctx context.Context, p *project.Project, services []string, base health.Options) error {
	if len(services) == 0 {
		return nil
	}
	base.Services = services
	if m.PollInterval > 0 {
		base.PollInterval = m.PollInterval
	}
	if m.Ready != nil {
		base = m.Ready(ctx, p, services, base, nil) // a no-op when the caller set it up
	}
	opts, err := health.FromProject(p.Project, base)
	if err != nil {
		return err
	}

	m.Logf("health gate: %s", strings.Join(services, ", "))
	err = health.Wait(ctx, m.Engine, p.Name, opts)
	var hf *health.Failure
	if errors.As(err, &hf) && len(hf.Logs) > 0 {
		m.Logf("%s failed the health gate: %s; last log lines:\n  %s", hf.Service, hf.Reason, strings.Join(hf.Logs, "\n  "))
	}
	return err
}
