package backup

import (
	"os"
	"os/user"
	"strconv"
)

// Origin is where a backup was made: on which engine and by which user. A backup dir is
// per project, but the lock, journal and history that say which backups are still needed
// are per engine and user (State): two engines with a project of the same name (Docker
// Desktop beside the native engine, `default` and `ssh://prod`), or root's cron beside
// the user, may share one backup dir. The manifest records the Origin so that each sees
// its own.
type Origin struct {
	// EngineID is the engine's state dir key (EngineKey: its ID, else a hash of its
	// endpoint): what tells engines apart.
	EngineID string `json:"engine_id"`
	// Context and Host are how the engine was reached (docker context and endpoint), for
	// people reading a listing: they do not tell engines apart (a context can be renamed
	// or repointed, one engine reached by two endpoints).
	Context string `json:"context,omitempty"`
	Host    string `json:"host,omitempty"`
	// UID and User are the user who made it (the numeric ID, on Windows the SID, and the
	// name): whose state dir holds the journal and history that protect it.
	UID  string `json:"uid,omitempty"`
	User string `json:"user,omitempty"`
}

// String names the engine for messages: "engine ID (context C, host H)".
func (o Origin) String() string {
	s := "engine " + o.EngineID
	switch {
	case o.Context != "" && o.Host != "":
		s += " (context " + o.Context + ", " + o.Host + ")"
	case o.Context != "":
		s += " (context " + o.Context + ")"
	case o.Host != "":
		s += " (" + o.Host + ")"
	}
	return s
}

// CurrentUser is the user this process runs as (UID, User of an Origin); the numeric ID
// alone when the name cannot be looked up.
func CurrentUser() (uid, name string) {
	if u, err := user.Current(); err == nil {
		return u.Uid, u.Username
	}
	return strconv.Itoa(os.Getuid()), ""
}

// Owner says whose a listed backup is, seen from a Store's Origin.
type Owner string

const (
	// OwnerThis: made on this engine by this user (or the store has no Origin: it treats
	// every backup as its own).
	OwnerThis Owner = "this"
	// OwnerOtherUser: made on this engine by another user (root's cron beside the user).
	// The same project's data, so selections without an ID consider it; prune leaves it
	// to its user, whose journal and history say whether it is still needed.
	OwnerOtherUser Owner = "other-user"
	// OwnerOtherEngine: made on another engine. List leaves it out; only an explicit ID
	// (or ListAll) reaches it.
	OwnerOtherEngine Owner = "other-engine"
	// OwnerUnrecorded: its manifest records no origin (written by a docker-maim from
	// before origins were recorded): it may be any engine's. Listed, picked only by ID
	// (or when this engine's own journal or history names it), never pruned unless asked.
	OwnerUnrecorded Owner = "unrecorded"
	// OwnerUnknown: no readable manifest (incomplete, unreadable).
	OwnerUnknown Owner = "unknown"
)

// SameEngine tells whether the backup was recorded as made on the store's engine.
func (o Owner) SameEngine() bool { return o == OwnerThis || o == OwnerOtherUser }

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
