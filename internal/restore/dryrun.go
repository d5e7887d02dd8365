package restore

import (
	maim "github.com/docker-maim/docker-maim/internal/api"

	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
)

// dryRun ends a restore that was prepared (prepare: the backup chosen, its plan made,
// what runs listed) and not begun: it waits for the archives' hash check, the one a real
// restore waits for before anything stops, and says what the restore would do. No journal
// was written, nothing stopped, nothing written.
func (t *rtxn) dryRun() (*maim.RestoreResult, error) {
	if err := t.ready(); err != nil {
		return nil, err
	}
	phases := restorePhases
	if t.fd != nil {
		phases = fromDumpPhases
	}
	t.res.DryRun = true
	t.res.Restored = []string{}
	t.res.Plan = &maim.RestorePlan{
		Stop:         StopList(t.running),
		Write:        PlannedWrites(t.plan),
		SafetyBackup: !t.opts.NoSafetyBackup,
		Phases:       journal.DescribePhases(phases, t),
	}
	return t.res, nil
}

// pullPlanned is what a dry run's prepare does instead of pulling a gone image by digest
// (nil for a real restore, which pulls): the plan says it.
func (t *rtxn) pullPlanned(service, digest string) {
	t.res.Warnings = append(t.res.Warnings, "the image "+service+" ran at the backup is gone: the restore would pull it by digest "+digest)
}

// StopList is what a plan says would be stopped: the services that run, then the
// one-off containers' services.
func StopList(r project.Running) []string {
	out := append([]string{}, r.Services...)
	for _, s := range r.OneOffServices() {
		out = append(out, s+" (one-off)")
	}
	return out
}

// PlannedWrites says where a restore plan writes each source: the volume's name (named
// or anonymous) or the host path (a plan's own order: parents before what lies inside them).
func PlannedWrites(plan *snapshot.RestorePlan) []maim.PlannedWrite {
	out := []maim.PlannedWrite{}
	for _, it := range plan.Items {
		target := it.To.HostPath
		if it.To.VolumeName != "" {
			target = it.To.VolumeName
		}
		out = append(out, maim.PlannedWrite{Source: it.From.Name, Kind: string(it.To.Kind), Target: target})
	}
	return out
}
