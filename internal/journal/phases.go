package journal

import (
	"context"
	"errors"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/progress"
)

// A Step is one phase of a journaled operation (the upgrade: upgrade/phase_*.go; the
// restore: restore/phases.go; the rollback: rollback/phase_*.go) or of the backup verb,
// which keeps no journal (app/backup_phases.go: its Steps name no Journal phase, so its
// Runner, which has no Journal, writes nothing). The runner writes the phase's journal
// Phase before it runs, so a crash inside it is resolved from the journal
// (rollback.Resolve). A phase has no undo of its own: what it changed is undone by the
// operation's one failure path (the upgrade's fail: rollback.Resolve, which starts what ran
// before the backup completed and restores from the backup after); each phase file says
// which of the two covers it.
type Step[T any] struct {
	// Name is how --dry-run lists the phase and how the runner records it as run.
	Name string
	// Journal is written to the journal before run ("" or the phase already recorded:
	// nothing is written).
	Journal Phase
	// Skip says why the phase does not apply ("" : it runs).
	Skip func(T) string
	// Describe says what the phase will do (the dry-run's list).
	Describe func(T) string
	Run      func(context.Context, T) error
	// Final marks the commit: past it there is nothing to undo, its error is returned as is.
	Final bool
}

// PlannedPhase is a phase as --dry-run lists it (api.PlannedPhase, in Plan.Phases).
type PlannedPhase = maim.PlannedPhase

// DescribePhases lists what the phases will do for t, in order, the skipped ones with why.
func DescribePhases[T any](phases []Step[T], t T) []PlannedPhase {
	out := make([]PlannedPhase, 0, len(phases))
	for _, ph := range phases {
		pp := PlannedPhase{Name: ph.Name}
		if why := skipReason(ph, t); why != "" {
			pp.Skipped, pp.Reason = true, why
		} else {
			pp.Description = ph.Describe(t)
		}
		out = append(out, pp)
	}
	return out
}

func skipReason[T any](ph Step[T], t T) string {
	if ph.Skip == nil {
		return ""
	}
	return ph.Skip(t)
}

// Runner runs the phases of one operation against its journal.
type Runner struct {
	Journals Journals
	Journal  *Journal
	// Ran are the names of the phases run so far, in order.
	Ran []string
	// Op names the operation on progress lines (OpUpgrade, OpRestore, OpRollback, OpBackup);
	// Progress, when set, shows Op and the name of each step as it runs (ShowStep).
	Op       string
	Progress *progress.Reporter
}

// Record writes ph to the journal unless it is the phase recorded already.
func (r *Runner) Record(ph Phase) error {
	if ph == "" || ph == r.Journal.Phase {
		return nil
	}
	r.Journal.Phase = ph
	return r.Journals.Save(r.Journal)
}

// phaseError is a failed phase as the runner reports it.
type phaseError struct {
	phase string
	err   error
	// undo: something may have changed and nothing was committed: the operation's
	// failure path must undo it. False when the journal could not be written before the
	// first phase (nothing was touched) and for the commit.
	undo bool
}

func (e *phaseError) Error() string { return e.err.Error() }
func (e *phaseError) Unwrap() error { return e.err }

// RunPhases runs the phases that apply, in order, each recorded in the journal before it
// runs; it stops at the first error (a *phaseError).
func RunPhases[T any](ctx context.Context, r *Runner, phases []Step[T], t T) error {
	for _, ph := range phases {
		if skipReason(ph, t) != "" {
			continue
		}
		if err := r.Record(ph.Journal); err != nil {
			return &phaseError{phase: ph.Name, err: err, undo: len(r.Ran) > 0}
		}
		r.Ran = append(r.Ran, ph.Name)
		ShowStep(r.Progress, r.Op, ph.Name)
		if err := ph.Run(ctx, t); err != nil {
			return &phaseError{phase: ph.Name, err: err, undo: !ph.Final}
		}
	}
	return nil
}

// MustUndo tells whether err from RunPhases must take the failure path, and its cause.
func MustUndo(err error) (bool, error) {
	var pe *phaseError
	if errors.As(err, &pe) {
		return pe.undo, pe.err
	}
	return false, err
}

// The operations' names besides OpRestore: a journal's and a history record's Op, and the
// op of progress lines (Runner.Op). The backup verb keeps no journal; its name is only the
// op of its progress lines.
const (
	OpUpgrade  = "upgrade"
	OpRollback = "rollback"
	OpBackup   = "backup"
)
