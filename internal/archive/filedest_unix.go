//go:build linux || darwin

package archive

import "github.com/docker-maim/docker-maim/internal/fsaccess"

// fileDestBeneath is the destination of a single-file archive confined beneath b: the file
// resolved and replaced relative to its parent directory's descriptor (fsaccess.Dest).
func fileDestBeneath(dest string, b *fsaccess.Beneath) (fileDest, error) {
	d, err := b.Dest(dest)
	if err != nil {
		return nil, err
	}
	return d, nil
}
