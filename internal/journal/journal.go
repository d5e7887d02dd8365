// Package journal owns the record that makes every operation on a project's data
// recoverable after a crash: the journal of the operation in progress and the history of
// finished ones (journal.go), the phases an operation writes to it before each step acts
// and the one runner that does so (phases.go: the upgrade's, the restore's and the
// rollback's phase tables run on it), the crash-safe renames of several files (renames.go)
// and the failpoints the crash tests kill the process at. What an interrupted operation
// means is decided by internal/rollback, which resolves it.
package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
)

// Phase is a step of an operation, written to the journal before the step acts
// (api.JournalPhase: status shows it).
type Phase = maim.JournalPhase

const (
	PhasePlanned     Phase = "planned"    // pulled and checked; nothing stopped
	PhaseBackingUp   Phase = "backing-up" // services stopped, data being archived, not yet changed
	PhaseBackedUp    Phase = "backed-up"  // the backup is complete; from here on data may change
	PhaseVerifying   Phase = "verifying"  // reading back what --reset-data will empty; nothing changed yet
	PhaseResetting   Phase = "resetting"  // --reset-data sources being emptied
	PhaseMerging     Phase = "merging"    // config files being merged
	PhaseAdopting    Phase = "adopting"   // a release's new compose files being written in place (--compose-file)
	PhaseRecreating  Phase = "recreating" // containers being recreated on the new images (a restore: from the restored files)
	PhaseHealth      Phase = "health"     // waiting for the health gate
	PhaseRollingBack Phase = "rolling-back"
	// PhaseRestoring: a restore writes the backup's data (the safety backup, in
	// PhaseBackedUp, is complete; "rolling-back" then puts it back).
	PhaseRestoring Phase = "restoring"
)

// OpRestore is the journal's op of `docker maim restore`. Its phases: planned (verified and
// planned, nothing stopped), backing-up (stopped, safety backup being written: nothing
// changed yet), backed-up (safety backup complete), restoring, recreating (the services the
// restored compose files describe otherwise than their containers being recreated; Images
// holds the images they ran), rolling-back (the safety backup being put back after a
// failure). Resolving it: before backed-up, start what ran; after, put the safety backup
// back, recreate the services of Images as they were and start what ran (without a safety
// backup: finish the restore).
const OpRestore = "restore"

// RestoreInfo is what a journaled restore restores (api.RestoreInfo).
type RestoreInfo = maim.RestoreInfo

// DataChanged tells whether data or config may differ from the backup in phase p.
func DataChanged(p Phase) bool {
	switch p {
	case PhasePlanned, PhaseBackingUp, PhaseVerifying:
		return false
	}
	return true
}

// Journal is the record of an operation in progress. It lives in the engine's state
// directory, <state>/<engine>/<project>/journal.json (backup.State), whatever backup dir
// the command used, and is removed when the operation ends; finished operations are
// appended to history.jsonl beside it. A journal left behind means the process died
// (kill -9, engine restart): the next command reports it, with any backup dir, and
// `docker maim rollback` resolves it from the backup dir it names. The record is api.Journal
// (status shows it).
type Journal = maim.Journal

// Record is one finished operation in history.jsonl (api.Record).
type Record = maim.Record

// Journals reads and writes a project's journal and history in the state directory.
type Journals struct {
	// State is the engine's state directory: the journal and history are in
	// State.ProjectDir(Project).
	State backup.State
	// Store is the backup store of the command: a journal records it, and a journal or
	// history an older docker-maim left in its local dir (<backup-dir>/<project>/) is
	// moved to the state directory on first use.
	Store   backup.Store
	Project string
	// OnPhase, when set, is told each phase saved, and "" when the operation finishes
	// (a hook; progress lines name the runner's steps instead, journal.ShowStep).
	OnPhase func(Phase)
}

const (
	journalName = "journal.json"
	historyName = "history.jsonl"
)

func (j Journals) dir() string         { return j.State.ProjectDir(j.Project) }
func (j Journals) Path() string        { return filepath.Join(j.dir(), journalName) }
func (j Journals) historyPath() string { return filepath.Join(j.dir(), historyName) }

// migrate moves a journal and history that an older docker-maim kept in the local
// backup dir (<backup-dir>/<project>/) to the state directory, so an operation they
// interrupted is still found and resolved. The journal is written to its new place
// atomically (recording the backup dir it came from, where its backups are) before the
// old one goes; a history is put before the records already in the state directory.
func (j Journals) migrate() error {
	if j.State.Dir == "" || j.Project == "" {
		return errors.New("no state dir for the journal (internal error)")
	}
	root := j.Store.LocalRoot()
	if root == "" {
		return nil
	}
	oldDir := filepath.Join(root, j.Project)
	if oldDir == j.dir() {
		return nil
	}
	oldJournal := filepath.Join(oldDir, journalName)
	if b, err := os.ReadFile(oldJournal); err == nil {
		if _, err := os.Stat(j.Path()); errors.Is(err, os.ErrNotExist) {
			var jr Journal
			if err := json.Unmarshal(b, &jr); err != nil {
				return fmt.Errorf("journal %s (left by an older docker-maim) is unreadable: %w", oldJournal, err)
			}
			if jr.BackupDir == "" {
				jr.BackupDir = j.Store.Location()
			}
			nb, err := json.MarshalIndent(&jr, "", "  ")
			if err != nil {
				return err
			}
			if err := os.MkdirAll(j.dir(), 0o700); err != nil {
				return err
			}
			if err := backup.WriteAtomic(j.Path(), nb); err != nil {
				return fmt.Errorf("moving journal %s to %s: %w", oldJournal, j.Path(), err)
			}
			if err := os.Remove(oldJournal); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	oldHistory := filepath.Join(oldDir, historyName)
	old, err := os.ReadFile(oldHistory)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	cur, err := os.ReadFile(j.historyPath())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if len(old) > 0 && old[len(old)-1] != '\n' {
		old = append(old, '\n')
	}
	if err := os.MkdirAll(j.dir(), 0o700); err != nil {
		return err
	}
	if err := backup.WriteAtomic(j.historyPath(), append(old, cur...)); err != nil {
		return fmt.Errorf("moving history %s to %s: %w", oldHistory, j.historyPath(), err)
	}
	if err := os.Remove(oldHistory); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Load returns the journal of an interrupted operation, or nil.
func (j Journals) Load() (*Journal, error) {
	if err := j.migrate(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(j.Path())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var jr Journal
	if err := json.Unmarshal(b, &jr); err != nil {
		return nil, fmt.Errorf("journal %s is unreadable: %w", j.Path(), err)
	}
	return &jr, nil
}

// Save writes the journal durably (temp file, fsync, rename).
func (j Journals) Save(jr *Journal) error {
	if j.State.Dir == "" || j.Project == "" {
		return errors.New("no state dir for the journal (internal error)")
	}
	jr.Updated = time.Now().UTC()
	if jr.BackupDir == "" && j.Store.Repo != nil {
		jr.BackupDir = j.Store.Location()
	}
	b, err := json.MarshalIndent(jr, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(j.dir(), 0o700); err != nil {
		return err
	}
	if err := backup.WriteAtomic(j.Path(), b); err != nil {
		return err
	}
	if j.OnPhase != nil {
		j.OnPhase(jr.Phase)
	}
	Failpoint(jr.Op + ":" + string(jr.Phase))
	return nil
}

// FailpointEnv names a test hook. When it equals "OP:PHASE" (e.g. "upgrade:merging"), the
// process kills itself with SIGKILL right after the journal records that phase, the way a
// crash or kill -9 would stop it. "OP:PHASE:wait" instead creates the file named by
// FailpointFileEnv at that point and waits until the file is removed, so that a test can
// change the world under the command (restart the engine) and then let it go on. Each
// failpoint acts once per process. The crash-safety tests use both.
const FailpointEnv = "MAIM_FAILPOINT"

// FailpointFileEnv names the file an "OP:PHASE:wait" failpoint creates and waits on.
const FailpointFileEnv = "MAIM_FAILPOINT_FILE"

// Failpoint is the failpoint named "OP:PHASE" (see FailpointEnv): every journal phase saved
// passes its own, and an operation that keeps no journal names its steps (the backup verb: "backup:stopping", after pass one, right before what runs
// is listed and stopped; "backup:stopped", right after the stop), and so do steps inside a
// phase ("restore:safety-hot", "rollback:safety-hot": after the first source of a safety
// backup's pass one; "rollback:safety-backed-up": the rollback's safety backup complete,
// nothing restored yet). Nothing happens unless
// FailpointEnv names it.
func Failpoint(name string) {
	v := os.Getenv(FailpointEnv)
	if v == "" || (v != name && v != name+":wait") || !failpointFired.CompareAndSwap(false, true) {
		return
	}
	if v == name {
		killSelf()
	}
	f := os.Getenv(FailpointFileEnv)
	if f == "" || backup.WriteAtomic(f, []byte(v+"\n")) != nil {
		return
	}
	for {
		if _, err := os.Stat(f); errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// failpointFired makes a failpoint act once per process: a phase may be saved more than once.
var failpointFired atomic.Bool

// Ran is what ran before the operation, as journal jr records it.
func Ran(jr *Journal) project.Running {
	return project.Running{Services: jr.Running, IDs: jr.Containers, OneOffs: jr.OneOffs}
}

// SetRan records r in jr as what ran before the operation.
func SetRan(jr *Journal, r project.Running) {
	jr.Running, jr.Containers, jr.OneOffs = r.Services, r.IDs, r.OneOffs
}

// Finish removes the journal and appends a record to the history.
func (j Journals) Finish(rec Record) error {
	rec.Finished = time.Now().UTC()
	if j.OnPhase != nil {
		j.OnPhase("")
	}
	if err := j.Append(rec); err != nil {
		return err
	}
	if err := os.Remove(j.Path()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Append adds a record to the history without touching the journal.
func (j Journals) Append(rec Record) error {
	if rec.Finished.IsZero() {
		rec.Finished = time.Now().UTC()
	}
	if err := j.migrate(); err != nil {
		return err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(j.dir(), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(j.historyPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		return err
	}
	return f.Sync()
}

// History returns the finished operations, oldest first.
func (j Journals) History() ([]Record, error) {
	if err := j.migrate(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(j.historyPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, line := range splitLines(b) {
		var r Record
		if json.Unmarshal(line, &r) == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i, c := range b {
		if c == '\n' {
			if i > start {
				out = append(out, b[start:i])
			}
			start = i + 1
		}
	}
	if start < len(b) {
		out = append(out, b[start:])
	}
	return out
}

// ErrInterrupted means an earlier operation left a journal: resolve it first.
var ErrInterrupted = maim.ErrInterrupted

// NonePending returns nil when no operation left a journal, and otherwise an error
// wrapping ErrInterrupted that names it and the command that resolves it: a new upgrade
// or restore must not start on top of an interrupted one.
func (j Journals) NonePending() error {
	jr, err := j.Load()
	if err != nil || jr == nil {
		return err
	}
	return fmt.Errorf("%w: %s stopped in phase %q at %s; run `docker maim rollback` to return to the state before it",
		ErrInterrupted, jr.Op, jr.Phase, jr.Updated.Local().Format(time.RFC3339))
}
