package upgrade

import (
	"context"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/composefile"
	"github.com/docker-maim/docker-maim/internal/health"
	"github.com/docker-maim/docker-maim/internal/maibotgate"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/stack"
)

// The shared environment (internal/stack) as the upgrade's files name it.
type Engine = stack.Engine

// Shared is the manager's environment with the MaiBot ready rule (internal/maibotgate) in
// every health gate: what the restore (internal/restore), the rollback (internal/rollback)
// and prune (internal/retention) run in, the way the upgrade itself does.
func (m *Manager) Shared() *stack.Env {
	if m.Ready == nil {
		m.Ready = m.readyRules
	}
	return &m.Env
}

// readyRules is the upgrade's stack.ReadyRules: MaiBot's ready rule.
func (m *Manager) readyRules(ctx context.Context, p *project.Project, services []string, h health.Options, man *backup.Manifest) health.Options {
	return maibotgate.ReadyRules(ctx, m.Engine, m.logf, p, services, h, maibotgate.RecordedSchema(man))
}

func (m *Manager) logf(format string, a ...any) { m.Logf(format, a...) }
func (m *Manager) auth(ref string) string       { return m.AuthFor(ref) }

func (m *Manager) journals(project string) Journals { return m.Journals(project) }

func (m *Manager) gateServices(ctx context.Context, p *project.Project, services []string, base health.Options) error {
	return m.Shared().GateServices(ctx, p, services, base)
}

// The shared helpers as the plan's and the adoption's files name them.
func loadOptions(p *project.Project) project.Options { return stack.LoadOptions(p) }
func pull(ctx context.Context, eng stack.ImageEngine, ref, auth string) error {
	return stack.Pull(ctx, eng, ref, auth)
}
func repoint(ctx context.Context, eng stack.ImageEngine, id, ref string) error {
	return stack.Repoint(ctx, eng, id, ref)
}
func shortID(id string) string { return stack.ShortID(id) }
func differing(p *project.Project, want map[string]string) map[string]string {
	return stack.Differing(p, want)
}
func fileSources(p *project.Project) composefile.Sources { return stack.FileSources(p) }

// forJournal returns the manager that resolves jr (stack.Env.ForJournal).
func (m *Manager) forJournal(jr *Journal) (*Manager, error) {
	e, err := m.ForJournal(jr)
	if err != nil {
		return nil, err
	}
	if e == &m.Env {
		return m, nil
	}
	return &Manager{Env: *e}, nil
}
