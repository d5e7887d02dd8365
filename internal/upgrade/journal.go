package upgrade

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/journal"
)

// The journal's vocabulary (internal/journal) as the upgrade's files name it.
type (
	Journal      = journal.Journal
	Journals     = journal.Journals
	Record       = journal.Record
	Phase        = journal.Phase
	ImageChange  = journal.ImageChange
	AdoptRenames = journal.AdoptRenames
	RestoreInfo  = journal.RestoreInfo
	PlannedPhase = journal.PlannedPhase
	phase[T any] = journal.Step[T]
	runner       = journal.Runner
)

const (
	PhasePlanned     = journal.PhasePlanned
	PhaseBackingUp   = journal.PhaseBackingUp
	PhaseBackedUp    = journal.PhaseBackedUp
	PhaseVerifying   = journal.PhaseVerifying
	PhaseResetting   = journal.PhaseResetting
	PhaseMerging     = journal.PhaseMerging
	PhaseAdopting    = journal.PhaseAdopting
	PhaseRecreating  = journal.PhaseRecreating
	PhaseHealth      = journal.PhaseHealth
	PhaseRollingBack = journal.PhaseRollingBack
	PhaseRestoring   = journal.PhaseRestoring
	OpRestore        = journal.OpRestore
)

// ErrInterrupted means an earlier operation left a journal: resolve it first.
var ErrInterrupted = journal.ErrInterrupted

// FinishAdoptRenames completes the renames of an adoption killed between them
// (journal.FinishAdoptRenames).
func FinishAdoptRenames(state backup.State, name, workingDir string) (bool, error) {
	return journal.FinishAdoptRenames(state, name, workingDir)
}

// Failpoint is journal.Failpoint (the backup verb's failpoints).
func Failpoint(name string) { journal.Failpoint(name) }

// The crash-safe renames (journal/renames.go) as adopt.go writes them.
const newSuffix = journal.NewSuffix

func failpoint(name string) { journal.Failpoint(name) }
func writeSynced(path string, data []byte, mode os.FileMode) error {
	return journal.WriteSynced(path, data, mode)
}
func syncDirs(files []string) { journal.SyncDirs(files) }
func describePhases[T any](phases []phase[T], t T) []PlannedPhase {
	return journal.DescribePhases(phases, t)
}
func runPhases[T any](ctx context.Context, r *runner, phases []phase[T], t T) error {
	return journal.RunPhases(ctx, r, phases, t)
}

// journals are the journal and history of a project: in the state directory, recording
// the manager's backup store; each phase saved is the phase of the progress lines.
func (m *Manager) journals(project string) Journals {
	j := Journals{State: m.State, Store: m.Store, Project: project}
	if m.Progress != nil {
		j.OnPhase = func(ph Phase) { m.Progress.SetPhase(string(ph)) }
	}
	return j
}

// forJournal returns the manager that resolves jr: the backups an interrupted operation
// names are in the backup dir it ran with, which need not be this command's. A dir that
// cannot be read is refused, naming it, unless nothing had changed yet (then nothing
// from it is needed: the services are started again and its partial backup stays).
func (m *Manager) forJournal(jr *Journal) (*Manager, error) {
	if jr.BackupDir == "" || jr.BackupDir == m.Store.Location() {
		return m, nil
	}
	if st, err := os.Stat(jr.BackupDir); err != nil || !st.IsDir() {
		if !jr.Phase.DataChanged() {
			m.logf("the backup dir of the interrupted %s, %s, cannot be read; nothing was changed yet, so it is not needed", jr.Op, jr.BackupDir)
			return m, nil
		}
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, fmt.Errorf("the interrupted %s keeps its backup %s in %s, which cannot be read (%v): make it readable again and run `docker maim rollback`",
			jr.Op, jr.BackupID, jr.BackupDir, err)
	}
	m.logf("the interrupted %s keeps its backup in %s: resolving it from there", jr.Op, jr.BackupDir)
	mm := *m
	mm.Store = backup.Store{Repo: backup.LocalDir{Root: jr.BackupDir}, Origin: m.Store.Origin}
	if m.Snapshots != nil {
		sn := *m.Snapshots
		sn.Store = mm.Store
		mm.Snapshots = &sn
	}
	return &mm, nil
}
