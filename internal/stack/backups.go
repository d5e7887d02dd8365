package stack

import (
	"fmt"

	"github.com/docker-maim/docker-maim/internal/backup"
)

// OriginNotice says, for a backup named by ID, that it was not recorded as this engine's
// (another engine's, or an older build's that recorded none): restoring it moves that
// data into this engine's project, which is allowed (moving a project between engines is
// one use of backups) and said. "" for a backup of this engine.
func OriginNotice(e backup.Entry) string {
	switch e.Owner {
	case backup.OwnerOtherEngine:
		return fmt.Sprintf("backup %s was made on another %s: its data goes to this engine's project", e.ID, e.Manifest.Origin)
	case backup.OwnerUnrecorded:
		return fmt.Sprintf("backup %s was made by a docker-maim that did not record its engine (it may be another engine's): its data goes to this engine's project", e.ID)
	}
	return ""
}

// RemoveIncomplete drops backups without a manifest (a crash while backing up).
func (m *Env) RemoveIncomplete(projectName string) {
	all, _ := m.Store.List(projectName)
	for _, e := range all {
		if e.Status == backup.StatusIncomplete {
			_ = m.Store.Remove(projectName, e.ID)
		}
	}
}
