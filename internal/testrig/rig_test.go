package testrig

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// botContainer returns the inspect result of the project's only bot container.
func botContainer(t *testing.T, p *Proj) container.InspectResponse {
	t.Helper()
	ctx := context.Background()
	res, err := p.Client.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", ProjectLabel+"="+p.Name)})
	if err != nil || len(res.Items) != 1 {
		t.Fatalf("containers of %s: %d (%v)", p.Name, len(res.Items), err)
	}
	in, err := p.Client.ContainerInspect(ctx, res.Items[0].ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return in.Container
}

func logsOf(t *testing.T, p *Proj, id string) string {
	t.Helper()
	rc, err := p.Client.ContainerLogs(context.Background(), id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b strings.Builder
	if _, err := stdcopy.StdCopy(&b, &b, rc); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return b.String()
}

// waitFor polls cond on the bot container until it holds or the deadline passes.
func waitFor(t *testing.T, p *Proj, what string, d time.Duration, cond func(container.InspectResponse) bool) container.InspectResponse {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c := botContainer(t, p)
		if cond(c) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached in %s; state %+v; logs:\n%s", what, d, *c.State, logsOf(t, p, c.ID))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func healthy(c container.InspectResponse) bool {
	return c.State != nil && c.State.Health != nil && c.State.Health.Status == container.Healthy
}

func exited(c container.InspectResponse) bool {
	return c.State != nil && c.State.Status == container.StateExited
}

const botCompose = `services:
  bot:
    image: {{bot:%s}}
    restart: "no"
    volumes:
      - ./data:/bot/data
      - ./config:/bot/config
    healthcheck:
      start_period: 3s
`

func botYAML(v string) string { return strings.ReplaceAll(botCompose, "%s", v) }

func TestBotImageRunsHealthyAndIsPulled(t *testing.T) {
	t.Parallel()
	p := Project(t, "rig-healthy", botYAML("1.0.0"))
	ctx := context.Background()
	ref := p.Bot("1.0.0")
	if _, err := p.Client.ImageInspect(ctx, ref); err == nil {
		t.Fatalf("%s is present locally before up: upgrades could not prove a pull", ref)
	}
	Compose(t, p, "up", "-d")
	c := waitFor(t, p, "healthy", 60*time.Second, healthy)
	if !strings.Contains(logsOf(t, p, c.ID), "bot ready version=1.0.0") {
		t.Fatalf("no ready line:\n%s", logsOf(t, p, c.ID))
	}
	img, err := p.Client.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if v := img.Config.Labels["org.opencontainers.image.version"]; v != "1.0.0" {
		t.Fatalf("version label %q", v)
	}
	// The config was created from the image's template on the bind mount.
	cfg, err := os.ReadFile(p.Path("config/bot_config.toml"))
	if err != nil || !strings.Contains(string(cfg), `version = "1.0.0"`) || !strings.Contains(string(cfg), "麦麦") {
		t.Fatalf("config from template: %v\n%s", err, cfg)
	}
	var eff struct {
		Version string
		Config  map[string]map[string]any
	}
	b, err := os.ReadFile(p.Path("data/effective.json"))
	if err != nil || json.Unmarshal(b, &eff) != nil || eff.Version != "1.0.0" || eff.Config["bot"]["nickname"] != "麦麦" {
		t.Fatalf("effective.json: %v\n%s", err, b)
	}
	if out := Compose(t, p, "ps", "-q"); !strings.HasPrefix(c.ID, strings.TrimSpace(out)) || strings.TrimSpace(out) == "" {
		t.Fatalf("ps -q: %q, want %s", out, c.ID)
	}
	// SIGTERM is handled: stop is quick and the exit code 0.
	t0 := time.Now()
	Compose(t, p, "stop")
	if el := time.Since(t0); el > 8*time.Second {
		t.Fatalf("stop took %s: SIGTERM ignored?", el)
	}
	if c := botContainer(t, p); c.State.ExitCode != 0 {
		t.Fatalf("exit code after stop: %d", c.State.ExitCode)
	}
}

func TestV2MigratesAndV1RefusesSchema2(t *testing.T) {
	t.Parallel()
	p := Project(t, "rig-schema", botYAML("1.0.0"))
	Compose(t, p, "up", "-d")
	waitFor(t, p, "v1 healthy", 60*time.Second, healthy)
	Compose(t, p, "stop")
	v1data := TreeHash(t, p.Path("data"), "starts.log")

	p.WriteCompose(botYAML("2.0.0"))
	Compose(t, p, "up", "-d")
	c := waitFor(t, p, "v2 healthy", 60*time.Second, healthy)
	if !strings.Contains(logsOf(t, p, c.ID), "migrating data schema 1 -> 2") {
		t.Fatalf("v2 did not migrate:\n%s", logsOf(t, p, c.ID))
	}
	Compose(t, p, "stop")
	if TreeHash(t, p.Path("data"), "starts.log") == v1data {
		t.Fatal("v2 left the data unchanged")
	}

	p.WriteCompose(botYAML("1.0.0"))
	Compose(t, p, "up", "-d")
	c = waitFor(t, p, "v1 exits", 30*time.Second, exited)
	if c.State.ExitCode != 3 || !strings.Contains(logsOf(t, p, c.ID), "refusing to start") {
		t.Fatalf("v1 on schema-2 data: exit %d\n%s", c.State.ExitCode, logsOf(t, p, c.ID))
	}
}

func TestFailSwitchCrashLoops(t *testing.T) {
	t.Parallel()
	p := Project(t, "rig-crash", `services:
  bot:
    image: {{bot:1.1.0}}
    restart: unless-stopped
    environment:
      BOT_FAIL: crash
`)
	Compose(t, p, "up", "-d")
	c := waitFor(t, p, "restarts", 60*time.Second, func(c container.InspectResponse) bool { return c.RestartCount >= 2 })
	if !strings.Contains(logsOf(t, p, c.ID), "crashing on purpose") {
		t.Fatalf("logs:\n%s", logsOf(t, p, c.ID))
	}
}

func TestUnhealthySwitch(t *testing.T) {
	t.Parallel()
	p := Project(t, "rig-unhealthy", `services:
  bot:
    image: {{bot:1.0.0}}
    environment:
      BOT_FAIL: unhealthy
    healthcheck:
      start_period: 1s
`)
	Compose(t, p, "up", "-d")
	waitFor(t, p, "unhealthy", 60*time.Second, func(c container.InspectResponse) bool {
		return c.State.Health != nil && c.State.Health.Status == container.Unhealthy
	})
}

// TestCleanup checks that a project's cleanup leaves nothing behind in the engine, the
// registry or on disk.
func TestCleanup(t *testing.T) {
	t.Parallel()
	var p *Proj
	var ref string
	t.Run("make", func(t *testing.T) {
		p = Project(t, "rig-cleanup", `services:
  bot:
    image: {{bot:2.0.0}}
    volumes:
      - botdata:/bot/data
    networks: [inner]
volumes:
  botdata: {}
networks:
  inner: {}
`)
		ref = p.Bot("2.0.0")
		Compose(t, p, "up", "-d")
		botContainer(t, p)
	})
	cli := Require(t)
	ctx := context.Background()
	f := make(client.Filters).Add("label", ProjectLabel+"="+p.Name)
	cs, _ := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	vs, _ := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	ns, _ := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if len(cs.Items)+len(vs.Items)+len(ns.Items) != 0 {
		t.Fatalf("left behind: %d containers, %d volumes, %d networks", len(cs.Items), len(vs.Items), len(ns.Items))
	}
	if _, err := cli.ImageInspect(ctx, ref); err == nil {
		t.Fatalf("image %s left behind", ref)
	}
	repo := strings.TrimPrefix(ref, Registry()+"/")
	repo, tag, _ := strings.Cut(repo, ":")
	if d, err := registryDigest(ctx, repo, tag); err != nil || d != "" {
		t.Fatalf("registry still has %s (%q, %v)", ref, d, err)
	}
	if _, err := os.Stat(p.Root); !os.IsNotExist(err) {
		t.Fatalf("%s left behind (%v)", p.Root, err)
	}
}

func TestProjectNames(t *testing.T) {
	t.Parallel()
	a, b := Project(t, "Same Name!", ""), Project(t, "Same Name!", "")
	if a.Name == b.Name || !strings.HasPrefix(a.Name, "maimtest-same-name-") {
		t.Fatalf("names %q %q", a.Name, b.Name)
	}
	if strings.HasPrefix(a.BackupDir, a.Dir) {
		t.Fatal("backup dir inside the project dir")
	}
}

func TestTreeHash(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, s string) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a/b.txt", "hello")
	write("c.txt", "x")
	write("starts.log", "1")
	os.Symlink("a/b.txt", filepath.Join(dir, "link"))
	h0 := TreeHash(t, dir)
	if TreeHash(t, dir) != h0 {
		t.Fatal("not deterministic")
	}
	steps := []struct {
		name string
		do   func()
		undo func()
	}{
		{"content", func() { write("c.txt", "y") }, func() { write("c.txt", "x") }},
		{"mode", func() { os.Chmod(filepath.Join(dir, "c.txt"), 0o600) }, func() { os.Chmod(filepath.Join(dir, "c.txt"), 0o644) }},
		{"root mode", func() { os.Chmod(dir, 0o700) }, func() { os.Chmod(dir, 0o755) }},
		{"link target", func() { os.Remove(filepath.Join(dir, "link")); os.Symlink("c.txt", filepath.Join(dir, "link")) },
			func() { os.Remove(filepath.Join(dir, "link")); os.Symlink("a/b.txt", filepath.Join(dir, "link")) }},
		{"empty dir", func() { os.Mkdir(filepath.Join(dir, "e"), 0o755) }, func() { os.Remove(filepath.Join(dir, "e")) }},
		{"rename", func() { os.Rename(filepath.Join(dir, "c.txt"), filepath.Join(dir, "d.txt")) },
			func() { os.Rename(filepath.Join(dir, "d.txt"), filepath.Join(dir, "c.txt")) }},
	}
	os.Chmod(dir, 0o755)
	h0 = TreeHash(t, dir)
	for _, s := range steps {
		s.do()
		if TreeHash(t, dir) == h0 {
			t.Errorf("%s change not detected", s.name)
		}
		s.undo()
		if TreeHash(t, dir) != h0 {
			t.Fatalf("%s: undo did not restore the hash", s.name)
		}
	}
	ex := TreeHash(t, dir, "starts.log")
	write("starts.log", "12")
	if TreeHash(t, dir, "starts.log") != ex {
		t.Fatal("excluded file changed the hash")
	}
	if TreeHash(t, dir) == h0 {
		t.Fatal("starts.log change not detected without exclude")
	}
}

// TestComposeSDKFallback drives the SDK fallback directly, whether or not the CLI plugin exists.
func TestComposeSDKFallback(t *testing.T) {
	t.Parallel()
	p := Project(t, "rig-sdk", `services:
  bot:
    image: {{bot:1.1.0}}
    volumes: [botdata:/bot/data]
    healthcheck:
      start_period: 3s
volumes:
  botdata: {}
`)
	ctx := context.Background()
	run := func(args ...string) string {
		t.Helper()
		out, err := composeSDK(ctx, p, args)
		if err != nil {
			t.Fatalf("sdk compose %v: %v\n%s", args, err, out)
		}
		return out
	}
	run("up", "-d", "--wait", "--wait-timeout", "60")
	c := botContainer(t, p)
	if !healthy(c) {
		t.Fatalf("up --wait returned before healthy: %+v", c.State)
	}
	if c.Config.Labels[project.LabelService] != "bot" {
		t.Fatalf("labels: %v", c.Config.Labels)
	}
	if out := run("ps"); !strings.Contains(out, "bot running healthy") {
		t.Fatalf("ps: %q", out)
	}
	run("stop")
	if out := run("ps"); strings.TrimSpace(out) != "" {
		t.Fatalf("ps after stop: %q", out)
	}
	if out := run("ps", "-a"); !strings.Contains(out, "exited") {
		t.Fatalf("ps -a after stop: %q", out)
	}
	run("start")
	waitFor(t, p, "healthy again", 60*time.Second, healthy)
	if _, err := composeSDK(ctx, p, []string{"logs"}); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("unsupported command: %v", err)
	}
	run("down", "-v")
	vs, _ := p.Client.VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("label", ProjectLabel+"="+p.Name)})
	if len(vs.Items) != 0 {
		t.Fatalf("down -v left %d volumes", len(vs.Items))
	}
}

// TestWipeAsRoot checks the engine-side wipe that cleanup uses when tests run as non-root.
func TestWipeAsRoot(t *testing.T) {
	t.Parallel()
	cli := Require(t)
	BotImages(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "b", "f"), []byte("x"), 0o400)
	os.Symlink("/etc/passwd", filepath.Join(dir, "link"))
	if err := wipeAsRoot(context.Background(), cli, dir); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left %d entries", len(entries))
	}
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Fatal("wipe followed a symlink out of the tree")
	}
}
