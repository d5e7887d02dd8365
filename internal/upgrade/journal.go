package upgrade

import (
	"context"
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
