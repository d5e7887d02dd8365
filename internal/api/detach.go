package api

import (
	"encoding/json"
	"time"
)

// DetachedEnv is set in the environment of a detached run to its operation ID: the run
// writes its progress as `--progress json` lines and, last, its DetachedEnd line.
const DetachedEnv = "MAIM_DETACHED"

// DetachOptions are the options of Detach: the command line to run again, detached from
// its caller, on the project Scope selects.
type DetachOptions struct {
	Scope Scope
	// Args is the whole command line of the run (os.Args, the program first): the same
	// program runs it again with DetachedEnv set.
	Args []string
}

// DetachResult says which detached operation was started and how to follow it.
type DetachResult struct {
	// ID names the operation (a sortable UTC time and a random suffix).
	ID string `json:"id"`
	// Project is the project it works on.
	Project string `json:"project"`
	// PID is the detached process's ID.
	PID int `json:"pid"`
	// Log is the file the operation writes its progress lines and result into.
	Log string `json:"log"`
	// Running is true once the detached run holds the project lock; false when it ended
	// before it took the lock (a refusal, a dry run, an error): Attach then tells how.
	Running bool `json:"running"`
}

// AttachOptions select the detached operation Attach follows.
type AttachOptions struct {
	Scope Scope
	// ID is the operation; empty: the project's newest one.
	ID string
}

// AttachResult is how a detached operation ended.
type AttachResult struct {
	// ID is the operation followed.
	ID string
	// ExitCode is the exit code of the detached run, as the plugin reports it.
	ExitCode int
	// Output is what the detached run printed on stdout: its result, as text or JSON as
	// its --format asked.
	Output []byte
}

// DetachedEnd is the last line a detached run writes into its log, after its progress:
// {"maim_detached_end":{"id":...,"exit_code":...}}. No progress line has this member.
type DetachedEnd struct {
	End struct {
		ID       string `json:"id"`
		ExitCode int    `json:"exit_code"`
	} `json:"maim_detached_end"`
}

// ParseDetachedEnd tells whether line is a DetachedEnd line, and which.
func ParseDetachedEnd(line []byte) (DetachedEnd, bool) {
	var e DetachedEnd
	if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil || e.End.ID == "" {
		return DetachedEnd{}, false
	}
	return e, true
}

// DetachedOperation is a detached operation that runs now (StatusResult.Detached).
type DetachedOperation struct {
	// ID names it, for Attach.
	ID string `json:"id"`
	// Verb is what it runs: upgrade, restore or rollback.
	Verb string `json:"verb"`
	// PID is its process.
	PID int `json:"pid"`
	// Started is when it was started.
	Started time.Time `json:"started"`
}
