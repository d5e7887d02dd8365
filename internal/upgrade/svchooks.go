package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/dbdump"
	"github.com/docker-maim/docker-maim/internal/svchooks"
)

// The upgrade's service commands (internal/svchooks: the lifecycle labels of watchtower,
// offen/docker-volume-backup and stack-back, and x-maim's own keys). The plan reads them
// (step service-hooks) and lists them; the pre-upgrade and pre-backup commands run in the
// running containers after the plan and the policy, before the journal is written and
// before anything stops (preCommands): one that fails, or a pre-upgrade command that exits
// 75 (skip this upgrade, as watchtower reads it), refuses the upgrade, nothing changed.
// The services that stop-during-backup names get no hot pass (backupOptions). Once the
// gate passed, the post-upgrade commands run in the new containers and one that fails is
// a failed gate (rolled back); then the post-backup commands run there too, and one that
// fails is a warning only: the upgrade and its backup are sound (phase post-upgrade).

// readServiceHooks reads the commands of the project as it runs now (the pre commands
// run in its containers; what stops during the backup is its data) and those of the
// project the upgrade runs (the post commands run in its new containers).
func readServiceHooks(_ context.Context, pl *planning) error {
	old, err := svchooks.FromProject(pl.data.Project)
	if err != nil {
		return err
	}
	nw := old
	if pl.p != pl.data {
		if nw, err = svchooks.FromProject(pl.p.Project); err != nil {
			return err
		}
	}
	// The dumps are taken in the containers that run now, with their credentials.
	shown := &maim.ServiceHooks{StopDuringBackup: old.StopDuringBackup, Dumps: old.Dumps, Ignored: nw.Ignored}
	for i := range shown.Dumps {
		shown.Dumps[i].Supported = true
	}
	updated := updatedServices(pl.plan.Changes)
	keep := func(c svchooks.Command) {
		if (c.When == maim.HookPreUpgrade || c.When == maim.HookPostUpgrade) && !updated[c.Service] {
			shown.Ignored = append(shown.Ignored, fmt.Sprintf("%s: %s not run: its image does not change", c.Service, c.From))
			return
		}
		shown.Commands = append(shown.Commands, c)
	}
	for _, c := range old.Commands {
		if c.When == maim.HookPreUpgrade || c.When == maim.HookPreBackup {
			keep(c)
		}
	}
	for _, c := range nw.Commands {
		if c.When == maim.HookPostUpgrade || c.When == maim.HookPostBackup {
			keep(c)
		}
	}
	pl.plan.hooks = shown
	if !shown.Empty() {
		pl.plan.ServiceHooks = shown
	}
	return nil
}

// preCommands runs the pre-upgrade, then the pre-backup commands in the containers that
// run. A failure refuses the upgrade: the pull undone, the refusal in the history.
func (t *txn) preCommands(ctx context.Context) error {
	plan := t.plan
	var cmds []svchooks.Command
	cmds = append(cmds, svchooks.For(plan.hooks, maim.HookPreUpgrade)...)
	cmds = append(cmds, svchooks.For(plan.hooks, maim.HookPreBackup)...)
	if len(cmds) == 0 {
		return nil
	}
	err := svchooks.RunAll(ctx, t.m.Engine, cmds, svchooks.Containers(plan.running.IDs), t.m.logf)
	if err == nil {
		return nil
	}
	var f *svchooks.Failure
	cause := err
	if errors.As(err, &f) && f.Skip() {
		cause = fmt.Errorf("skipped: %w", err)
		t.m.logf("%s asks to skip this upgrade (exit %d): nothing was changed", f.Command.Service, svchooks.ExitSkip)
	}
	return t.refuseBeforeStop(ctx, cause)
}

// refuseBeforeStop refuses the upgrade before the journal and before anything stopped: the
// pull undone, the refusal in the history.
func (t *txn) refuseBeforeStop(ctx context.Context, cause error) error {
	plan := t.plan
	t.m.unpull(ctx, plan)
	t.res.Outcome, t.res.Error = OutcomeRefused, cause.Error()
	_ = t.journals.Append(Record{Op: "upgrade", Result: string(OutcomeRefused), Started: plan.Created, Images: plan.Changes, Error: cause.Error()})
	return &Error{Outcome: OutcomeRefused, Cause: cause}
}

// preDumps takes the logical dumps the project's labels and x-maim keys ask for (stack-back's
// stack-back.postgres/mysql/mariadb, x-maim dump) in the containers that run, after the
// pre commands and before anything stops, into the upgrade's backup, which it begins
// (t.hot: the hot pass and the backup phase go on with it). A dump that fails refuses the
// upgrade like a failing pre-command (exit 12), the begun backup dropped; a service with no
// running container is not dumped (its file archive protects it). A database --migrate-db
// moves is not dumped here: phase dump-db dumps it once everything else stopped, and that
// dump is the one its label asks for too.
func (t *txn) preDumps(ctx context.Context) error {
	plan := t.plan
	if plan.hooks == nil || len(plan.hooks.Dumps) == 0 {
		return nil
	}
	pl, err := t.m.Snapshots.PlanBackup(ctx, t.p, t.backupOptions())
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	for _, d := range plan.hooks.Dumps {
		if t.migrated(d.Service) {
			t.m.logf("%s: its dump (%s) is the one --migrate-db takes once everything else stopped (phase dump-db)", d.Service, d.From)
			continue
		}
		ids := append([]string(nil), plan.running.IDs[d.Service]...)
		sort.Strings(ids)
		if len(ids) == 0 {
			t.m.logf("%s: no dump taken (%s): no container of it runs; the file archive of its data protects it", d.Service, d.From)
			continue
		}
		cmd, ref, err := dbdump.ForContainer(ctx, t.m.Engine, d.Kind, ids[0])
		if err == nil {
			t.m.logf("dumping %s (%s): %s", d.Service, d.From, cmd)
			_, err = t.m.Snapshots.AddDump(ctx, t.p, pl, backup.Dump{Service: d.Service, Engine: cmd.Engine, Command: cmd.String(), Image: ref},
				func(w io.Writer) error { return dbdump.Take(ctx, t.m.Engine, d.Service, ids[0], cmd, w) })
		}
		if err != nil {
			pl.Abort()
			return t.refuseBeforeStop(ctx, fmt.Errorf("dump of %s (%s): %w", d.Service, d.From, err))
		}
	}
	t.hot = pl
	return nil
}

// postUpgradePhase runs the post-upgrade commands in the new containers once the gate
// passed (one that fails is a failed gate: rolled back from the backup), then the
// post-backup commands (one that fails is a warning).
var postUpgradePhase = phase[*txn]{
	Name:    "post-upgrade",
	Journal: PhaseHealth,
	Skip: func(t *txn) string {
		if len(svchooks.For(t.plan.hooks, maim.HookPostUpgrade))+len(svchooks.For(t.plan.hooks, maim.HookPostBackup)) == 0 {
			return "no post-upgrade or post-backup command"
		}
		return ""
	},
	Describe: func(t *txn) string {
		var parts []string
		for _, c := range svchooks.For(t.plan.hooks, maim.HookPostUpgrade) {
			parts = append(parts, fmt.Sprintf("%s (%s): roll back if it fails", c.Service, c.From))
		}
		for _, c := range svchooks.For(t.plan.hooks, maim.HookPostBackup) {
			parts = append(parts, fmt.Sprintf("%s (%s): a warning if it fails", c.Service, c.From))
		}
		return "run in the new containers: " + strings.Join(parts, "; ")
	},
	Run: func(ctx context.Context, t *txn) error {
		r, err := t.target.RunningContainers(ctx, t.m.Engine)
		if err != nil {
			return err
		}
		ctrs := svchooks.Containers(r.IDs)
		if err := svchooks.RunAll(ctx, t.m.Engine, svchooks.For(t.plan.hooks, maim.HookPostUpgrade), ctrs, t.m.logf); err != nil {
			return fmt.Errorf("gate: %w", err)
		}
		if err := svchooks.RunAll(ctx, t.m.Engine, svchooks.For(t.plan.hooks, maim.HookPostBackup), ctrs, t.m.logf); err != nil {
			t.m.logf("warning: %v (the upgrade and its backup stand)", err)
		}
		return nil
	},
}

// updatedServices are the services whose image changes: their pre-upgrade and
// post-upgrade commands run (as watchtower runs them for a container it updates). When no
// image changes (--force), every service is recreated on its image, and all run.
func updatedServices(changes []ImageChange) map[string]bool {
	out := map[string]bool{}
	for _, c := range changes {
		if c.Changed() {
			out[c.Service] = true
		}
	}
	if len(out) == 0 {
		for _, c := range changes {
			out[c.Service] = true
		}
	}
	return out
}
