package upgrade

import (
	"context"
	"fmt"
	"strings"

	"github.com/docker-maim/docker-maim/internal/composefile"
	"github.com/docker-maim/docker-maim/internal/stack"
)

// recreatePhase recreates every service on its new image (journal: recreating). With
// --image the compose or env files are first edited to name the new images and the
// project loaded again from them (a failed edit is a warning: the files still name the
// old images). The files before the edit are in the backup; undone by the failure path:
// restore from the backup, the old images re-pinned, recreate.
var recreatePhase = phase[*txn]{
	Name:    "recreate",
	Journal: PhaseRecreating,
	Describe: func(t *txn) string {
		s := "recreate " + strings.Join(allServices(t.planned()), ", ") + " on the new images"
		if ad := t.plan.Adoption; ad != nil && len(ad.ServicesRemoved) > 0 {
			s = "remove the containers of " + strings.Join(ad.ServicesRemoved, ", ") + " (not in the new compose file; their data stays), " + s
		}
		if h := t.plan.PreStart; len(h) > 0 {
			s += "; pre_start hook(s) run before their service starts (one that fails fails the upgrade: rolled back, its container removed): " + strings.Join(h, "; ")
		}
		if n := len(t.plan.FileEdits); n > 0 {
			s = fmt.Sprintf("write the new image references into the compose files (%d edit(s)), then %s", n, s)
		}
		return s
	},
	Run: func(ctx context.Context, t *txn) error {
		m, p, plan := t.m, t.p, t.plan
		target := stack.WithImages(p, t.opts.Images)
		if len(plan.FileEdits) > 0 {
			if err := composefile.Apply(plan.FileEdits); err != nil {
				plan.Warnings = append(plan.Warnings, fmt.Sprintf("writing the new image references into the compose files failed (%v): they still name the old ones; edit them by hand before the next `docker compose up -d`", err))
			} else {
				t.res.FileEdits = plan.FileEdits
				for _, e := range plan.FileEdits {
					m.logf("edited %s", e.Describe(p.WorkingDir))
				}
				np, err := m.Reload(ctx, p)
				if err != nil {
					return err
				}
				target = stack.WithImages(np, t.opts.Images)
			}
		}
		adopted := plan.Adoption != nil
		if adopted {
			// The merged files are in place (phase adopt): the project they describe.
			np, err := m.Reload(ctx, p)
			if err != nil {
				return err
			}
			target = np
			if rm := plan.Adoption.ServicesRemoved; len(rm) > 0 {
				m.logf("removing the containers of %s (the new compose file has no such service)", strings.Join(rm, ", "))
			}
		}
		t.target = target
		m.logf("recreating %s", strings.Join(target.ServiceNames(), ", "))
		if err := m.Up(ctx, target, adopted); err != nil {
			return fmt.Errorf("recreate: %w", err)
		}
		return nil
	},
}
