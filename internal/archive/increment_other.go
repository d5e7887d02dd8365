//go:build !linux && !darwin

package archive

import (
	"context"
	"errors"
)

// MeasureSince needs Linux or macOS (WriteTar archives directories only there); elsewhere
// it fails and callers count a source whole.
func MeasureSince(ctx context.Context, root string, excludes []string, since *Index) (Increment, error) {
	return Increment{}, errors.New("archive: measuring an increment needs linux or macOS")
}
