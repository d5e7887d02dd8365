package project

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// writeFiles writes name -> content under dir (creating parent dirs).
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// composeLoader is a Loader that loads with compose-go the way the compose v5 SDK does
// (working dir, env files, .env, default file names, profiles, name), without the OS env
// so the tests are hermetic.
type composeLoader struct {
	mu    sync.Mutex
	calls []api.ProjectLoadOptions
}

func (l *composeLoader) LoadProject(ctx context.Context, o api.ProjectLoadOptions) (*types.Project, error) {
	l.mu.Lock()
	l.calls = append(l.calls, o)
	l.mu.Unlock()
	po, err := cli.NewProjectOptions(o.ConfigPaths,
		cli.WithWorkingDirectory(o.WorkingDir),
		cli.WithEnvFiles(o.EnvFiles...),
		cli.WithDotEnv,
		cli.WithDefaultConfigPath,
		cli.WithDefaultProfiles(o.Profiles...),
		cli.WithName(o.ProjectName),
	)
	if err != nil {
		return nil, err
	}
	return po.LoadProject(ctx)
}

// loadYAML writes compose.yaml (and any extra files) into a fresh temp dir and loads it
// as project "demo" with compose-go.
func loadYAML(t *testing.T, yaml string, extra map[string]string, profiles ...string) *Project {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"compose.yaml": yaml}
	for k, v := range extra {
		files[k] = v
	}
	writeFiles(t, dir, files)
	p, err := load(context.Background(), &composeLoader{}, Options{
		Files: []string{filepath.Join(dir, "compose.yaml")}, Name: "demo", WorkingDir: dir, Profiles: profiles,
	})
	if err != nil {
		t.Fatalf("loading compose file: %v", err)
	}
	return p
}

// fakeLister answers ContainerList from a fixed set of containers, honouring the
// label=com.docker.compose.project=NAME filter the package uses.
type fakeLister struct {
	containers []container.Summary
	err        error
	calls      int
}

func (f *fakeLister) ContainerList(_ context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
	f.calls++
	if f.err != nil {
		return client.ContainerListResult{}, f.err
	}
	var out []container.Summary
	for _, c := range f.containers {
		ok := true
		for term := range o.Filters["label"] {
			k, v, _ := strings.Cut(term, "=")
			if c.Labels[k] != v {
				ok = false
			}
		}
		if !o.All && c.State != container.StateRunning {
			ok = false
		}
		if ok {
			out = append(out, c)
		}
	}
	return client.ContainerListResult{Items: out}, nil
}

// ctr is a container of project proj and service svc.
func ctr(id, proj, svc string, state container.ContainerState) container.Summary {
	return container.Summary{
		ID:     id,
		State:  state,
		Labels: map[string]string{LabelProject: proj, LabelService: svc, LabelOneOff: "False"},
	}
}
