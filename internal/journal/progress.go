package journal

import "github.com/docker-maim/docker-maim/internal/progress"

// Only the journal's phases name progress phases: the `phase` of every progress line
// (progress.Reporter.SetPhase) is a journal Phase, set here and nowhere else. A journaled
// operation's phase is set as the journal saves it (Journals.OnPhase); an operation or step
// that keeps no journal of its own (the backup verb, pass one of the upgrade's backup, a
// snapshot run on its own) shows the journal phase it belongs to. The plan's phase names
// (Step.Name: backup-hot, merge, gate, ...) are what --dry-run lists, never a progress phase.

// ShowPhase makes ph the phase of r's progress lines ("" clears it; nothing without a
// reporter).
func ShowPhase(r *progress.Reporter, ph Phase) {
	if r != nil {
		r.SetPhase(string(ph))
	}
}
