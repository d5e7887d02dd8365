package templates

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker-maim/docker-maim/internal/config"
	"github.com/docker-maim/docker-maim/internal/maibot"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// fakeEngine serves files from a map as the archive API would.
type fakeEngine struct {
	files   map[string]string // path -> content; "->target" makes a symlink
	created []string
	removed []string
	labels  []map[string]string // labels of each created container
	// others are containers ContainerList finds besides the created ones (created at
	// time now, in seconds).
	others  []container.Summary
	now     int64
	filters []client.Filters
}

func (f *fakeEngine) ContainerList(ctx context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
	f.filters = append(f.filters, o.Filters)
	res := client.ContainerListResult{Items: append([]container.Summary(nil), f.others...)}
	for _, id := range f.created {
		if !slices.Contains(f.removed, id) {
			res.Items = append(res.Items, container.Summary{ID: id, Created: f.now})
		}
	}
	return res, nil
}

func (f *fakeEngine) ContainerCreate(ctx context.Context, o client.ContainerCreateOptions) (client.ContainerCreateResult, error) {
	if o.Config == nil || len(o.Config.Cmd) == 0 {
		return client.ContainerCreateResult{}, errors.New("no command specified")
	}
	id := fmt.Sprintf("c%d", len(f.created))
	f.created = append(f.created, id)
	f.labels = append(f.labels, o.Config.Labels)
	return client.ContainerCreateResult{ID: id}, nil
}

func (f *fakeEngine) CopyFromContainer(ctx context.Context, id string, o client.CopyFromContainerOptions) (client.CopyFromContainerResult, error) {
	c, ok := f.files[o.SourcePath]
	if !ok {
		return client.CopyFromContainerResult{}, cerrdefs.ErrNotFound.WithMessage("no such file: " + o.SourcePath)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Name: filepath.Base(o.SourcePath), Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(c))}
	if strings.HasPrefix(c, "->") {
		hdr = &tar.Header{Name: hdr.Name, Typeflag: tar.TypeSymlink, Linkname: c[2:]}
		c = ""
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return client.CopyFromContainerResult{}, err
	}
	io.WriteString(tw, c)
	tw.Close()
	return client.CopyFromContainerResult{Content: io.NopCloser(&buf)}, nil
}

func (f *fakeEngine) ContainerRemove(ctx context.Context, id string, o client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	if !o.Force || !o.RemoveVolumes {
		return client.ContainerRemoveResult{}, errors.New("want force and volume removal")
	}
	f.removed = append(f.removed, id)
	return client.ContainerRemoveResult{}, nil
}

func TestFromImageFake(t *testing.T) {
	f := &fakeEngine{files: map[string]string{
		"/t/real.toml":    "a = 1\n",
		"/t/link.toml":    "->real.toml",
		"/etc/abs.toml":   "->/t/real.toml",
		"/loop/a":         "->b",
		"/loop/b":         "->a",
		"/MaiMBot/t.toml": "x",
	}}
	ctx, cancel := context.WithCancel(context.Background())
	for _, p := range []string{"/t/real.toml", "/t/link.toml", "/etc/abs.toml", "t/real.toml"} {
		b, err := FromImage(ctx, f, "img", p)
		if err != nil || string(b) != "a = 1\n" {
			t.Errorf("%s: %q %v", p, b, err)
		}
	}
	if _, err := FromImage(ctx, f, "img", "/nope"); !errors.Is(err, config.ErrTemplateNotFound) {
		t.Errorf("missing: %v", err)
	}
	if _, err := FromImage(ctx, f, "img", "/loop/a"); err == nil || !strings.Contains(err.Error(), "symbolic links") {
		t.Errorf("loop: %v", err)
	}
	cancel() // removal still happens with a cancelled context
	_, _ = FromImage(ctx, f, "img", "/MaiMBot/t.toml")
	if len(f.created) != 7 || len(f.removed) != len(f.created) {
		t.Errorf("created %v removed %v", f.created, f.removed)
	}
	// One helper label for all of docker-maim's helpers: the data helpers' key, valued by kind.
	for i, l := range f.labels {
		if len(l) != 1 || l[volume.LabelHelper] != volume.LabelValueTemplateRead {
			t.Errorf("container %d labels %v, want only %s=%s", i, l, volume.LabelHelper, volume.LabelValueTemplateRead)
		}
	}
}

// A template-read container left by a docker-maim killed mid-read is removed by the next
// read once it is StaleRead older than the new one (engine clock); a younger one
// (maybe a live read of another project) and the read's own container are left to finish.
func TestFromImageRemovesStaleLeftovers(t *testing.T) {
	const now = 1_000_000
	stale := int64(StaleRead / time.Second)
	f := &fakeEngine{files: map[string]string{"/t.toml": "a = 1\n"}, now: now, others: []container.Summary{
		{ID: "stale", Created: now - stale},
		{ID: "older", Created: now - 3*stale},
		{ID: "young", Created: now - stale + 1},
	}}
	b, err := FromImage(context.Background(), f, "img", "/t.toml")
	if err != nil || string(b) != "a = 1\n" {
		t.Fatalf("read: %q %v", b, err)
	}
	if len(f.filters) != 1 || !f.filters[0]["label"][volume.LabelHelper+"="+volume.LabelValueTemplateRead] {
		t.Errorf("leftovers listed with filters %v, want the template-read helper label", f.filters)
	}
	// Leftovers first (the own container is removed when the read returns).
	if want := []string{"stale", "older", "c0"}; !slices.Equal(f.removed, want) {
		t.Errorf("removed %v, want %v", f.removed, want)
	}
}

// engine returns a client for the local engine; it skips when the engine is
// unreachable, except in CI where the test must run.
func engine(t *testing.T) *client.Client {
	t.Helper()
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = cli.Ping(ctx, client.PingOptions{})
	}
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("docker engine unreachable: %v", err)
		}
		t.Fatalf("docker engine unreachable in CI: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func TestFromImageEngine(t *testing.T) {
	cli := engine(t)
	ctx := t.Context()

	// A FROM scratch image with MaiBot 0.11's templates, built locally.
	bctx := t.TempDir()
	tpl := filepath.Join(bctx, "template")
	if err := os.Mkdir(tpl, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"bot_config_template.toml", "model_config_template.toml", "template.env"} {
		b := readTemplate(t, "0.11.0-beta", n)
		if err := os.WriteFile(filepath.Join(tpl, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dockerfile := "FROM scratch\nCOPY template/ /MaiMBot/template/\nVOLUME /MaiMBot/config\n"
	if err := os.WriteFile(filepath.Join(bctx, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	tag := "docker-maim-test/config-template:" + hex.EncodeToString(rnd[:])
	build := exec.CommandContext(ctx, "docker", "build", "-q", "-t", tag, bctx)
	build.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("docker", "image", "rm", "-f", tag).CombinedOutput(); err != nil {
			t.Logf("removing %s: %v %s", tag, err, out)
		}
	})

	got, err := FromImage(ctx, cli, tag, "/MaiMBot/template/bot_config_template.toml")
	if err != nil {
		t.Fatal(err)
	}
	if want := readTemplate(t, "0.11.0-beta", "bot_config_template.toml"); !bytes.Equal(got, want) {
		t.Errorf("read %d bytes, want the template's %d", len(got), len(want))
	}
	if _, err := FromImage(ctx, cli, tag, "/MaiMBot/template/nope.toml"); !errors.Is(err, config.ErrTemplateNotFound) {
		t.Errorf("missing file: %v", err)
	}
	// No container is left behind.
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "ancestor="+tag).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("containers left: %q %v", out, err)
	}

	// Detected plans read from the image, merge, and apply.
	cfg := t.TempDir()
	// The user's file: 0.10's template with the nickname changed (internal/config's tests
	// merge richer ones).
	user := strings.Replace(string(readTemplate(t, "0.10.0-alpha", "bot_config_template.toml")), `nickname = "麦麦"`, `nickname = "小麦"`, 1)
	if !strings.Contains(user, `nickname = "小麦"`) {
		t.Fatal("no nickname in 0.10's bot_config template")
	}
	if err := os.WriteFile(filepath.Join(cfg, "bot_config.toml"), []byte(user), 0o640); err != nil {
		t.Fatal(err)
	}
	plans := maibot.TemplatePlans([]maibot.Service{{Name: "core", Image: tag, Mounts: []maibot.Mount{{Source: cfg, Target: "/MaiMBot/config"}}}})
	for _, p := range plans {
		res, err := config.Prepare(ctx, Reader{Engine: cli}, p, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := config.ApplyFile(p.File, res.Merged); err != nil {
			t.Fatal(err)
		}
	}
	// The merge itself is internal/config's (tested there): the file holds what Merge makes
	// of the image's template and the user's file.
	merged, _ := os.ReadFile(filepath.Join(cfg, "bot_config.toml"))
	want, _, err := config.Merge(readTemplate(t, "0.11.0-beta", "bot_config_template.toml"), []byte(user), plans[0].Options(false))
	if err != nil || !bytes.Equal(merged, want) || !bytes.Contains(merged, []byte(`nickname = "小麦"`)) {
		t.Errorf("bot_config.toml is not the merge of the image's template and the user's file (%v)", err)
	}
	model, _ := os.ReadFile(filepath.Join(cfg, "model_config.toml"))
	if !bytes.Equal(model, readTemplate(t, "0.11.0-beta", "model_config_template.toml")) {
		t.Error("model_config.toml was not copied from the image's template")
	}
}

// maibotTemplates is ../shared/maibot-templates beside the repository (the package dir is
// <repo>/internal/templates).
func maibotTemplates(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "maibot-templates"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		t.Skipf("MaiBot templates not found at %s", dir)
	}
	return dir
}

func readTemplate(t testing.TB, release, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(maibotTemplates(t), release, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
