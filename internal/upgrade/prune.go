package upgrade

import (
	"context"

	"github.com/docker-maim/docker-maim/internal/retention"
)

// Prune's options and result (internal/retention).
type (
	PruneOptions = retention.PruneOptions
	Pruned       = retention.Pruned
	Kept         = retention.Kept
	PruneResult  = retention.PruneResult
)

// Prune removes old backups and their image pins (retention.Prune). The caller holds the
// project lock.
func (m *Manager) Prune(ctx context.Context, projectName string, opts PruneOptions) (*PruneResult, error) {
	return retention.Prune(ctx, m.env(), projectName, opts)
}
