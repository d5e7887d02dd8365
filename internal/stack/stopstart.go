package stack

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/project"
)

// "Stop what runs, act, start what ran" is how every operation that writes a project's
// data keeps it cold: the upgrade's stop phase, the restore's, the rollback's and the backup
// verb's (app/backup_phases.go) stop what runs with StopWhatRuns; what ran is started again
// by StartAgain (nothing was changed, or on the same containers) or StartWhatRan (after a
// restore recreated some). What runs is listed right before the stop, not taken from a plan
// made earlier: a container of the project started meanwhile (a service, a `compose run`
// one-off) is stopped with the rest and started again.

// Stop says how StopWhatRuns records and reports the stop.
type Stop struct {
	// Journal, when set, records what runs as what ran (Journal.SetRan), saved through
	// Journals before anything stops: a crash from there starts exactly this set again.
	Journals journal.Journals
	Journal  *journal.Journal
	// Check, when set, sees what runs before it is journaled; its error stops nothing.
	Check func(now project.Running) error
	// Announce is the progress line said before the stop; "" says "stopping" and what
	// runs, when something does.
	Announce string
	// Keep are services whose containers are listed and journaled as what ran but left
	// running (their one-off containers are stopped): the caller stops them itself once
	// it needs them no more (the upgrade's dump-db: a database dumped once all else
	// stopped). A crash before that is resolved as any before the backup: what ran is
	// started again, the kept ones running already.
	Keep []string
}

// StopStep names the step of StopWhatRuns that failed.
type StopStep string

const (
	StepList    StopStep = "list"    // listing what runs
	StepCheck   StopStep = "check"   // Stop.Check
	StepJournal StopStep = "journal" // saving the journal
	StepStop    StopStep = "stop"    // stopping
)

// StopError is a StopWhatRuns that failed, and in which step. Its message says "listing
// what runs" or "stopping" before the cause of those steps.
type StopError struct {
	Step StopStep
	Err  error
}

func (e *StopError) Error() string {
	switch e.Step {
	case StepList:
		return fmt.Sprintf("listing what runs: %v", e.Err)
	case StepStop:
		return fmt.Sprintf("stopping: %v", e.Err)
	}
	return e.Err.Error()
}

func (e *StopError) Unwrap() error { return e.Err }

// StopWhatRuns lists what runs now, checks and journals it (s), and stops it in reverse
// dependency order. It returns what ran and when the stop began (the downtime starts
// there); a failure is a *StopError.
func (m *Env) StopWhatRuns(ctx context.Context, p *project.Project, s Stop) (project.Running, time.Time, error) {
	now, err := p.RunningContainers(ctx, m.Engine)
	if err != nil {
		return now, time.Time{}, &StopError{StepList, err}
	}
	if s.Check != nil {
		if err := s.Check(now); err != nil {
			return now, time.Time{}, &StopError{StepCheck, err}
		}
	}
	if s.Journal != nil {
		journal.SetRan(s.Journal, now)
		if err := s.Journals.Save(s.Journal); err != nil {
			return now, time.Time{}, &StopError{StepJournal, err}
		}
	}
	at := time.Now()
	kept, stop := Split(now, s.Keep)
	switch {
	case s.Announce != "":
		m.Logf("%s", s.Announce)
	case !stop.Empty() && !kept.Empty():
		m.Logf("stopping %s (%s kept running)", stop.Describe(), kept.Describe())
	case !stop.Empty():
		m.Logf("stopping %s", stop.Describe())
	}
	if stop.Empty() {
		return now, at, nil
	}
	if err := p.Stop(ctx, m.Engine, stop); err != nil {
		return now, at, &StopError{StepStop, err}
	}
	return now, at, nil
}

// Split parts r into the containers of the named services (these; no one-off containers)
// and everything else (rest), each in r's order.
func Split(r project.Running, services []string) (these, rest project.Running) {
	these.IDs, rest.IDs = map[string][]string{}, map[string][]string{}
	for _, svc := range r.Services {
		part := &rest
		if slices.Contains(services, svc) {
			part = &these
		}
		part.Services = append(part.Services, svc)
		part.IDs[svc] = r.IDs[svc]
	}
	rest.OneOffs = r.OneOffs
	return these, rest
}
