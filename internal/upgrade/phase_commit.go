package upgrade

import (
	"context"
	"time"
)

// commitPhase ends the upgrade: the history records it (with the downtime since the
// stop) and the journal is removed. It is final: nothing is undone after it, and its
// error (the history could not be written) is returned as it is.
var commitPhase = phase[*txn]{
	Name:  "commit",
	Final: true,
	Describe: func(*txn) string {
		return "record the upgrade in the history and remove the journal"
	},
	Run: func(_ context.Context, t *txn) error {
		t.res.Downtime = time.Since(t.stopAt)
		t.res.Outcome = OutcomeUpgraded
		return t.journals.Finish(Record{Op: "upgrade", Result: string(OutcomeUpgraded), Started: t.Journal.Started, BackupID: t.man.ID, Images: t.plan.Changes, Downtime: t.res.Downtime})
	},
}
