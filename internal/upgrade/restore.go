package upgrade

import (
	"context"

	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/restore"
)

// The journaled restore's options, result and error (internal/restore).
type (
	RestoreOptions = restore.RestoreOptions
	RestoreResult  = restore.RestoreResult
	RestoreError   = restore.RestoreError
)

// Restore makes the project's data and files equal to a backup, journaled
// (restore.Restore). The caller holds the project lock.
func (m *Manager) Restore(ctx context.Context, p *project.Project, opts RestoreOptions) (*RestoreResult, error) {
	return restore.Restore(ctx, m.env(), p, opts)
}
