package snapshot

import (
	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/progress"
)

// Progress: the tasks and phase names a backup or restore shows while it moves data.

// task starts a progress task for one source; total is its size (Unknown or 0: unknown).
func (s *Service) task(name, source string, total int64) taskLike {
	if s.Progress == nil {
		return nopTask{}
	}
	return s.Progress.Start(progress.Spec{Name: name, Source: source, Total: max(total, 0)})
}

func (s *Service) showsProgress() bool {
	return s.Progress != nil && s.Progress.Mode() != progress.Quiet
}

// phase names the step on progress lines by its journal phase (journal.ShowPhase), unless
// the caller (a journaled operation) named one already; the function returned clears what it set.
func (s *Service) phase(p journal.Phase) func() {
	if s.Progress == nil || s.Progress.Phase() != "" {
		return func() {}
	}
	journal.ShowPhase(s.Progress, p)
	return func() { journal.ShowPhase(s.Progress, "") }
}

type taskLike interface {
	Add(int64)
	Done(error)
}

type nopTask struct{}

func (nopTask) Add(int64) {}

func (nopTask) Done(error) {}
