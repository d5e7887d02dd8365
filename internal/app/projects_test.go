package app

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

type listerFunc func() []container.Summary

func (f listerFunc) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{Items: f()}, nil
}

func TestListProjectsGroupsByComposeLabels(t *testing.T) {
	c := func(proj, svc, state string) container.Summary {
		return container.Summary{State: container.ContainerState(state), Labels: map[string]string{
			project.LabelProject: proj, project.LabelService: svc, project.LabelWorkingDir: "/srv/" + proj, project.LabelConfigFiles: "/srv/" + proj + "/compose.yaml"}}
	}
	res, err := listProjects(context.Background(), listerFunc(func() []container.Summary {
		return []container.Summary{c("zeta", "web", "exited"), c("alpha", "db", "running"), c("alpha", "bot", "running"), c("alpha", "bot", "exited"), {Labels: map[string]string{}}}
	}), func(n string) bool { return n == "alpha" })
	if err != nil {
		t.Fatal(err)
	}
	want := []api.ProjectSummary{
		{Name: "alpha", WorkingDir: "/srv/alpha", ConfigFiles: []string{"/srv/alpha/compose.yaml"}, Services: []string{"bot", "db"}, Containers: 3, Running: 2, Known: true},
		{Name: "zeta", WorkingDir: "/srv/zeta", ConfigFiles: []string{"/srv/zeta/compose.yaml"}, Services: []string{"web"}, Containers: 1, Running: 0},
	}
	if !reflect.DeepEqual(res.Projects, want) {
		t.Fatalf("got %+v\nwant %+v", res.Projects, want)
	}
}

// KnownProjects lists the state directory's project directories on every engine, and only
// directories: a name is never joined into a path.
func TestKnownProjects(t *testing.T) {
	state := t.TempDir()
	t.Setenv("MAIM_STATE_DIR", state)
	for _, d := range []string{"engine-a/named", "engine-b/other"} {
		if err := os.MkdirAll(filepath.Join(state, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(state, "engine-a", "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	got := New(nil, api.Config{}).KnownProjects()
	sort.Strings(got)
	if want := []string{"named", "other"}; !reflect.DeepEqual(got, want) {
		t.Errorf("known projects %q, want %q", got, want)
	}
}
