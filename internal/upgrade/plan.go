package upgrade

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/config"
	"github.com/docker-maim/docker-maim/internal/maibotgate"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/templates"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/moby/moby/client"
)

// Plan is what an upgrade will do, worked out before anything stops: what the plan shows
// (api.Plan) and what the phases need of it.
type Plan struct {
	maim.Plan

	// adoption is what --compose-file does (Plan.Adoption, and the project it loads).
	adoption *Adoption
	running  project.Running
	merges   []config.Result
	// pulled are refs whose local tag the pull moved from the old image.
	pulled []ImageChange
	// fresh are refs the pull brought in that were not present locally before.
	fresh []string
	// hooks are the service commands the upgrade runs and the services archived only
	// stopped (svchooks.go).
	hooks *maim.ServiceHooks
}

// SourceSize is a data source with its estimated size (-1: unknown).
type SourceSize = maim.SourceSize

// MergeInfo is a planned config merge.
type MergeInfo = maim.MergeInfo

// backupRate is a conservative backup throughput for the downtime estimate.
const backupRate = 150 << 20 // bytes per second

// deltaShare guesses what part of the data a two-pass backup archives again while the
// services are stopped (what changed since the hot copy began): 1/deltaShare. It sizes
// the downtime estimate and the room the delta needs.
const deltaShare = 20

// unpull puts floating tags that a pull moved back on the old images, so a refused or
// dry-run upgrade leaves `docker compose up` starting what ran before, and removes the
// references the pull brought in: such an upgrade changes no local tag.
func (m *Manager) unpull(ctx context.Context, plan *Plan) {
	for _, c := range plan.pulled {
		if err := repoint(ctx, m.Engine, c.OldID, c.OldRef); err != nil {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("could not point %s back to %s: %v", c.OldRef, shortID(c.OldID), err))
		}
	}
	for _, ref := range plan.fresh {
		if _, err := m.Engine.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true}); err != nil {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("could not remove %s, pulled for the plan: %v", ref, err))
		}
	}
}

// planMerges finds the config files to merge (x-maim declarations, else the MaiBot
// layout: maibotgate.TemplatePlans) and merges them in memory. A file that does not parse
// stops the upgrade here.
func (m *Manager) planMerges(ctx context.Context, p *project.Project, plan *Plan, opts Options) error {
	images := map[string]string{}
	for _, c := range plan.Changes {
		images[c.Service] = c.NewRef
	}
	var plans []config.Plan
	if ext, ok := p.Extensions[config.ExtensionKey]; ok {
		ps, err := config.PlansFromExtension(ext, config.ExtensionOptions{BaseDir: p.WorkingDir, Images: images})
		if err != nil {
			return err
		}
		plans = append(plans, ps...)
	}
	for _, name := range p.ServiceNames() {
		if ext, ok := p.Services[name].Extensions[config.ExtensionKey]; ok {
			ps, err := config.PlansFromExtension(ext, config.ExtensionOptions{Service: name, BaseDir: p.WorkingDir, Images: images})
			if err != nil {
				return fmt.Errorf("service %s: %w", name, err)
			}
			plans = append(plans, ps...)
		}
	}
	if len(plans) == 0 {
		plans = maibotgate.TemplatePlans(p, images, newVersions(plan.Changes))
	}
	for _, pl := range plans {
		r, err := config.Prepare(ctx, templates.Reader{Engine: m.Engine}, pl, opts.KeepUnknown)
		if err != nil {
			return fmt.Errorf("config %s: %w", pl.File, err)
		}
		if r.Skipped != "" {
			continue
		}
		plan.merges = append(plan.merges, r)
		tpl := pl.Template.HostPath
		if tpl == "" {
			tpl = pl.Template.Image + ":" + pl.Template.Path
		}
		plan.Merges = append(plan.Merges, MergeInfo{
			File: pl.File, Service: pl.Service, Template: tpl, Action: string(pl.Action),
			Changed: r.Changed(), Report: r.Report, Diff: config.Diff(p.RelPath(pl.File), r.Current, r.Merged, r.Plan.Format, opts.ShowSecrets),
		})
	}
	return nil
}

// mergeFiles are the config files the upgrade will rewrite: they go into the backup.
func (plan *Plan) mergeFiles() []string {
	var out []string
	for _, r := range plan.merges {
		out = append(out, r.Plan.File)
	}
	return out
}

// applyMerges writes the merged configs and saves the reports beside the backup.
func (m *Manager) applyMerges(backupID string, plan *Plan) error {
	var reports []config.Report
	for _, r := range plan.merges {
		reports = append(reports, r.Report)
		if !r.Changed() {
			continue
		}
		m.logf("merging %s", r.Plan.File)
		if err := config.ApplyMerge(r); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(reports, "", "  ")
	if err != nil {
		return err
	}
	if err := m.Store.AddFile(plan.Project, backupID, "config-merge.json", b); err != nil {
		return err
	}
	var txt bytes.Buffer
	_ = config.WriteReports(&txt, reports, "text")
	return m.Store.AddFile(plan.Project, backupID, "config-merge.txt", txt.Bytes())
}

// verifyReset reads back and verifies (backup.Store.VerifySources: sha256, every entry,
// the manifest's counts) the archives of the sources --reset-data is about to empty,
// from the backup on disk as it is now.
func (m *Manager) verifyReset(man *backup.Manifest, names []string) error {
	entry, err := m.Store.Get(man.Project, man.ID)
	if err != nil {
		return err
	}
	var held []string
	for _, name := range names {
		if _, ok := man.Source(name); ok {
			held = append(held, name) // a source that did not exist has nothing to empty
		}
	}
	m.logf("verifying %s in backup %s before emptying", strings.Join(held, ", "), man.ID)
	return m.Store.VerifySources(entry, held, nil)
}

// resetData empties the named sources (they are in backup man), keeping each root's
// own mode and owner: it restores an archive that holds only the root entry.
func (m *Manager) resetData(ctx context.Context, man *backup.Manifest, names []string) error {
	entry, err := m.Store.Get(man.Project, man.ID)
	if err != nil {
		return err
	}
	for _, name := range names {
		src, ok := man.Source(name)
		if !ok {
			continue // did not exist: nothing to empty
		}
		m.logf("emptying %s (it is in backup %s)", name, man.ID)
		root, err := rootHeader(entry, src, man.Compression)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		cw, _ := archive.Compress(&buf, archive.None, 0)
		tw := tar.NewWriter(cw)
		if err := tw.WriteHeader(root); err != nil {
			return err
		}
		tw.Close()
		cw.Close()
		t, ok := snapshot.TargetOf(src.Source, "")
		if src.IsFile() {
			return fmt.Errorf("%s is a single file: --reset-data empties directories and volumes", name)
		} else if !ok {
			return fmt.Errorf("%s is a %s: --reset-data empties directories and volumes", name, src.Kind)
		}
		if _, err := m.Snapshots.Mover.Restore(ctx, t, &buf, volume.RestoreOptions{Compression: archive.None}); err != nil {
			return fmt.Errorf("emptying %s: %w", name, err)
		}
	}
	return nil
}

// rootHeader reads the root entry ("./") of a source's archive.
func rootHeader(e backup.Entry, src backup.Source, compression string) (*tar.Header, error) {
	if src.Delta != nil {
		src = src.DeltaSource() // a two-pass source: the root as it was once stopped
	}
	f, err := e.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := archive.ParseCompression(compression)
	if err != nil {
		c = archive.DetectCompression(src.Archive)
	}
	r, err := archive.Decompress(f, c)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	tr := tar.NewReader(r)
	h, err := tr.Next()
	for err == nil && h.Typeflag == tar.TypeXGlobalHeader {
		h, err = tr.Next()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Archive, err)
	}
	if h.Typeflag != tar.TypeDir {
		return nil, fmt.Errorf("%s does not start with its root directory", src.Archive)
	}
	return &tar.Header{Typeflag: tar.TypeDir, Name: h.Name, Mode: h.Mode, Uid: h.Uid, Gid: h.Gid, ModTime: h.ModTime, Format: tar.FormatPAX}, nil
}

// sizes estimates each source (snapshot.Sizes): volumes through the host fast path or
// the engine's disk usage, host paths by walking them.
func (m *Manager) sizes(ctx context.Context, srcs []project.Source) []SourceSize {
	sizes := m.Snapshots.Sizes(ctx, srcs, nil)
	out := make([]SourceSize, 0, len(srcs))
	for _, s := range srcs {
		out = append(out, SourceSize{Name: s.Name, Kind: s.Kind, Bytes: sizes[s.Name], Policy: s.Policy})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// sizeMap is the plan's measured sizes by source name: the backup's progress totals.
func (p *Plan) sizeMap() map[string]int64 {
	out := make(map[string]int64, len(p.Sources))
	for _, s := range p.Sources {
		out[s.Name] = s.Bytes
	}
	return out
}
