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

// The steps a snapshot run outside any operation's step shows on progress lines: the names
// the plans give the same work (the upgrade's backup, the restore's restore).
const (
	stepBackup  = "backup"
	stepRestore = "restore"
)

// phase names the step on progress lines (journal.ShowStep), unless the caller (an
// operation's runner) named one already; the function returned clears what it set.
func (s *Service) phase(step string) func() {
	if s.Progress == nil || s.Progress.Phase() != "" {
		return func() {}
	}
	journal.ShowStep(s.Progress, "", step)
	return func() { journal.ShowStep(s.Progress, "", "") }
}

type taskLike interface {
	Add(int64)
	Done(error)
}

type nopTask struct{}

func (nopTask) Add(int64) {}

func (nopTask) Done(error) {}
