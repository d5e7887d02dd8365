package upgrade

import (
	"context"
	"errors"
	"fmt"
	"strings"

	maim "github.com/docker-maim/docker-maim/internal/api"
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
			t.res = &Result{Plan: &plan.Plan, Outcome: OutcomeRefused, Error: err.Error()}
			return &Error{Outcome: OutcomeRefused, Cause: err}
		}
		return err
	}
	t.plan, t.res = plan, &Result{Plan: &plan.Plan}
	return nil
}

// policy refuses a database its new server cannot open (Plan.Databases, dbmajor.go),
// whatever --accept-breaking says, and breaking changes without --accept-breaking; a
// dry-run only lists them. The pull is undone and the refusal recorded in the history.
func (t *txn) policy(ctx context.Context) error {
	plan := t.plan
	if t.opts.DryRun {
		return nil
	}
	if cause := databaseRefusal(plan.Databases); cause != nil {
		return t.refuse(ctx, cause)
	}
	if len(plan.Breaking) == 0 || t.opts.AcceptBreaking {
		return nil
	}
	var lines []string
	for _, f := range plan.Breaking {
		lines = append(lines, f.String())
	}
	return t.refuse(ctx, fmt.Errorf("breaking change: %s; read the notes, then run again with --accept-breaking (and --reset-data SOURCE to start that data afresh)", strings.Join(lines, "; ")))
}

// refuse ends the upgrade before anything stops: the pull undone, the refusal recorded.
func (t *txn) refuse(ctx context.Context, cause error) error {
	plan := t.plan
	t.m.unpull(ctx, plan)
	t.res.Outcome, t.res.Error = OutcomeRefused, cause.Error()
	_ = t.journals.Append(Record{Op: "upgrade", Result: string(OutcomeRefused), Started: plan.Created, Images: plan.Changes, Error: cause.Error()})
	return &Error{Outcome: OutcomeRefused, Cause: cause}
}

// databaseRefusal is the refusal of the databases the plan refused (nil for none): each
// one's reason and its way forward, step by step.
func databaseRefusal(dbs []maim.Database) error {
	var parts []string
	for _, db := range dbs {
		if !db.Refused() {
			continue
		}
		s := "database " + db.Service + ": " + db.Reason
		for i, r := range db.Recipe {
			s += fmt.Sprintf("\n  %d. %s", i+1, r)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return nil
	}
	return errors.New(strings.Join(parts, "\n"))
}
