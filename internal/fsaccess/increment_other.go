//go:build !linux && !darwin

package fsaccess

import (
	"context"
	"errors"

	"github.com/docker-maim/docker-maim/internal/treeindex"
)

// MeasureSince needs Linux or macOS (archive.WriteTar archives directories only there); elsewhere
// it fails and callers count a source whole.
func MeasureSince(ctx context.Context, root string, excludes []string, since *treeindex.Index) (Increment, error) {
	return Increment{}, errors.New("fsaccess: measuring an increment needs linux or macOS")
}
