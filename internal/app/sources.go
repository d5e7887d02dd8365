package app

import (
	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
)

// backupSource is a manifest's source as the backup verb's result shows it: its sizes and
// its backup policy.
func backupSource(src backup.Source) maim.BackupSource {
	return maim.BackupSource{Name: src.Name, Kind: string(src.Kind), Bytes: src.Bytes, Size: src.ArchiveSize,
		Files: src.Files, OnePass: src.OnePass, Policy: src.Policy}
}
