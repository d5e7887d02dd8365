package api

import (
	"errors"
	"fmt"
	"strings"
)

// The error kinds a verb's error may wrap; test them with errors.Is. A face maps each to
// its exit code (the CLI: internal/plugin/exit.go, docs/json.md).
var (
	// ErrEngine marks an unreachable engine.
	ErrEngine = errors.New("docker engine unreachable")
	// ErrLocked means another docker-maim command holds the project's lock (on this
	// engine, or its place in the backup dir).
	ErrLocked = errors.New("locked")
	// ErrNotFound means no backup has the requested ID.
	ErrNotFound = errors.New("no such backup")
	// ErrNotProject means no compose file could be found for the selection.
	ErrNotProject = errors.New("not a compose project")
	// ErrUnknownProject means a project name matched no container and no compose file.
	ErrUnknownProject = errors.New("unknown project")
	// ErrVerify wraps a verification failure: the restore refused and touched nothing.
	ErrVerify = errors.New("backup failed verification")
	// ErrRefused means a restore was refused before anything was changed (a moved source,
	// volume options the project does not declare, ...).
	ErrRefused = errors.New("restore refused, nothing was changed")
	// ErrInterrupted means an earlier operation left a journal: resolve it first
	// (`docker maim rollback`).
	ErrInterrupted = errors.New("an interrupted operation must be resolved first")
	// ErrNoIdentity means the data is encrypted (sealed with age) and no identity was
	// given, or none of those given can open it (--identity FILE, MAIM_AGE_IDENTITY).
	// Nothing was changed.
	ErrNoIdentity = errors.New("encrypted data and no matching identity")
)

// UpgradeError is returned when an upgrade did not end upgraded; Outcome says how it ended.
type UpgradeError struct {
	// Outcome is how the upgrade ended: refused, failed, rolled-back or rollback-failed.
	Outcome Outcome
	// Cause is why the upgrade did not go through.
	Cause error
	// Rollback is why the automatic rollback failed (outcome rollback-failed).
	Rollback error
	// Recovery lists the commands to run by hand when the rollback failed.
	Recovery []string
}

func (e *UpgradeError) Error() string {
	switch e.Outcome {
	case OutcomeRolledBack:
		return fmt.Sprintf("upgrade failed and was rolled back: %v", e.Cause)
	case OutcomeRollbackFailed:
		return fmt.Sprintf("upgrade failed (%v) and the rollback failed too: %v; to recover: %s", e.Cause, e.Rollback, strings.Join(e.Recovery, " ; "))
	case OutcomeRefused:
		return fmt.Sprintf("upgrade refused, nothing was changed: %v", e.Cause)
	}
	return fmt.Sprintf("upgrade failed: %v", e.Cause)
}

func (e *UpgradeError) Unwrap() error { return e.Cause }

// RestoreError is a restore that failed. LeftStopped means the data may be mixed (the
// safety backup could not be put back, or there was none): the services were not started
// and Recovery lists what to run.
type RestoreError struct {
	// Cause is why the restore failed.
	Cause error
	// PutBack is why putting the safety backup back failed too (nil when it worked or
	// was not tried).
	PutBack error
	// LeftStopped are the services left stopped because their data may be mixed.
	LeftStopped []string
	// Recovery lists the commands to run by hand; nil when the restore's failure was
	// undone (nothing is left to recover).
	Recovery []string
}

func (e *RestoreError) Error() string {
	if e.Recovery == nil {
		return e.Cause.Error()
	}
	msg := e.Cause.Error()
	if e.PutBack != nil {
		msg += "; putting the safety backup back also failed: " + e.PutBack.Error()
	}
	stopped := "nothing was running"
	if len(e.LeftStopped) > 0 {
		stopped = strings.Join(e.LeftStopped, ", ") + " left stopped: the data may be mixed"
	}
	return fmt.Sprintf("%s; %s; to recover: %s", msg, stopped, strings.Join(e.Recovery, " ; "))
}

func (e *RestoreError) Unwrap() error { return e.Cause }

// VerifyError is a backup that failed verification (Verify, or a restore's check).
type VerifyError struct{ Err error }

func (e *VerifyError) Error() string { return e.Err.Error() }
func (e *VerifyError) Unwrap() error { return e.Err }

// UsageError marks options a verb cannot work with (a face reports it as a usage error).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }
