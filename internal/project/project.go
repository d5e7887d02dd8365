// Package project resolves a Compose project the way `docker compose` does (files,
// project name, working dir, env files, profiles, or only a name via the containers'
// compose labels), lists its data sources, and stops and starts its containers in
// dependency order. It owns the question "what is this project and what does it hold".
package project

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Options select a project with the words users know from docker compose.
type Options struct {
	Files      []string // -f/--file (repeatable); COMPOSE_FILE is read by the loader
	Name       string   // -p/--project-name; COMPOSE_PROJECT_NAME is read by the loader
	WorkingDir string   // --project-directory
	EnvFiles   []string // --env-file
	Profiles   []string // --profile
}

// Loader loads a compose model; api.Compose from the compose v5 SDK satisfies it.
type Loader interface {
	LoadProject(ctx context.Context, options api.ProjectLoadOptions) (*types.Project, error)
}

// ContainerLister finds a project's containers.
type ContainerLister interface {
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
}

// ErrNotProject means no compose file could be found for the selection.
var ErrNotProject = maim.ErrNotProject

// ErrUnknownProject means a project name matched no container and no compose file.
var ErrUnknownProject = maim.ErrUnknownProject

// Project is a loaded compose project together with the files it came from.
type Project struct {
	*types.Project
	// EnvFiles are the dotenv files that fed the model (existing files only).
	EnvFiles []string
}

// Resolve loads the project selected by opts. With only a project name (no -f, no
// COMPOSE_FILE) it first looks for that project's containers and loads the compose files
// and working dir recorded in their labels, as `docker compose -p NAME` does for a
// running project.
func Resolve(ctx context.Context, loader Loader, lister ContainerLister, opts Options) (*Project, error) {
	if opts.Name != "" && len(opts.Files) == 0 && os.Getenv("COMPOSE_FILE") == "" && opts.WorkingDir == "" {
		found, err := fromLabels(ctx, lister, opts.Name)
		if err != nil {
			return nil, err
		}
		if found != nil {
			opts.Files = found.Files
			opts.WorkingDir = found.WorkingDir
			if len(opts.EnvFiles) == 0 {
				opts.EnvFiles = found.EnvFiles
			}
			p, err := load(ctx, loader, opts)
			if err != nil {
				return nil, fmt.Errorf("project %q (files from its containers' labels): %w", opts.Name, err)
			}
			return p, nil
		}
		p, err := load(ctx, loader, opts)
		if errors.Is(err, ErrNotProject) {
			return nil, fmt.Errorf("%w %q: no container carries it and there is no compose file here", ErrUnknownProject, opts.Name)
		}
		return p, err
	}
	return load(ctx, loader, opts)
}

func load(ctx context.Context, loader Loader, opts Options) (*Project, error) {
	files := make([]string, 0, len(opts.Files))
	for _, f := range opts.Files {
		if f == "-" {
			return nil, errors.New("reading the compose file from stdin is not supported: docker-maim must be able to back it up")
		}
		files = append(files, f)
	}
	m, err := loader.LoadProject(ctx, api.ProjectLoadOptions{
		ProjectName: opts.Name,
		ConfigPaths: files,
		WorkingDir:  opts.WorkingDir,
		EnvFiles:    opts.EnvFiles,
		Profiles:    opts.Profiles,
		Offline:     true,
	})
	if err != nil {
		if isNoConfig(err) {
			for _, f := range files {
				if _, serr := os.Stat(f); errors.Is(serr, os.ErrNotExist) {
					return nil, fmt.Errorf("%w: compose file %s does not exist", ErrNotProject, f)
				}
			}
			dir := opts.WorkingDir
			if dir == "" {
				dir, _ = os.Getwd()
			}
			return nil, fmt.Errorf("%w: no compose file found in %s (use -f FILE, or -p NAME of a project that has containers)", ErrNotProject, dir)
		}
		return nil, err
	}
	p := &Project{Project: m}
	p.EnvFiles = existingEnvFiles(m.WorkingDir, opts.EnvFiles)
	return p, nil
}

func isNoConfig(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "no configuration file provided") || errors.Is(err, os.ErrNotExist) && strings.Contains(msg, "compose")
}

// existingEnvFiles is the list of dotenv files compose read: the explicit ones, or
// the project directory's .env.
func existingEnvFiles(workingDir string, explicit []string) []string {
	cands := explicit
	if len(cands) == 0 {
		cands = []string{filepath.Join(workingDir, ".env")}
	}
	var out []string
	for _, f := range cands {
		if !filepath.IsAbs(f) {
			if abs, err := filepath.Abs(f); err == nil {
				f = abs
			}
		}
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			out = append(out, f)
		}
	}
	return out
}

type labelled struct {
	Files      []string
	WorkingDir string
	EnvFiles   []string
}

// fromLabels reads the compose files and working dir that compose recorded on the
// project's containers (running or not). nil when the project has no container.
func fromLabels(ctx context.Context, lister ContainerLister, name string) (*labelled, error) {
	cs, err := Containers(ctx, lister, name)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		files := c.Labels[LabelConfigFiles]
		wd := c.Labels[LabelWorkingDir]
		if files == "" || wd == "" {
			continue
		}
		l := &labelled{Files: strings.Split(files, ","), WorkingDir: wd}
		if env := c.Labels[LabelEnvFile]; env != "" {
			l.EnvFiles = strings.Split(env, ",")
		}
		return l, nil
	}
	return nil, nil
}

// Containers lists all containers (running or not) of a project, one-off ones excluded.
func Containers(ctx context.Context, lister ContainerLister, name string) ([]container.Summary, error) {
	res, err := lister.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelProject+"="+name),
	})
	if err != nil {
		return nil, err
	}
	out := res.Items[:0]
	for _, c := range res.Items {
		if c.Labels[LabelOneOff] == "True" {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// ConfigFiles are the compose files and env files of the project: they are backed up
// with the data, since an upgrade may change them.
func (p *Project) ConfigFiles() []string {
	seen := map[string]bool{}
	var out []string
	add := func(f string) {
		if f == "" || seen[f] {
			return
		}
		if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
			return
		}
		seen[f] = true
		out = append(out, f)
	}
	for _, f := range p.ComposeFiles {
		add(f)
	}
	for _, f := range p.EnvFiles {
		add(f)
	}
	for _, name := range p.ServiceNames() {
		for _, ef := range p.Services[name].EnvFiles {
			add(ef.Path)
		}
	}
	return out
}

// EnvMap is a service's compose environment as a map (a variable listed without a value
// maps to "").
func EnvMap(env types.MappingWithEquals) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		if v != nil {
			out[k] = *v
		} else {
			out[k] = ""
		}
	}
	return out
}
