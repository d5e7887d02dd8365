package app

import (
	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
)

// backupSource is a manifest's source as the backup verb's result shows it: its sizes
// (an unchanged source's are its base's: it holds none of its own), its backup policy,
// what it builds on, and why it was taken whole when it could have been incremental.
func backupSource(src backup.Source) maim.BackupSource {
	bs := maim.BackupSource{Name: src.Name, Kind: string(src.Kind), Bytes: src.Bytes, Size: src.ArchiveSize,
		Files: src.Files, OnePass: src.OnePass, Policy: src.Policy, Full: src.Full}
	if src.Delta != nil {
		bs.Size += src.Delta.ArchiveSize
	}
	switch {
	case src.Ref != "":
		bs.Base, bs.Reused, bs.Size = src.Ref, true, 0
	case src.Base != nil:
		bs.Base = src.Base.ID
	}
	return bs
}

// referencedBytes is the archive bytes of the other backups e needs to be restored: each
// incremental source's earlier links (their archives, wherever they are) and the files of
// its unchanged sources, found among all (a link not there counts nothing).
func referencedBytes(all []backup.Entry, e backup.Entry) int64 {
	if e.Manifest == nil {
		return 0
	}
	byID := map[string]*backup.Manifest{}
	for _, x := range all {
		byID[x.ID] = x.Manifest
	}
	n := e.Manifest.Referenced()
	for _, src := range e.Manifest.Sources {
		for b, hops := src.Base, 0; b != nil && hops < backup.MaxChain; hops++ {
			m := byID[b.ID]
			if m == nil {
				break
			}
			bs, ok := m.Source(src.Name)
			if !ok {
				break
			}
			n += bs.ArchiveSize
			if bs.Delta != nil {
				n += bs.Delta.ArchiveSize
			}
			b = bs.Base
		}
	}
	return n
}
