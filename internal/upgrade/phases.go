package upgrade

import (
	"context"
	"errors"

	maim "github.com/docker-maim/docker-maim/internal/api"
)

// A phase is one step of a journaled operation (the upgrade: phase_*.go; the rollback:
// rollback_*.go). The runner writes the phase's journal Phase before it runs, so a crash
// inside it is resolved from the journal (rollback.go, resolve). A phase has no undo of
// its own: what it changed is undone by the operation's one failure path (the upgrade's
// fail: resolve, which starts what ran before the backup completed and restores from the
// backup after); each phase file says which of the two covers it.
type phase[T any] struct {
	// name is how --dry-run lists the phase and how the runner records it as run.
	name string
	// journal is written to the journal before run ("" or the phase already recorded:
	// nothing is written).
	journal Phase
	// skip says why the phase does not apply ("" : it runs).
	skip func(T) string
	// describe says what the phase will do (the dry-run's list).
	describe func(T) string
	run      func(context.Context, T) error
	// final marks the commit: past it there is nothing to undo, its error is returned as is.
	final bool
}

// PlannedPhase is a phase as --dry-run lists it (Plan.Phases).
type PlannedPhase = maim.PlannedPhase

// describePhases lists what the phases will do for t, in order, the skipped ones with why.
func describePhases[T any](phases []phase[T], t T) []PlannedPhase {
	out := make([]PlannedPhase, 0, len(phases))
	for _, ph := range phases {
		pp := PlannedPhase{Name: ph.name}
		if why := skipReason(ph, t); why != "" {
			pp.Skipped, pp.Reason = true, why
		} else {
			pp.Description = ph.describe(t)
		}
		out = append(out, pp)
	}
	return out
}

func skipReason[T any](ph phase[T], t T) string {
	if ph.skip == nil {
		return ""
	}
	return ph.skip(t)
}

// runner runs the phases of one operation against its journal.
type runner struct {
	journals Journals
	jr       *Journal
	// ran are the names of the phases run so far, in order.
	ran []string
}

// record writes ph to the journal unless it is the phase recorded already.
func (r *runner) record(ph Phase) error {
	if ph == "" || ph == r.jr.Phase {
		return nil
	}
	r.jr.Phase = ph
	return r.journals.Save(r.jr)
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

// runPhases runs the phases that apply, in order, each recorded in the journal before it
// runs; it stops at the first error (a *phaseError).
func runPhases[T any](ctx context.Context, r *runner, phases []phase[T], t T) error {
	for _, ph := range phases {
		if skipReason(ph, t) != "" {
			continue
		}
		if err := r.record(ph.journal); err != nil {
			return &phaseError{phase: ph.name, err: err, undo: len(r.ran) > 0}
		}
		r.ran = append(r.ran, ph.name)
		if err := ph.run(ctx, t); err != nil {
			return &phaseError{phase: ph.name, err: err, undo: !ph.final}
		}
	}
	return nil
}

// mustUndo tells whether err from runPhases must take the failure path, and its cause.
func mustUndo(err error) (bool, error) {
	var pe *phaseError
	if errors.As(err, &pe) {
		return pe.undo, pe.err
	}
	return false, err
}
