package upgrade

import (
	"context"

	"github.com/docker-maim/docker-maim/internal/maibotgate"
	"github.com/docker-maim/docker-maim/internal/project"
)

// MaiBot under an upgrade: the glue lives in internal/maibotgate (facts: internal/maibot);
// the upgrade only calls it: CheckAdoption here, TemplatePlans from planMerges, AppVersions
// from the backup phase, Versions from the gate's description.

// checkAdoption checks a MaiBot adoption (maibotgate.CheckAdoption): refuses an unconfirmed
// 0.x -> 1.x move, warns about lost agreement hashes, and records what the plan shows.
func (m *Manager) checkAdoption(_ context.Context, p *project.Project, plan *Plan) error {
	mb, warnings, err := maibotgate.CheckAdoption(p, plan.adoption.newp, newVersions(plan.Changes), tagVersion)
	plan.Warnings = append(plan.Warnings, warnings...)
	if mb != nil {
		plan.adoption.MaiBot = mb
	}
	return err
}

// newVersions are the versions of the images changes will run, by service: each new
// image's version label, else its tag.
func newVersions(changes []ImageChange) map[string]string {
	out := map[string]string{}
	for _, c := range changes {
		out[c.Service] = c.NewVersion
		if c.NewVersion == "" {
			out[c.Service] = tagVersion(c.NewRef)
		}
	}
	return out
}
