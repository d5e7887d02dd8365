package journal

import (
	"fmt"

	"github.com/docker-maim/docker-maim/internal/backup"
)

// LastUpgradeBackup is the backup `docker maim rollback` with no ID goes back to: the newest
// complete backup of this engine that the history records as an upgrade's that upgraded (or
// failed without rolling back), else the newest complete upgrade backup of this engine in
// the store.
func (j Journals) LastUpgradeBackup() (string, error) {
	hist, err := j.History()
	if err != nil {
		return "", err
	}
	for i := len(hist) - 1; i >= 0; i-- {
		if hist[i].Op == "upgrade" && hist[i].BackupID != "" && (hist[i].Result == "upgraded" || hist[i].Result == "failed") {
			// A backup removed or damaged by hand since is no target: look further back.
			// The history is this engine's: a backup it names is this engine's unless
			// its manifest says another made it (an ID of another backup dir that
			// exists in this one too); an unrecorded one is this engine's old upgrade.
			if e, err := j.Store.Get(j.Project, hist[i].BackupID); err == nil && e.Status == backup.StatusComplete && e.Owner != backup.OwnerOtherEngine {
				return hist[i].BackupID, nil
			}
		}
	}
	all, err := j.Store.List(j.Project)
	if err != nil {
		return "", err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Status == backup.StatusComplete && all[i].Owner.SameEngine() && all[i].Manifest.Reason == "upgrade" {
			return all[i].ID, nil
		}
	}
	return "", fmt.Errorf("%w: no upgrade backup of project %q to roll back to; name a backup ID (docker maim backups)", backup.ErrNotFound, j.Project)
}
