package upgrade

import (
	"context"
	"fmt"
	"strings"
)

// The plan is the upgrade's first step, before the journal exists: nothing is stopped or
// changed, so it has nothing to undo. Manager.makePlan runs the planner steps
// (plan_steps.go), which find and measure; the policy below decides on what they found.
// The pull is part of the plan (step targets pulls each target as it inspects the
// service, while everything still runs); a plan that is refused points the tags the pull
// moved back (unpull). The dry-run ends after it, with the list of the phases that would
// run (Plan.Phases).

// makePlan makes the plan (Manager.makePlan: the planner steps) and the result that
// carries it. On error t.res is the refused result when a plan was made (the pull
// undone), nil otherwise.
func (t *txn) makePlan(ctx context.Context) error {
	plan, err := t.m.makePlan(ctx, t.p, t.adoption, t.opts)
	if err != nil {
		if plan != nil {
			t.m.unpull(ctx, plan)
			t.res = &Result{Plan: plan, Outcome: OutcomeRefused, Error: err.Error()}
			return &Error{Outcome: OutcomeRefused, Cause: err}
		}
		return err
	}
	t.plan, t.res = plan, &Result{Plan: plan}
	return nil
}

// policy refuses breaking changes without --accept-breaking (a dry-run only lists them):
// the pull is undone and the refusal recorded in the history.
func (t *txn) policy(ctx context.Context) error {
	plan := t.plan
	if len(plan.Breaking) == 0 || t.opts.AcceptBreaking || t.opts.DryRun {
		return nil
	}
	t.m.unpull(ctx, plan)
	var lines []string
	for _, f := range plan.Breaking {
		lines = append(lines, f.String())
	}
	cause := fmt.Errorf("breaking change: %s; read the notes, then run again with --accept-breaking (and --reset-data SOURCE to start that data afresh)", strings.Join(lines, "; "))
	t.res.Outcome, t.res.Error = OutcomeRefused, cause.Error()
	_ = t.journals.Append(Record{Op: "upgrade", Result: string(OutcomeRefused), Started: plan.Created, Images: plan.Changes, Error: cause.Error()})
	return &Error{Outcome: OutcomeRefused, Cause: cause}
}
