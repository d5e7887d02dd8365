//go:build !linux && !darwin

package fsaccess

import "io/fs"

// fileKey: hard links are not told apart here (directories are not archived by
// the plugin on these systems).
func fileKey(fs.FileInfo) (devIno, bool) { return devIno{}, false }
