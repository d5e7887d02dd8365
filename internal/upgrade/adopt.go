package upgrade

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/composemerge"
	"github.com/docker-maim/docker-maim/internal/maibot"
	"github.com/docker-maim/docker-maim/internal/project"
	"go.yaml.in/yaml/v3"
)

// Adopting a release's new compose files (upgrade --compose-file): the plan merges each
// new file with the user's (composemerge: three-way on the release's previous file, from
// --base or recorded by an earlier adoption, else two-way), loads the merged project to
// pull its images and find what it mounts, and the adopt phase (phase_adopt.go) writes
// the merged files in place once the backup holds the old ones. Recreate then runs the
// new project, removing the containers of the services it no longer has; a rollback
// restores the old files byte for byte and recreates the old services, removed ones
// included, removing the ones the new files added.

// NewFile is a compose file given to upgrade --compose-file or --base: where it came from
// (a path, "-" for stdin) and its bytes.
type NewFile = maim.NewFile

// Adoption is what an upgrade --compose-file does with the project's compose files: what
// the plan shows (api.Adoption) and the project the merged files describe.
type Adoption struct {
	maim.Adoption

	// newp is the project the merged files describe (loaded from a temporary copy).
	newp *project.Project
}

// AdoptedFile is the merge of one new compose file with the project's file it replaces
// (Merged: the merged bytes; Upstream: the release's file as given).
type AdoptedFile = maim.AdoptedFile

// BindSource is a bind source the adoption creates.
type BindSource = maim.BindSource

// upstreamName is the name, in the backup, of the release's i-th file as given.
func upstreamName(i int) string { return fmt.Sprintf("adopted-upstream-%d.yaml", i+1) }

// checkRelease refuses a release's file that cannot be one: empty (a download that failed
// into a pipe: `curl ... | docker maim upgrade --compose-file -`), not a YAML mapping, or,
// for the main file (first), one that declares no services. Merged, such a file would
// remove every service.
func checkRelease(nf NewFile, main bool) error {
	var doc map[string]any
	if err := yaml.Unmarshal(nf.Data, &doc); err != nil {
		return fmt.Errorf("the release's compose file %s is not a YAML mapping: %v", releaseName(nf), err)
	}
	if doc == nil {
		return fmt.Errorf("the release's compose file %s is empty (a download that failed?)", releaseName(nf))
	}
	if services, _ := doc["services"].(map[string]any); main && len(services) == 0 {
		return fmt.Errorf("the release's compose file %s declares no services", releaseName(nf))
	}
	return nil
}

func releaseName(nf NewFile) string {
	if nf.Name == "-" {
		return "(stdin)"
	}
	return nf.Name
}

// planAdoption merges the new files with the project's and loads the result. The error is
// a refusal before anything was pulled.
func (t *txn) planAdoption(ctx context.Context) (*Adoption, error) {
	m, p, opts := t.m, t.p, t.opts
	n := len(opts.ComposeFiles)
	switch {
	case len(opts.Images) > 0:
		return nil, errors.New("--compose-file and --image cannot be combined: put the image into the new compose file")
	case n > len(p.ComposeFiles):
		return nil, fmt.Errorf("%d --compose-file given but the project has %d compose file(s) (%s): the new files replace the project's positionally, so give at most one per file", n, len(p.ComposeFiles), strings.Join(p.ComposeFiles, ", "))
	case len(opts.Base) > 0 && len(opts.Base) != n:
		return nil, fmt.Errorf("%d --base for %d --compose-file: give one --base per --compose-file, in the same order, or none", len(opts.Base), n)
	}
	ad := &Adoption{}
	seenAdded, seenRemoved := map[string]bool{}, map[string]bool{}
	for i, nf := range opts.ComposeFiles {
		if err := checkRelease(nf, i == 0); err != nil {
			return nil, err
		}
		file := p.ComposeFiles[i]
		cur, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		af := AdoptedFile{File: file, From: nf.Name, Upstream: nf.Data}
		var base []byte
		if len(opts.Base) > 0 {
			base, af.Base = opts.Base[i].Data, "--base "+opts.Base[i].Name
		} else if b, id := m.recordedBase(p.Name, file); b != nil {
			base, af.Base = b, "backup "+id
		}
		mo := composemerge.Options{ShowSecrets: opts.ShowSecrets}
		if base == nil {
			// Two-way cannot tell a service the release dropped from one of the user's:
			// what is known of the release (MaiBot 1.x has no adapters) says it.
			mo.RemovedServices = maibot.KnownRemoved(cur, nf.Data)
		}
		merged, rep, err := composemerge.MergeWith(base, cur, nf.Data, mo)
		if err != nil {
			return nil, fmt.Errorf("merging %s into %s: %w", nf.Name, p.RelPath(file), err)
		}
		af.Merged, af.Report = merged, rep
		if rep.Mode == composemerge.TwoWay {
			var kept []string
			for _, c := range rep.Changes {
				if c.Rule == composemerge.RuleTwoWayUserKept && c.Service != "" && !slices.Contains(kept, c.Service) {
					kept = append(kept, c.Service)
				}
			}
			if len(kept) > 0 {
				ad.Warnings = append(ad.Warnings, fmt.Sprintf("two-way merge of %s (no base known): service(s) only in your file are kept: %s; if the release removed or renamed one, give --base OLD_UPSTREAM (the release's previous file) for a three-way merge", p.RelPath(file), strings.Join(kept, ", ")))
			}
		}
		af.Diff = composemerge.Diff(p.RelPath(file), cur, merged, opts.ShowSecrets)
		ad.Files = append(ad.Files, af)
		for _, s := range rep.ServicesAdded {
			if !seenAdded[s] {
				seenAdded[s] = true
				ad.ServicesAdded = append(ad.ServicesAdded, s)
			}
		}
		for _, s := range rep.ServicesRemoved {
			if !seenRemoved[s] {
				seenRemoved[s] = true
				ad.ServicesRemoved = append(ad.ServicesRemoved, s)
			}
		}
		ad.BindsMoved = append(ad.BindsMoved, rep.BindsMoved...)
	}
	newp, err := m.loadMerged(ctx, p, ad.Files, p.Name)
	if err != nil {
		return nil, err
	}
	ad.newp = newp
	if err := m.checkProjectName(ctx, p, ad.Files); err != nil {
		return nil, err
	}
	// Services the merged files no longer name (another compose file may still have them).
	for _, s := range p.ServiceNames() {
		if _, ok := newp.Services[s]; !ok && !seenRemoved[s] {
			ad.ServicesRemoved = append(ad.ServicesRemoved, s)
		}
	}
	sort.Strings(ad.ServicesRemoved)
	if err := m.planSources(ctx, p, ad); err != nil {
		return nil, err
	}
	if ad.VolumesChanged, err = volumeChanges(ctx, m.Engine, p, newp); err != nil {
		return nil, err
	}
	for _, vc := range ad.VolumesChanged {
		ad.Warnings = append(ad.Warnings, fmt.Sprintf("volume %s keeps its driver and options (%s of the new compose file is not applied): docker-maim never lets compose recreate a volume", vc.Name, strings.Join(vc.What, "; ")))
	}
	return ad, nil
}

// checkProjectName refuses an adoption after which compose would derive another project
// name from the files than it does now (loaded as `docker compose` in the project would
// load them: no -p; COMPOSE_PROJECT_NAME, the files' name:, else the directory). The merge
// keeps the user's top-level name: (composemerge.RuleProjectName), so the name derived
// from the files cannot change through it; this is the check that it did not: the project
// would otherwise move to a name with none of its containers, volumes or backups.
func (m *Manager) checkProjectName(ctx context.Context, p *project.Project, files []AdoptedFile) error {
	lo := loadOptions(p)
	lo.Name = ""
	cur, err := m.Load(ctx, lo)
	if err != nil {
		return fmt.Errorf("loading the current compose files for their project name: %w", err)
	}
	next, err := m.loadMerged(ctx, p, files, "")
	if err != nil {
		return err
	}
	if cur.Name != next.Name {
		return fmt.Errorf("the merged compose file would rename the project from %q to %q (compose would find none of its containers, volumes or backups): set the top-level name: of your compose file to %q, then run again", cur.Name, next.Name, cur.Name)
	}
	return nil
}

// loadMerged loads the project the merged files describe: a temporary copy of them in
// place of the files they replace, with the project's working dir, env files and
// profiles (relative binds resolve against the project dir as they will in place), under
// name ("": the name compose derives from the files, the environment and the directory).
func (m *Manager) loadMerged(ctx context.Context, p *project.Project, files []AdoptedFile, name string) (*project.Project, error) {
	if m.Load == nil {
		return nil, errors.New("no project loader (internal error)")
	}
	dir, err := os.MkdirTemp("", "maim-adopt-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	lo := loadOptions(p)
	paths := slices.Clone(p.ComposeFiles)
	for i, af := range files {
		paths[i] = filepath.Join(dir, fmt.Sprintf("%d-%s", i, filepath.Base(af.File)))
		if err := os.WriteFile(paths[i], af.Merged, 0o600); err != nil {
			return nil, err
		}
	}
	lo.Files, lo.Name = paths, name
	newp, err := m.Load(ctx, lo)
	if err != nil {
		return nil, fmt.Errorf("the merged compose file does not load: %w", err)
	}
	return newp, nil
}

// planSources finds the data sources the new files no longer mount and the bind sources
// they need that do not exist yet.
func (m *Manager) planSources(ctx context.Context, p *project.Project, ad *Adoption) error {
	oldSrcs, err := p.Sources(ctx, m.Engine)
	if err != nil {
		return err
	}
	newSrcs, err := ad.newp.Sources(ctx, m.Engine)
	if err != nil {
		return err
	}
	mounted := func(s project.Source) bool {
		for _, n := range newSrcs {
			switch {
			case n.Kind == project.KindProjectFile:
			case s.VolumeName != "" && n.VolumeName == s.VolumeName:
				return true
			case s.HostPath != "" && n.HostPath != "" && n.Kind != project.KindBindFile && project.Within(s.HostPath, n.HostPath):
				return true
			case s.HostPath != "" && n.HostPath == s.HostPath:
				return true
			}
		}
		return false
	}
	for _, s := range oldSrcs {
		if s.Kind != project.KindProjectFile && !mounted(s) {
			ad.NotMounted = append(ad.NotMounted, s.Name)
		}
	}
	// What the old files mounted as a single file, by container path.
	oldFileTargets := map[string]bool{}
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				if st, err := os.Stat(v.Source); err == nil && st.Mode().IsRegular() {
					oldFileTargets[v.Target] = true
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, name := range ad.newp.ServiceNames() {
		for _, v := range ad.newp.Services[name].Volumes {
			if v.Type != types.VolumeTypeBind || v.Source == "" || seen[v.Source] {
				continue
			}
			if _, err := os.Lstat(v.Source); !errors.Is(err, os.ErrNotExist) {
				continue
			}
			seen[v.Source] = true
			ad.CreateSources = append(ad.CreateSources, bindKind(v.Source, v.Target, oldFileTargets[v.Target]))
		}
	}
	return nil
}

// bindKind decides whether a missing bind source is a file or a directory: a file when the
// old files mounted a file at the same container path, or when the source's or the target's
// name has an extension (config.toml, .env, app.conf); a directory otherwise.
func bindKind(source, target string, oldFile bool) BindSource {
	b := BindSource{Path: source, Kind: "dir", Why: "no extension: a directory"}
	switch {
	case oldFile:
		b.Kind, b.Why = "file", "the old files mounted a file at "+target
	case hasExt(source):
		b.Kind, b.Why = "file", "the source's name has an extension"
	case hasExt(target):
		b.Kind, b.Why = "file", "the container path "+target+" has an extension"
	}
	return b
}

func hasExt(p string) bool {
	base := filepath.Base(p)
	if strings.HasPrefix(base, ".") {
		// a dotfile is a file when it is a dotenv-like name (.env, .env.prod); .ssh, .config are dirs
		return base == ".env" || strings.HasPrefix(base, ".env.")
	}
	ext := filepath.Ext(base)
	return ext != "" && ext != base && len(ext) <= 6
}

// recordedBase finds the release file an earlier adoption of file recorded (the base of a
// three-way merge): the newest upgrade that adopted it and was not rolled back since.
func (m *Manager) recordedBase(projectName, file string) ([]byte, string) {
	hist, err := m.journals(projectName).History()
	if err != nil {
		return nil, ""
	}
	undone := map[string]bool{}
	for i := len(hist) - 1; i >= 0; i-- {
		r := hist[i]
		if r.Op == "rollback" || r.Op == OpRestore {
			undone[r.BackupID] = true
			continue
		}
		if r.Op != "upgrade" || r.Result != string(OutcomeUpgraded) || r.BackupID == "" || undone[r.BackupID] {
			continue
		}
		e, err := m.Store.Get(projectName, r.BackupID)
		if err != nil || e.Manifest == nil || e.Manifest.Upgrade == nil {
			continue
		}
		for _, af := range e.Manifest.Upgrade.Adopted {
			if af.File == file {
				if b, err := m.Store.ReadFile(projectName, r.BackupID, af.Upstream); err == nil {
					return b, r.BackupID
				}
			}
		}
	}
	return nil, ""
}

// adoptedInfo is what the backup's manifest records of the adoption.
func (ad *Adoption) adoptedInfo() []backup.AdoptedFile {
	var out []backup.AdoptedFile
	for i, af := range ad.Files {
		out = append(out, backup.AdoptedFile{File: af.File, Upstream: upstreamName(i), Mode: af.Report.Mode})
	}
	return out
}

// layoutFinding is the breaking-change finding of a compose-file swap that removes
// services or moves binds ("" when it does neither).
func (ad *Adoption) layoutFinding() (Finding, bool) {
	var what []string
	if len(ad.ServicesRemoved) > 0 {
		what = append(what, "removes service(s) "+strings.Join(ad.ServicesRemoved, ", "))
	}
	changed := false
	for _, af := range ad.Files {
		changed = changed || af.Report.LayoutChanged()
	}
	if n := len(ad.BindsMoved); n > 0 {
		what = append(what, fmt.Sprintf("moves or unmounts %d bind(s)", n))
	}
	if !changed && len(what) == 0 {
		return Finding{}, false
	}
	if len(what) == 0 {
		what = append(what, "changes the layout")
	}
	return Finding{Service: "compose file", Reason: "the new compose file " + strings.Join(what, " and ")}, true
}

// writeMerged puts the merged files in place, keeping each file's mode, by renames that
// save journals (internal/journal, renames.go: all written beside their files first, then renamed), and
// creates the missing bind sources.
func (m *Manager) writeMerged(ad *Adoption, save func(*AdoptRenames) error) error {
	ar := &AdoptRenames{}
	for _, af := range ad.Files {
		ar.Files = append(ar.Files, af.File)
	}
	if err := save(ar); err != nil {
		return err
	}
	for _, af := range ad.Files {
		mode := os.FileMode(0o644)
		if st, err := os.Stat(af.File); err == nil {
			mode = st.Mode().Perm()
		}
		if err := writeSynced(af.File+newSuffix, af.Merged, mode); err != nil {
			return err
		}
	}
	ar.Renaming = true
	if err := save(ar); err != nil {
		return err
	}
	for i, af := range ad.Files {
		if err := os.Rename(af.File+newSuffix, af.File); err != nil {
			return err
		}
		m.logf("wrote the merged %s (%s)", af.File, af.Report.Mode)
		failpoint(fmt.Sprintf("upgrade:adopting:renamed-%d", i+1))
	}
	syncDirs(ar.Files)
	for _, b := range ad.CreateSources {
		if _, err := os.Lstat(b.Path); err == nil {
			continue
		}
		if b.Kind == "file" {
			if err := os.MkdirAll(filepath.Dir(b.Path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(b.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return fmt.Errorf("creating bind source %s: %w", b.Path, err)
			}
			f.Close()
		} else if err := os.MkdirAll(b.Path, 0o755); err != nil {
			return fmt.Errorf("creating bind source %s: %w", b.Path, err)
		}
		m.logf("created bind source %s (%s: %s)", b.Path, b.Kind, b.Why)
	}
	return nil
}
