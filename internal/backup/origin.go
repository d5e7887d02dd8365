package backup

import (
	"os"
	"os/user"
	"strconv"

	"github.com/docker-maim/docker-maim/internal/api"
)

// Origin is where a backup was made: on which engine and by which user. A backup dir is
// per project, but the lock, journal and history that say which backups are still needed
// are per engine and user (State): two engines with a project of the same name (Docker
// Desktop beside the native engine, `default` and `ssh://prod`), or root's cron beside
// the user, may share one backup dir. The manifest records the Origin so that each sees
// its own.
type Origin = api.Origin

// CurrentUser is the user this process runs as (UID, User of an Origin); the numeric ID
// alone when the name cannot be looked up.
func CurrentUser() (uid, name string) {
	if u, err := user.Current(); err == nil {
		return u.Uid, u.Username
	}
	return strconv.Itoa(os.Getuid()), ""
}

// Owner says whose a listed backup is, seen from a Store's Origin (api.BackupOwner:
// OwnerThis, OwnerOtherUser, OwnerOtherEngine, OwnerUnrecorded, OwnerUnknown; List leaves
// other engines' out, only an explicit ID or ListAll reaches them).
type Owner = api.BackupOwner

const (
	OwnerThis        = api.OwnerThis
	OwnerOtherUser   = api.OwnerOtherUser
	OwnerOtherEngine = api.OwnerOtherEngine
	OwnerUnrecorded  = api.OwnerUnrecorded
	OwnerUnknown     = api.OwnerUnknown
)

// ownerOf is whose a backup of manifest m is, seen from the store.
func (s Store) ownerOf(m *Manifest) Owner {
	switch {
	case m == nil:
		return OwnerUnknown
	case s.Origin.EngineID == "":
		return OwnerThis
	case m.Origin == nil || m.Origin.EngineID == "":
		return OwnerUnrecorded
	case m.Origin.EngineID != s.Origin.EngineID:
		return OwnerOtherEngine
	case m.Origin.UID != s.Origin.UID:
		return OwnerOtherUser
	}
	return OwnerThis
}
