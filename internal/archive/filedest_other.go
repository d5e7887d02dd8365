//go:build !linux && !darwin

package archive

import (
	"fmt"
	"os"

	"github.com/docker-maim/docker-maim/internal/fsaccess"
)

// fileDestBeneath is the destination of a single-file archive confined beneath b: outside
// Linux and macOS a path checked by fsaccess.Beneath.Check, then replaced by path.
func fileDestBeneath(dest string, b *fsaccess.Beneath) (fileDest, error) {
	real, err := b.Check(dest)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(real); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("archive: %s is not a regular file", real)
	}
	return fileDestByPath(real)
}
