package journal

import "github.com/docker-maim/docker-maim/internal/progress"

// Only the runner names progress phases: the `phase` of every progress line
// (progress.Reporter.SetStep) is the name of the step running (Step.Name: backup-hot, stop,
// backup, merge, recreate, gate, ...), the names --dry-run lists, and its `op` the operation
// whose runner runs it (Runner.Op: upgrade, restore, rollback, backup). RunPhases sets both
// before each step; the last step run stays shown until another runner sets its own (the
// lines about a failure belong to the step that failed). A snapshot run outside any step
// shows the step it is (snapshot: "backup" or "restore"). The journal's phases (Phase:
// backing-up, merging, health, ...) are what the journal records and status shows, never a
// progress phase.

// ShowStep makes op and step the operation and phase of r's progress lines ("" clears
// them; nothing without a reporter).
func ShowStep(r *progress.Reporter, op, step string) {
	if r != nil {
		r.SetStep(op, step)
	}
}
