package stack

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/docker/compose/v5/pkg/compose"
)

type recordingComposer struct{ got *types.Project }

func (r *recordingComposer) Up(_ context.Context, p *types.Project, _ api.UpOptions) error {
	r.got = p
	return nil
}

// TestRecreateHashesAsComposeUp: a service with env_file, as docker-maim's loader models it
// (env_file merged into environment, the list kept: it names files to back up), is handed to
// compose so that the containers' config-hash is the one `docker compose up` computes (it
// drops the list). Before, every service with env_file was recreated by the user's next
// `docker compose up -d` after an upgrade or a rollback (immich, mastodon in the corpus).
func TestRecreateHashesAsComposeUp(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("compose.yaml", "services:\n  web:\n    image: bot:${V:-1}\n    env_file: [.env.production]\n    environment: {A: b}\n")
	write(".env.production", "SECRET=x\n")
	load := func(fns ...cli.ProjectOptionsFn) *types.Project {
		t.Helper()
		o, err := cli.NewProjectOptions([]string{filepath.Join(dir, "compose.yaml")},
			append([]cli.ProjectOptionsFn{cli.WithWorkingDirectory(dir), cli.WithName("p")}, fns...)...)
		if err != nil {
			t.Fatal(err)
		}
		p, err := o.LoadProject(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	hash := func(p *types.Project) string {
		t.Helper()
		h, err := compose.ServiceHash(p.Services["web"])
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	ours, cliModel := load(), load(cli.WithDiscardEnvFile)
	if len(ours.Services["web"].EnvFiles) != 1 {
		t.Fatalf("test setup: the loader dropped env_file: %+v", ours.Services["web"].EnvFiles)
	}
	if hash(ours) == hash(cliModel) {
		t.Fatal("test setup: the env_file list does not change compose's hash")
	}

	rec := &recordingComposer{}
	m := &Env{Compose: rec}
	if err := m.Recreate(context.Background(), &project.Project{Project: ours}); err != nil {
		t.Fatal(err)
	}
	if got, want := hash(rec.got), hash(cliModel); got != want {
		t.Errorf("recreate hands compose a service whose config-hash is %s, docker compose up computes %s", got, want)
	}
	if env := rec.got.Services["web"].Environment; env["SECRET"] == nil || *env["SECRET"] != "x" || env["A"] == nil {
		t.Errorf("the environment lost the env_file's values: %v", env)
	}
	if len(ours.Services["web"].EnvFiles) != 1 {
		t.Error("recreate changed the caller's project")
	}
}
