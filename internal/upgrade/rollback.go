package upgrade

import (
	"context"

	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/rollback"
)

// The rollback's options and result (internal/rollback).
type (
	RollbackOptions = rollback.RollbackOptions
	RollbackResult  = rollback.RollbackResult
)

// Rollback returns the project to a backup: the interrupted operation's, or the last
// upgrade's, or the one named (rollback.Rollback). The caller holds the project lock.
func (m *Manager) Rollback(ctx context.Context, p *project.Project, opts RollbackOptions) (*RollbackResult, error) {
	return rollback.Rollback(ctx, m.env(), p, opts)
}
