package upgrade

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/composefile"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
)

// The plan is made by planner steps, run in order over the plan being built (planning),
// the way the transaction is a list of phases (phases.go): each step reads what the
// steps before it found and adds its part, and a new check is a new entry in planSteps.
// The steps find and measure; whether a breaking change stops the upgrade is the policy's
// (phase_plan.go), which reads the findings after the plan is made.

// planning is a plan being made: what the planner steps share.
type planning struct {
	m *Manager
	// p is the project to upgrade: with --compose-file the adoption's merged project.
	p *project.Project
	// data is the project as it runs now, whose sources are backed up (p itself, unless
	// p is the project of a release's new compose files: adopt.go).
	data *project.Project
	// adoption is what --compose-file does, nil without it.
	adoption *Adoption
	opts     Options
	plan     *Plan

	// containers are the project's containers as they are now (step what-runs): the
	// images they run are the services' current ones.
	containers []container.Summary
	// srcs are the data sources to back up, hostPaths those left out (step sources).
	srcs, hostPaths []project.Source
	// leftOut are the sources whose policy is never: listed, not backed up (step sources).
	leftOut []backup.LeftOut
}

// planStep is one step of making the plan.
type planStep struct {
	// name says what the step works out (the tests list the steps by it).
	name string
	run  func(context.Context, *planning) error
	// refuses: an error of the step refuses the plan made so far, which is returned with
	// it (the caller undoes the pull and reports the refusal). Before the first such step
	// the targets are not known yet: an error returns no plan.
	refuses bool
}

// planSteps are the steps of the plan, in order.
var planSteps = []planStep{
	{name: "pre-start", run: listPreStart},                        // the pre_start hooks the recreate runs
	{name: "image-flags", run: checkImageFlags},                   // each --image names a service
	{name: "what-runs", run: listWhatRuns},                        // what runs, the project's containers
	{name: "targets", run: resolveTargets},                        // each service's old and new image; the pull
	{name: "compare", run: compareImages},                         // nothing to do?
	{name: "file-edits", run: planFileEdits, refuses: true},       // --image into the compose files
	{name: "service-hooks", run: readServiceHooks, refuses: true}, // svchooks.go
	{name: "breaking", run: findBreakingChanges, refuses: true},   // breaking.go
	{name: "config-merges", run: planConfigMerges, refuses: true}, // merged in memory
	{name: "sources", run: listSources, refuses: true},            // what is backed up; --reset-data
	{name: "databases", run: checkDatabases, refuses: true},       // database major versions (dbmajor.go)
	{name: "sizes", run: measureSources, refuses: true},           // the backup's size
	{name: "space", run: checkSpace, refuses: true},               // room for the backup; downtime
	{name: "migrate-db", run: planMigrations, refuses: true},      // --migrate-db (migrate.go)
	{name: "adoption", run: showAdoption, refuses: true},          // --compose-file (adopt.go)
	{name: "maibot", run: checkMaiBotAdoption, refuses: true},     // a MaiBot adoption (adopt_maibot.go)
}

// makePlan works out the targets of p (with --compose-file, of the adoption's merged
// project), pulls them, and checks everything that can be checked before stopping: it
// runs planSteps in order. p's own sources are backed up. On a refusal it returns the
// plan with the error.
func (m *Manager) makePlan(ctx context.Context, p *project.Project, ad *Adoption, opts Options) (*Plan, error) {
	pl := newPlanning(m, p, ad, opts)
	for _, st := range planSteps {
		if err := st.run(ctx, pl); err != nil {
			if st.refuses {
				return pl.plan, err
			}
			return nil, err
		}
	}
	return pl.plan, nil
}

// newPlanning starts the plan of upgrading data (to ad's merged project with ad).
func newPlanning(m *Manager, data *project.Project, ad *Adoption, opts Options) *planning {
	p := data
	if ad != nil {
		p = ad.newp
	}
	plan := &Plan{Plan: maim.Plan{Project: p.Name, Created: time.Now().UTC(), ResetData: opts.ResetData}}
	return &planning{m: m, p: p, data: data, adoption: ad, opts: opts, plan: plan}
}

// listPreStart lists the pre_start hooks of the services (prestart.go): the plan shows
// them, refused or not.
func listPreStart(_ context.Context, pl *planning) error {
	pl.plan.PreStart = preStartHooks(pl.p)
	return nil
}

// checkImageFlags refuses an --image for a service the project does not have.
func checkImageFlags(_ context.Context, pl *planning) error {
	for svc := range pl.opts.Images {
		if _, ok := pl.p.Services[svc]; !ok {
			return fmt.Errorf("--image %s=...: the project has no service %q", svc, svc)
		}
	}
	return nil
}

// listWhatRuns records what runs (the services the upgrade stops and starts again) and
// the project's containers (the images the services run now).
func listWhatRuns(ctx context.Context, pl *planning) error {
	running, err := pl.p.RunningContainers(ctx, pl.m.Engine)
	if err != nil {
		return err
	}
	pl.plan.running = running
	pl.containers, err = project.Containers(ctx, pl.m.Engine, pl.p.Name)
	return err
}

// resolveTargets works out, service by service in dependency order, the image each runs
// now and the one it is to run, pulled before anything stops: no downtime for the pull.
// A service without an image (build only) is left as it is, with a warning.
func resolveTargets(ctx context.Context, pl *planning) error {
	order, err := pl.p.Order()
	if err != nil {
		return err
	}
	for _, name := range order {
		svc := pl.p.Services[name]
		c := ImageChange{Service: name, NewRef: svc.Image}
		if ref, ok := pl.opts.Images[name]; ok {
			c.NewRef = ref
		}
		if c.NewRef == "" {
			pl.plan.Warnings = append(pl.plan.Warnings, fmt.Sprintf("%s has no image (build only): left as it is", name))
			continue
		}
		pl.currentImage(ctx, &c, svc.Image)
		if svc.Build == nil || svc.PullPolicy == types.PullPolicyAlways {
			if err := pl.pullTarget(ctx, c); err != nil {
				return err
			}
		}
		info, err := InspectImage(ctx, pl.m.Engine, c.NewRef)
		if err != nil {
			return fmt.Errorf("image %s of %s: %w", c.NewRef, name, err)
		}
		c.NewID, c.NewDigests, c.NewVersion, c.NewLabels = info.ID, info.Digests, info.Version, info.Labels
		if c.OldRef == c.NewRef && c.Changed() {
			pl.plan.pulled = append(pl.plan.pulled, c)
		}
		pl.plan.Changes = append(pl.plan.Changes, c)
	}
	return nil
}

// currentImage fills in the image c's service runs now: its container's reference (the
// compose file's, composeRef, when the container names only an image ID) and ID, with the
// digests and version of that image. A service without a container has none (OldRef "").
func (pl *planning) currentImage(ctx context.Context, c *ImageChange, composeRef string) {
	for _, ct := range pl.containers {
		if ct.Labels[project.LabelService] == c.Service {
			c.OldRef, c.OldID = ct.Image, ct.ImageID
			break
		}
	}
	if c.OldID == "" {
		c.OldRef = ""
		return
	}
	if c.OldRef == "" || strings.HasPrefix(c.OldRef, "sha256:") {
		c.OldRef = composeRef
	}
	if info, err := InspectImage(ctx, pl.m.Engine, c.OldID); err == nil {
		c.OldDigests, c.OldVersion = info.Digests, info.Version
		if v := tagVersion(c.OldRef); info.Version == "" && v != "" {
			c.OldVersion = v
		}
	}
}

// pullTarget pulls c's new reference. A failed pull of an image present locally uses the
// local image, with a warning; a reference the pull brought in is recorded (Plan.fresh) so
// that a plan that goes no further removes it again (unpull).
func (pl *planning) pullTarget(ctx context.Context, c ImageChange) error {
	m, plan := pl.m, pl.plan
	m.logf("pulling %s", c.NewRef)
	_, ierr := m.Engine.ImageInspect(ctx, c.NewRef)
	absent := ierr != nil
	if err := pull(ctx, m.Engine, c.NewRef, m.auth(c.NewRef)); err != nil {
		if _, ierr := m.Engine.ImageInspect(ctx, c.NewRef); ierr != nil {
			return fmt.Errorf("pulling %s for %s: %w", c.NewRef, c.Service, err)
		}
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("pulling %s failed (%v): using the local image", c.NewRef, err))
	} else if absent && !slices.Contains(plan.fresh, c.NewRef) {
		plan.fresh = append(plan.fresh, c.NewRef)
	}
	return nil
}

// compareImages tells whether any service will run another image (Plan.NothingToDo).
func compareImages(_ context.Context, pl *planning) error {
	pl.plan.NothingToDo = true
	for _, c := range pl.plan.Changes {
		if c.Changed() {
			pl.plan.NothingToDo = false
		}
	}
	return nil
}

// planFileEdits plans the edits that make the compose files name the --image targets too
// (a floating tag that stays the same reference needs no edit: the old image is pinned by
// ID). One that cannot be written there is refused: the next plain `docker compose up -d`
// would silently undo the upgrade onto data the new version may have migrated.
func planFileEdits(_ context.Context, pl *planning) error {
	want := differing(pl.p, pl.opts.Images)
	if len(want) == 0 {
		return nil
	}
	edits, err := composefile.Plan(fileSources(pl.p), want)
	if err != nil {
		return fmt.Errorf("--image cannot be written into the compose files, and a plain `docker compose up -d` would then undo the upgrade: %v; change the reference in the file instead and run `docker maim upgrade` (or give --image for every service that shares it)", err)
	}
	pl.plan.FileEdits = edits
	return nil
}

// findBreakingChanges lists the breaking changes the new images and the compose file
// declare (breaking.go); the policy decides on them.
func findBreakingChanges(_ context.Context, pl *planning) error {
	svcExt := map[string]map[string]any{}
	for name, s := range pl.p.Services {
		svcExt[name] = s.Extensions
	}
	var err error
	pl.plan.Breaking, err = findBreaking(pl.plan.Changes, svcExt, pl.p.Extensions)
	return err
}

// planConfigMerges merges the config files in memory (planMerges).
func planConfigMerges(ctx context.Context, pl *planning) error {
	return pl.m.planMerges(ctx, pl.p, pl.plan, pl.opts)
}

// listSources lists the data sources of the project as it runs (host paths only with
// --include-host-paths), checks that the backup dir is outside them, and refuses a
// --reset-data for a source the project does not have.
func listSources(ctx context.Context, pl *planning) error {
	m, opts := pl.m, pl.opts
	all, err := pl.data.SourcesWith(ctx, m.Engine, project.SourceOptions{IncludeHostPaths: opts.IncludeHostPaths, Policies: opts.SourcePolicies})
	if err != nil {
		return err
	}
	pl.srcs, pl.hostPaths = snapshot.SplitHostPaths(all)
	if err := backup.CheckRoot(m.Store.LocalRoot(), pl.srcs); err != nil {
		return err
	}
	// Sources whose policy is never are left out of the upgrade's backup: not protected.
	if pl.srcs, pl.leftOut, err = snapshot.LeaveOut(pl.srcs, true, nil); err != nil {
		return err
	}
	for _, l := range pl.leftOut {
		for _, r := range opts.ResetData {
			if r == l.Name {
				return fmt.Errorf("--reset-data %s: its backup policy is never, so the upgrade's backup would not hold it (--source-policy %s=always backs it up)", r, r)
			}
		}
	}
	known := map[string]bool{}
	var names []string
	for _, s := range pl.srcs {
		known[s.Name] = true
		names = append(names, s.Name)
	}
	for _, r := range opts.ResetData {
		if !known[r] {
			return fmt.Errorf("--reset-data %s: no such data source (the project has: %s)", r, strings.Join(names, ", "))
		}
	}
	return nil
}

// measureSources estimates the size of each source (the host paths left out are listed
// with why) and bounds what the backup writes: a source the backup takes as an increment
// counts what its increment can hold (snapshot.EstimateSources), the others their size.
func measureSources(ctx context.Context, pl *planning) error {
	plan := pl.plan
	plan.Sources = pl.m.sizes(ctx, pl.srcs)
	for _, h := range pl.hostPaths {
		plan.Sources = append(plan.Sources, SourceSize{Name: h.Name, Kind: h.Kind, Bytes: -1, NotBackedUp: snapshot.NotBackedUp(h)})
	}
	for _, l := range pl.leftOut {
		plan.Sources = append(plan.Sources, SourceSize{Name: l.Name, Kind: l.Kind, Bytes: -1, Policy: l.Policy, NotBackedUp: snapshot.NotProtected})
	}
	opts := snapshot.BackupOptions{Reason: "upgrade", Compression: pl.opts.Compression, Full: pl.opts.Full, MaxDeltas: pl.opts.MaxDeltas}
	plan.BackupBytes, plan.FullBackupBytes = pl.m.Snapshots.EstimateSources(ctx, pl.data, pl.srcs, opts, plan.Sources)
	return nil
}

// checkSpace refuses a backup dir without room for the backup, and estimates the
// downtime: stop, archive what is archived stopped, recreate.
func checkSpace(_ context.Context, pl *planning) error {
	m, plan := pl.m, pl.plan
	twoPass := !pl.opts.OnePass && !plan.running.Empty()
	stopped := plan.BackupBytes
	if twoPass {
		stopped /= deltaShare // only the changes since the hot copy began are archived stopped
	}
	// The backup never takes more than BackupBytes (the data, or an increment's bound;
	// zstd at worst stores it as it is) plus a margin for headers, the manifest and what
	// is written after the plan; a two-pass backup adds its delta.
	need := plan.BackupBytes + 64<<20
	if twoPass {
		need += stopped
	}
	plan.FreeBytes = m.Store.FreeBytes()
	if plan.FreeBytes >= 0 && plan.BackupBytes > 0 && plan.FreeBytes < need {
		return fmt.Errorf("not enough space for the backup in %s: %s free, up to %s needed", m.Store.Location(), units.HumanSize(float64(plan.FreeBytes)), units.HumanSize(float64(need)))
	}
	plan.Downtime = 5*time.Second + time.Duration(float64(stopped)/backupRate*float64(time.Second))
	return nil
}

// showAdoption puts what --compose-file does into the plan (adopt.go): the adoption, its
// warnings, and as breaking changes a layout that removes services and the volumes that
// change; an adoption always has something to do.
func showAdoption(_ context.Context, pl *planning) error {
	ad, plan := pl.adoption, pl.plan
	if ad == nil {
		return nil
	}
	plan.adoption, plan.Adoption = ad, &ad.Adoption
	plan.Warnings = append(plan.Warnings, ad.Warnings...)
	plan.NothingToDo = false
	if f, ok := ad.layoutFinding(); ok {
		plan.Breaking = append(plan.Breaking, f)
	}
	for _, vc := range ad.VolumesChanged {
		plan.Breaking = append(plan.Breaking, volumeFinding(vc))
	}
	return nil
}

// checkMaiBotAdoption checks an adoption of MaiBot's compose files (checkAdoption).
func checkMaiBotAdoption(ctx context.Context, pl *planning) error {
	if pl.adoption == nil {
		return nil
	}
	return pl.m.checkAdoption(ctx, pl.data, pl.plan)
}
