package upgrade

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/rollback"
)

// The transaction through Manager.Upgrade and rollback.Rollback with fakes (fakes_test.go):
// a failure injected at each phase takes the rollback path, and what the journal, the
// history, the backups and the engine end with is pinned here. These are the
// characterization tests of the transaction: a refactor of Upgrade must keep them green.

// preamble is what every upgrade of the rig does before its first phase can fail: pull
// the targets while everything runs, then stop in reverse dependency order.
var preamble = []string{"pull db:16", "pull bot:latest", "stop bot", "stop db"}

// pins are the backup's pins of the old images (the backup ID written as ID).
var pins = []string{"tag docker-maim/pin:demo.db.ID=sha256:db", "tag docker-maim/pin:demo.bot.ID=sha256:old"}

func seq(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// calls are the engine's calls with the backup's ID written as ID.
func (r *txRig) callsWith(id string) []string {
	out := r.eng.Calls()
	if id == "" {
		return out
	}
	for i := range out {
		out[i] = strings.ReplaceAll(out[i], id, "ID")
	}
	return out
}

// corruptArchive overwrites the archive of ./data in the only backup (same size, other bytes).
func (r *txRig) corruptArchive() {
	all := r.backups()
	if len(all) != 1 {
		r.t.Fatalf("backups %v", all)
	}
	// One archive, or two of a two-pass backup (the base and the delta), and the index:
	// all damaged.
	matches, _ := filepath.Glob(filepath.Join(r.store.Dir("demo", all[0].ID), "*data*"))
	if len(matches) == 0 || len(matches) > 3 {
		r.t.Fatalf("data archive: %v", matches)
	}
	for _, m := range matches {
		st, err := os.Stat(m)
		if err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(m, make([]byte, st.Size()), 0o600); err != nil {
			r.t.Fatal(err)
		}
	}
}

func TestUpgradeFailureAtEachPhaseRollsBack(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name  string
		setup func(r *txRig)
		opts  Options
		cause string
		// after the preamble
		calls []string
		// backups left: a failure before the backup completed leaves none
		backups int
		// notStops: the failure comes before the stop (the preamble's pulls only)
		notStops bool
	}{
		{
			name:  "stop",
			setup: func(r *txRig) { r.eng.errs["stop db"] = boom },
			cause: "stopping: stopping db: boom",
			// nothing changed yet: the floating tag the pull moved goes back, what ran starts
			calls: []string{"tag bot:latest=sha256:old", "start db", "start bot"},
		},
		{
			name:  "backup",
			setup: func(r *txRig) { r.mover.FailBackup["data"] = boom },
			opts:  Options{OnePass: true},
			cause: "backup: backing up ./data: boom",
			calls: []string{"tag bot:latest=sha256:old", "start db", "start bot"},
		},
		{
			// pass one fails while everything runs: nothing was stopped, nothing changed
			name:     "backup-hot",
			setup:    func(r *txRig) { r.mover.FailBackup["data"] = boom },
			cause:    "backup: backing up ./data (pass one, hot): boom",
			notStops: true,
			calls:    []string{"tag bot:latest=sha256:old", "start db", "start bot"},
		},
		{
			name:  "pin",
			setup: func(r *txRig) { r.eng.errs["tag docker-maim/pin:demo.bot"] = boom },
			cause: "pinning the image of bot: boom",
			// the backup is complete: a full rollback from it (nothing runs to stop)
			calls:   []string{pins[0], "tag docker-maim/pin:demo.bot.ID=sha256:old", "tag bot:latest=sha256:old", "up bot=sha256:old db=sha256:db"},
			backups: 1,
		},
		{
			name: "reset-data verify",
			setup: func(r *txRig) {
				r.eng.hooks["tag docker-maim/pin:demo.bot"] = r.corruptArchive
			},
			opts:  Options{ResetData: []string{"./data"}},
			cause: "reset-data: ",
			// verifying changes nothing: start what ran, as before the backup
			calls: seq(pins, []string{"tag bot:latest=sha256:old", "start db", "start bot"}),
			// the damaged backup stays (the store lists it complete: its sizes are right)
			backups: 1,
		},
		{
			name:    "recreate",
			setup:   func(r *txRig) { r.comp.fail[1] = boom },
			cause:   "recreate: boom",
			calls:   seq(pins, []string{"up bot=sha256:new db=sha256:db", "tag bot:latest=sha256:old", "up bot=sha256:old db=sha256:db"}),
			backups: 1,
		},
		{
			name:  "health gate",
			setup: func(r *txRig) { r.eng.unhealthy["sha256:new"] = true },
			cause: "health gate: service bot: unhealthy: migration failed",
			// the new version migrated the data: stop it, restore, re-pin, recreate
			calls:   seq(pins, []string{"up bot=sha256:new db=sha256:db", "stop bot", "stop db", "tag bot:latest=sha256:old", "up bot=sha256:old db=sha256:db"}),
			backups: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTxRig(t)
			tc.setup(r)
			opts := tc.opts
			opts.Health = fastHealth
			res, err := r.m.Upgrade(context.Background(), r.p, opts)
			var ue *Error
			if !errors.As(err, &ue) || ue.Outcome != OutcomeRolledBack || ue.Rollback != nil {
				t.Fatalf("Upgrade error = %v, want an *Error with outcome rolled-back", err)
			}
			if !strings.Contains(ue.Cause.Error(), tc.cause) {
				t.Errorf("cause %q, want it to contain %q", ue.Cause, tc.cause)
			}
			if res == nil || res.Outcome != OutcomeRolledBack || res.Rollback == nil || res.Error != ue.Cause.Error() || len(res.Recovery) != 0 {
				t.Fatalf("result %+v", res)
			}
			pre := preamble
			if tc.notStops {
				pre = preamble[:2]
			}
			if got, want := r.callsWith(res.BackupID), seq(pre, tc.calls); !reflect.DeepEqual(got, want) {
				t.Errorf("engine calls\n %q\nwant\n %q", got, want)
			}
			if jr := r.journal(); jr != nil {
				t.Errorf("journal left after the rollback: %+v", jr)
			}
			h := r.history()
			if len(h) != 1 || h[0].Op != "upgrade" || h[0].Result != string(OutcomeRolledBack) || h[0].Error != ue.Cause.Error() || h[0].BackupID != res.BackupID {
				t.Errorf("history %+v, want one upgrade record rolled-back with the cause and backup %q", h, res.BackupID)
			}
			if got, want := r.eng.running(), []string{"bot=sha256:old", "db=sha256:db"}; !reflect.DeepEqual(got, want) {
				t.Errorf("containers %q, want %q", got, want)
			}
			if id := r.eng.tags["bot:latest"]; id != "sha256:old" {
				t.Errorf("bot:latest names %s after the rollback, want the old image", id)
			}
			if d := r.dataNow(); d != "v1" {
				t.Errorf("data %q after the rollback, want v1", d)
			}
			backups := r.backups()
			switch {
			case len(backups) != tc.backups:
				t.Errorf("backups %+v, want %d", backups, tc.backups)
			case tc.backups == 1 && backups[0].ID != res.BackupID:
				t.Errorf("backup %s left, want the upgrade's %s", backups[0].ID, res.BackupID)
			}
		})
	}
}

// With --no-auto-rollback a failure leaves everything as it is: outcome failed, the journal
// kept at the phase that failed, recovery commands, no history record; `rollback` then
// resolves the journal.
func TestUpgradeNoAutoRollbackThenRollback(t *testing.T) {
	cases := []struct {
		name        string
		setup       func(r *txRig)
		phase       Phase
		backup      bool
		running     []string // when the upgrade returned
		rollbackOps []string // the engine calls of the rollback
	}{
		{
			name:    "stop",
			setup:   func(r *txRig) { r.eng.errs["stop db"] = errors.New("boom") },
			phase:   PhaseBackingUp,
			running: []string{"bot=sha256:old(stopped)", "db=sha256:db"},
			// nothing changed: re-point the tag, start what ran
			rollbackOps: []string{"tag bot:latest=sha256:old", "start db", "start bot"},
		},
		{
			name:    "health gate",
			setup:   func(r *txRig) { r.eng.unhealthy["sha256:new"] = true },
			phase:   PhaseHealth,
			backup:  true,
			running: []string{"bot=sha256:new", "db=sha256:db"},
			// a full rollback with a safety backup of the failed state first
			rollbackOps: []string{"stop bot", "stop db", "tag bot:latest=sha256:old", "up bot=sha256:old db=sha256:db"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTxRig(t)
			tc.setup(r)
			res, err := r.m.Upgrade(context.Background(), r.p, Options{Health: fastHealth, NoAutoRollback: true})
			var ue *Error
			if !errors.As(err, &ue) || ue.Outcome != OutcomeFailed || res.Outcome != OutcomeFailed || res.Rollback != nil {
				t.Fatalf("Upgrade = %+v, %v; want outcome failed, no rollback", res, err)
			}
			jr := r.journal()
			if jr == nil || jr.Op != "upgrade" || jr.Phase != tc.phase || (jr.BackupID != "") != tc.backup || jr.BackupID != res.BackupID {
				t.Fatalf("journal %+v, want upgrade in phase %s (backup %v)", jr, tc.phase, tc.backup)
			}
			wantRec := "docker maim -p demo rollback   # restarts what ran; no data was changed"
			if tc.backup {
				wantRec = "docker maim -p demo rollback " + res.BackupID
			}
			if !slices.Contains(res.Recovery, wantRec) || !reflect.DeepEqual(ue.Recovery, res.Recovery) || res.Recovery[0] != "docker maim -p demo status" {
				t.Errorf("recovery %q, want status and %q", res.Recovery, wantRec)
			}
			if h := r.history(); len(h) != 0 {
				t.Errorf("history %+v, want none while the journal is pending", h)
			}
			if got := r.eng.running(); !reflect.DeepEqual(got, tc.running) {
				t.Errorf("containers %q, want %q (left as they are)", got, tc.running)
			}
			// a second upgrade is refused while the journal is pending
			if _, err := r.m.Upgrade(context.Background(), r.p, Options{Health: fastHealth}); err == nil {
				t.Fatal("an upgrade ran over a pending journal")
			}

			before := len(r.eng.Calls())
			rb, err := rollback.Rollback(context.Background(), r.m.Shared(), r.model(), maim.RollbackOptions{Health: fastHealth})
			if err != nil {
				t.Fatalf("Rollback: %v", err)
			}
			if rb.Resolved != "upgrade in phase "+string(tc.phase) || rb.BackupID != res.BackupID || (rb.SafetyID != "") != tc.backup {
				t.Errorf("rollback result %+v", rb)
			}
			if got := r.callsWith(res.BackupID)[before:]; !reflect.DeepEqual(got, tc.rollbackOps) {
				t.Errorf("rollback's engine calls %q, want %q", got, tc.rollbackOps)
			}
			if jr := r.journal(); jr != nil {
				t.Errorf("journal left after the rollback: %+v", jr)
			}
			h := r.history()
			if len(h) != 1 || h[0].Op != "rollback" || h[0].Result != "rolled-back" || h[0].BackupID != res.BackupID || !h[0].Started.Equal(jr.Started) {
				t.Errorf("history %+v, want one rollback record", h)
			}
			if got, want := r.eng.running(), []string{"bot=sha256:old", "db=sha256:db"}; !reflect.DeepEqual(got, want) {
				t.Errorf("containers %q, want %q", got, want)
			}
			if r.eng.tags["bot:latest"] != "sha256:old" || r.dataNow() != "v1" {
				t.Errorf("bot:latest %s, data %q after the rollback", r.eng.tags["bot:latest"], r.dataNow())
			}
			if tc.backup {
				safety, err := r.store.Get("demo", rb.SafetyID)
				if err != nil || safety.Manifest.Reason != "pre-rollback" {
					t.Errorf("safety backup %s: %+v, %v", rb.SafetyID, safety, err)
				}
			}
		})
	}
}

// A failure of the rollback itself (the composer fails on the rollback's recreate) ends in
// rollback-failed: the journal stays, in phase rolling-back, the history says so, the
// recovery commands are listed; a later `rollback` finishes the job.
func TestUpgradeRollbackFails(t *testing.T) {
	r := newTxRig(t)
	r.eng.unhealthy["sha256:new"] = true
	r.comp.fail[2] = errors.New("compose: no such network")
	res, err := r.m.Upgrade(context.Background(), r.p, Options{Health: fastHealth})
	var ue *Error
	if !errors.As(err, &ue) || ue.Outcome != OutcomeRollbackFailed || res.Outcome != OutcomeRollbackFailed {
		t.Fatalf("Upgrade = %+v, %v; want rollback-failed", res, err)
	}
	if ue.Rollback == nil || !strings.Contains(ue.Rollback.Error(), "recreate: compose: no such network") || !strings.Contains(ue.Cause.Error(), "unhealthy") {
		t.Errorf("error %v: cause %v, rollback %v", err, ue.Cause, ue.Rollback)
	}
	if !slices.Contains(res.Recovery, "docker maim -p demo rollback "+res.BackupID) || !reflect.DeepEqual(ue.Recovery, res.Recovery) {
		t.Errorf("recovery %q", res.Recovery)
	}
	want := seq(preamble, pins, []string{"up bot=sha256:new db=sha256:db", "stop bot", "stop db", "tag bot:latest=sha256:old", "up bot=sha256:old db=sha256:db"})
	if got := r.callsWith(res.BackupID); !reflect.DeepEqual(got, want) {
		t.Errorf("engine calls\n %q\nwant\n %q", got, want)
	}
	jr := r.journal()
	if jr == nil || jr.Phase != PhaseRollingBack || jr.BackupID != res.BackupID {
		t.Fatalf("journal %+v, want it kept in phase rolling-back", jr)
	}
	h := r.history()
	if len(h) != 1 || h[0].Result != string(OutcomeRollbackFailed) || !strings.Contains(h[0].Error, "; rollback: recreate: compose: no such network") {
		t.Fatalf("history %+v", h)
	}
	// the data is back already; the services are not
	if r.dataNow() != "v1" {
		t.Errorf("data %q", r.dataNow())
	}

	// the composer works again: `rollback` resolves the journal
	rb, err := rollback.Rollback(context.Background(), r.m.Shared(), r.model(), maim.RollbackOptions{Health: fastHealth, NoSafetyBackup: true})
	if err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	if rb.Resolved != "upgrade in phase rolling-back" {
		t.Errorf("resolved %q", rb.Resolved)
	}
	if jr := r.journal(); jr != nil {
		t.Errorf("journal left: %+v", jr)
	}
	if h := r.history(); len(h) != 2 || h[1].Op != "rollback" || h[1].Result != "rolled-back" {
		t.Errorf("history %+v", h)
	}
	if got, want := r.eng.running(), []string{"bot=sha256:old", "db=sha256:db"}; !reflect.DeepEqual(got, want) {
		t.Errorf("containers %q, want %q", got, want)
	}
}

// The rig's upgrade itself succeeds: the reference the failure cases are measured against.
func TestUpgradeWithFakesSucceeds(t *testing.T) {
	r := newTxRig(t)
	res, err := r.m.Upgrade(context.Background(), r.p, Options{Health: fastHealth})
	if err != nil || res.Outcome != OutcomeUpgraded {
		t.Fatalf("Upgrade = %+v, %v", res, err)
	}
	if got, want := r.callsWith(res.BackupID), seq(preamble, pins, []string{"up bot=sha256:new db=sha256:db"}); !reflect.DeepEqual(got, want) {
		t.Errorf("engine calls\n %q\nwant\n %q", got, want)
	}
	if jr := r.journal(); jr != nil {
		t.Errorf("journal left: %+v", jr)
	}
	if h := r.history(); len(h) != 1 || h[0].Result != string(OutcomeUpgraded) || h[0].BackupID != res.BackupID {
		t.Errorf("history %+v", h)
	}
	if got, want := r.eng.running(), []string{"bot=sha256:new", "db=sha256:db"}; !reflect.DeepEqual(got, want) || r.dataNow() != "migrated" {
		t.Errorf("containers %q, data %q", got, r.dataNow())
	}
}
