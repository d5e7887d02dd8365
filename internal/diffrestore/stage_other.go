//go:build !linux

package diffrestore

import (
	"context"
	"errors"
	"os"

	"github.com/docker-maim/docker-maim/internal/treeindex"
)

// Stage needs Linux, as the differential restore does: nothing is staged.
func Stage(context.Context, string, *treeindex.Index, []Archive, Options) (StageResult, error) {
	return StageResult{Fallback: "a differential restore needs Linux"}, nil
}

func (p *planner) wantParents(*Staged) {}

func (p *planner) useStage(*Staged) (map[string]bool, int64) { return nil, 0 }

// DropStage removes the stage directory name from dest; a name of another form is refused.
func DropStage(dest, name string) error {
	if !IsStageName(name) {
		return errors.New("not a stage directory: " + name)
	}
	return os.RemoveAll(dest + "/" + name)
}
