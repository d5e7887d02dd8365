package project

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/container"
)

const twoServices = `
services:
  app:
    image: app
  db:
    image: db
`

func TestResolveNameAloneFindsFilesFromLabels(t *testing.T) {
	t.Setenv("COMPOSE_FILE", "")
	t.Chdir(t.TempDir()) // somewhere with no compose file at all
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"compose.yaml": twoServices, "override.yaml": "services:\n  app:\n    image: app:2\n", "prod.env": "X=1\n"})
	files := filepath.Join(dir, "compose.yaml") + "," + filepath.Join(dir, "override.yaml")
	c := ctr("c1", "demo", "app", container.StateExited)
	c.Labels[LabelConfigFiles] = files
	c.Labels[LabelWorkingDir] = dir
	c.Labels[LabelEnvFile] = filepath.Join(dir, "prod.env")
	bare := ctr("c0", "demo", "db", container.StateRunning) // labels without files are skipped
	ldr := &composeLoader{}
	p, err := Resolve(context.Background(), ldr, &fakeLister{containers: []container.Summary{bare, c}}, Options{Name: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "demo" || p.WorkingDir != dir {
		t.Errorf("project %q in %q, want demo in %q", p.Name, p.WorkingDir, dir)
	}
	if got := p.Services["app"].Image; got != "app:2" {
		t.Errorf("app image %q: the override file from the labels was not loaded", got)
	}
	if len(ldr.calls) != 1 {
		t.Fatalf("loader called %d times", len(ldr.calls))
	}
	call := ldr.calls[0]
	if !reflect.DeepEqual(call.ConfigPaths, strings.Split(files, ",")) || call.WorkingDir != dir || call.ProjectName != "demo" || !call.Offline {
		t.Errorf("load options = %+v", call)
	}
	if want := []string{filepath.Join(dir, "prod.env")}; !reflect.DeepEqual(call.EnvFiles, want) || !reflect.DeepEqual(p.EnvFiles, want) {
		t.Errorf("env files: loader got %v, project has %v, want %v", call.EnvFiles, p.EnvFiles, want)
	}
}

func TestResolveExplicitEnvFileWinsOverLabel(t *testing.T) {
	t.Setenv("COMPOSE_FILE", "")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"compose.yaml": twoServices, "mine.env": "A=1\n"})
	c := ctr("c1", "demo", "app", container.StateRunning)
	c.Labels[LabelConfigFiles] = filepath.Join(dir, "compose.yaml")
	c.Labels[LabelWorkingDir] = dir
	c.Labels[LabelEnvFile] = filepath.Join(dir, "label.env")
	ldr := &composeLoader{}
	mine := filepath.Join(dir, "mine.env")
	if _, err := Resolve(context.Background(), ldr, &fakeLister{containers: []container.Summary{c}}, Options{Name: "demo", EnvFiles: []string{mine}}); err != nil {
		t.Fatal(err)
	}
	if got := ldr.calls[0].EnvFiles; !reflect.DeepEqual(got, []string{mine}) {
		t.Errorf("env files %v, want the explicit %s", got, mine)
	}
}

func TestResolveWithFilesDoesNotAskTheEngine(t *testing.T) {
	t.Setenv("COMPOSE_FILE", "")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"compose.yaml": twoServices, ".env": "A=1\n"})
	lister := &fakeLister{err: errors.New("must not be called")}
	p, err := Resolve(context.Background(), &composeLoader{}, lister, Options{Name: "demo", Files: []string{filepath.Join(dir, "compose.yaml")}})
	if err != nil {
		t.Fatal(err)
	}
	if lister.calls != 0 {
		t.Errorf("the lister was called %d times with -f given", lister.calls)
	}
	// the project dir's .env is one of the project's env files
	if want := []string{filepath.Join(dir, ".env")}; !reflect.DeepEqual(p.EnvFiles, want) {
		t.Errorf("EnvFiles = %v, want %v", p.EnvFiles, want)
	}
}

func TestResolveNotAProject(t *testing.T) {
	t.Setenv("COMPOSE_FILE", "")
	empty := t.TempDir()
	t.Chdir(empty)
	_, err := Resolve(context.Background(), &composeLoader{}, &fakeLister{}, Options{})
	if !errors.Is(err, ErrNotProject) {
		t.Fatalf("err = %v, want ErrNotProject", err)
	}
	if !strings.Contains(err.Error(), empty) {
		t.Errorf("error %q does not name the directory searched", err)
	}

	// --project-directory of a dir without a compose file
	other := t.TempDir()
	_, err = Resolve(context.Background(), &composeLoader{}, &fakeLister{}, Options{WorkingDir: other})
	if !errors.Is(err, ErrNotProject) || !strings.Contains(err.Error(), other) {
		t.Fatalf("err = %v, want ErrNotProject naming %s", err, other)
	}
}

func TestResolveMissingFileIsNamed(t *testing.T) {
	t.Setenv("COMPOSE_FILE", "")
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.yaml")
	_, err := Resolve(context.Background(), &composeLoader{}, &fakeLister{}, Options{Files: []string{missing}})
	if !errors.Is(err, ErrNotProject) {
		t.Fatalf("err = %v, want ErrNotProject", err)
	}
	if !strings.Contains(err.Error(), missing) {
		t.Errorf("error %q does not name %s", err, missing)
	}
}

func TestResolveNotProjectFromSDKError(t *testing.T) {
	// what the compose SDK returns when it finds nothing
	ldr := loaderFunc(func(context.Context, api.ProjectLoadOptions) (*types.Project, error) {
		return nil, fmt.Errorf("no configuration file provided: %w", errors.New("not found"))
	})
	_, err := Resolve(context.Background(), ldr, &fakeLister{}, Options{WorkingDir: "/somewhere"})
	if !errors.Is(err, ErrNotProject) {
		t.Fatalf("err = %v, want ErrNotProject", err)
	}
	// any other load error is passed through, not disguised as not-a-project
	bad := errors.New("yaml: line 3: mapping values are not allowed")
	ldr = loaderFunc(func(context.Context, api.ProjectLoadOptions) (*types.Project, error) { return nil, bad })
	if _, err := Resolve(context.Background(), ldr, &fakeLister{}, Options{WorkingDir: "/somewhere"}); !errors.Is(err, bad) || errors.Is(err, ErrNotProject) {
		t.Fatalf("err = %v, want the loader's error", err)
	}
}

func TestResolveUnknownProject(t *testing.T) {
	t.Setenv("COMPOSE_FILE", "")
	t.Chdir(t.TempDir())
	other := ctr("c1", "someoneelse", "app", container.StateRunning)
	other.Labels[LabelConfigFiles] = "/x/compose.yaml"
	other.Labels[LabelWorkingDir] = "/x"
	_, err := Resolve(context.Background(), &composeLoader{}, &fakeLister{containers: []container.Summary{other}}, Options{Name: "ghost"})
	if !errors.Is(err, ErrUnknownProject) {
		t.Fatalf("err = %v, want ErrUnknownProject", err)
	}
	if !strings.Contains(err.Error(), `"ghost"`) {
		t.Errorf("error %q does not name the project", err)
	}
}

func TestResolveNameWithComposeFileHereLoadsIt(t *testing.T) {
	// -p NAME of a project without containers, run where its compose file is
	t.Setenv("COMPOSE_FILE", "")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"compose.yaml": twoServices})
	t.Chdir(dir)
	p, err := Resolve(context.Background(), &composeLoader{}, &fakeLister{}, Options{Name: "fresh"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "fresh" || len(p.Services) != 2 {
		t.Fatalf("project %q with %d services", p.Name, len(p.Services))
	}
}

func TestResolveLabelledFilesFailToLoad(t *testing.T) {
	t.Setenv("COMPOSE_FILE", "")
	c := ctr("c1", "demo", "app", container.StateRunning)
	c.Labels[LabelConfigFiles] = "/gone/compose.yaml"
	c.Labels[LabelWorkingDir] = "/gone"
	_, err := Resolve(context.Background(), &composeLoader{}, &fakeLister{containers: []container.Summary{c}}, Options{Name: "demo"})
	if err == nil || !strings.Contains(err.Error(), "labels") || !strings.Contains(err.Error(), "/gone/compose.yaml") {
		t.Fatalf("err = %v, want one saying the files came from the labels and naming the file", err)
	}
}

func TestResolveListerErrorPropagates(t *testing.T) {
	t.Setenv("COMPOSE_FILE", "")
	boom := errors.New("engine unreachable")
	if _, err := Resolve(context.Background(), &composeLoader{}, &fakeLister{err: boom}, Options{Name: "demo"}); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}

func TestResolveStdinRefused(t *testing.T) {
	ldr := loaderFunc(func(context.Context, api.ProjectLoadOptions) (*types.Project, error) {
		t.Fatal("loader must not be called")
		return nil, nil
	})
	if _, err := Resolve(context.Background(), ldr, &fakeLister{}, Options{Files: []string{"-"}}); err == nil || !strings.Contains(err.Error(), "stdin") {
		t.Fatalf("err = %v, want stdin refusal", err)
	}
}

func TestContainersSkipsOneOffs(t *testing.T) {
	a := ctr("a", "demo", "app", container.StateRunning)
	run := ctr("r", "demo", "app", container.StateRunning)
	run.Labels[LabelOneOff] = "True"
	b := ctr("b", "demo", "db", container.StateExited)
	other := ctr("o", "other", "db", container.StateRunning)
	cs, err := Containers(context.Background(), &fakeLister{containers: []container.Summary{a, run, b, other}}, "demo")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	if want := []string{"a", "b"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("Containers = %v, want %v (stopped included, one-offs and other projects not)", ids, want)
	}
}

type loaderFunc func(context.Context, api.ProjectLoadOptions) (*types.Project, error)

func (f loaderFunc) LoadProject(ctx context.Context, o api.ProjectLoadOptions) (*types.Project, error) {
	return f(ctx, o)
}
