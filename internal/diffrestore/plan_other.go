//go:build !linux

package diffrestore

import (
	"context"

	"github.com/docker-maim/docker-maim/internal/treeindex"
)

const (
	typeMask = 0o170000
	typeReg  = 0o100000
)

// planner is the target's walk; the fast path needs Linux (fsaccess.Inexact has no exact
// file system elsewhere).
type planner struct {
	want   map[string]uint32
	remove []string
}

func newPlanner(string, *treeindex.Index, []string) (*planner, error) { return &planner{}, nil }

func (p *planner) walk(context.Context) error {
	return fallback("a differential restore needs Linux")
}
