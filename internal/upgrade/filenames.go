package upgrade

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/docker-maim/docker-maim/internal/composefile"
	"github.com/docker-maim/docker-maim/internal/project"
)

// The compose file names what runs: after an upgrade, a rollback or a resolved journal,
// a plain `docker compose up -d` must recreate nothing. These helpers find and write the
// minimal edits (internal/composefile) that make each service's image reference in the
// project's files the one its container runs.

// fileSources are the files a project's image references come from.
func fileSources(p *project.Project) composefile.Sources {
	src := composefile.Sources{ComposeFiles: p.ComposeFiles, EnvFiles: p.EnvFiles}
	for name := range p.DisabledServices {
		src.Inactive = append(src.Inactive, name)
	}
	return src
}

// loadOptions select project p again from its files.
func loadOptions(p *project.Project) project.Options {
	var env []string
	for _, f := range p.EnvFiles {
		if filepath.Clean(f) != filepath.Join(p.WorkingDir, ".env") {
			env = append(env, f)
		}
	}
	return project.Options{Files: p.ComposeFiles, Name: p.Name, WorkingDir: p.WorkingDir, EnvFiles: env, Profiles: p.Profiles}
}

// differing keeps the services of want whose reference in p is another one.
func differing(p *project.Project, want map[string]string) map[string]string {
	out := map[string]string{}
	for svc, ref := range want {
		if s, ok := p.Services[svc]; ok && ref != "" && s.Image != ref {
			out[svc] = ref
		}
	}
	return out
}

// planNames works out the edits that make p's files name want (service -> reference);
// what cannot be edited becomes a warning (the file is then left as it is).
func planNames(p *project.Project, want map[string]string, why string) ([]composefile.Edit, []string) {
	want = differing(p, want)
	if len(want) == 0 {
		return nil, nil
	}
	edits, err := composefile.Plan(fileSources(p), want)
	var warns []string
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			warns = append(warns, fmt.Sprintf("the compose files are left naming another image than %s: %s; a plain `docker compose up -d` would change the service: edit the file by hand", why, line))
		}
	}
	return edits, warns
}

// nameWhatRuns rewrites p's files so each service of want names its reference, and
// returns the edits written and warnings.
func (m *Manager) nameWhatRuns(p *project.Project, want map[string]string, why string) ([]composefile.Edit, []string) {
	edits, warns := planNames(p, want, why)
	if len(edits) == 0 {
		return nil, warns
	}
	if err := composefile.Apply(edits); err != nil {
		return nil, append(warns, fmt.Sprintf("writing the image references into the compose files failed (%v): they are left as they were", err))
	}
	for _, e := range edits {
		m.logf("edited %s", e.Describe(p.WorkingDir))
	}
	return edits, warns
}

// reload loads p again from its (edited) files.
func (m *Manager) reload(ctx context.Context, p *project.Project) (*project.Project, error) {
	np, err := m.Load(ctx, loadOptions(p))
	if err != nil {
		return nil, fmt.Errorf("loading the edited compose files: %w", err)
	}
	return np, nil
}

// DescribeEdits lists edits one per line, files relative to dir.
func DescribeEdits(edits []composefile.Edit, dir string) []string {
	out := make([]string, 0, len(edits))
	for _, e := range edits {
		out = append(out, e.Describe(dir))
	}
	return out
}
