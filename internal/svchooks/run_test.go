package svchooks

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/testrig"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// shellContainer starts a container of an image FROM scratch with Debian's static busybox
// as /bin/sh; the test removes both.
func shellContainer(t *testing.T) (*client.Client, string) {
	t.Helper()
	cli := testrig.Require(t)
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skip("no /bin/busybox (apt-get install busybox-static)")
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, mode int64, b []byte) {
		must(t, tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(b)), Typeflag: tar.TypeReg}))
		_, err := tw.Write(b)
		must(t, err)
	}
	add("busybox", 0o755, bb)
	add("Dockerfile", 0o644, []byte("FROM scratch\nCOPY busybox /bin/sh\n"+`CMD ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]`+"\n"))
	must(t, tw.Close())
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "maimtest-svchooks-run-" + hex.EncodeToString(b)
	ctx := context.Background()
	res, err := cli.ImageBuild(ctx, &buf, client.ImageBuildOptions{Tags: []string{name + ":1"}, Version: build.BuilderV1, Remove: true, ForceRemove: true})
	must(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	t.Cleanup(func() {
		_, _ = cli.ImageRemove(context.Background(), name+":1", client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
	cr, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: &container.Config{Image: name + ":1"}})
	must(t, err)
	t.Cleanup(func() {
		_, _ = cli.ContainerRemove(context.Background(), cr.ID, client.ContainerRemoveOptions{Force: true})
	})
	_, err = cli.ContainerStart(ctx, cr.ID, client.ContainerStartOptions{})
	must(t, err)
	return cli, cr.ID
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// running tells whether a process whose command line holds s runs in container id.
func running(t *testing.T, cli *client.Client, id, s string) bool {
	t.Helper()
	top, err := cli.ContainerTop(context.Background(), id, client.ContainerTopOptions{})
	must(t, err)
	for _, p := range top.Processes {
		if strings.Contains(strings.Join(p, " "), s) {
			return true
		}
	}
	return false
}

// Run against the engine: the exit code, the output's end, the user, success; a cancelled
// context kills the command and every process it started.
func TestRunInAContainer(t *testing.T) {
	cli, id := shellContainer(t)
	ctx := context.Background()
	c := Command{Service: "db", When: maim.HookPreBackup, From: "test", Timeout: time.Minute}

	c.Command = "echo out; echo err >&2; exit 7" // two pipes: either order
	var f *Failure
	if err := Run(ctx, cli, id, c); !errors.As(err, &f) || f.ExitCode != 7 || !strings.Contains(f.Output, "out") || !strings.Contains(f.Output, "err") {
		t.Fatalf("Run = %v (%+v), want exit 7 with its output", err, f)
	}
	c.Command, c.User = `[ "$(id -u):$(id -g)" = 1234:55 ] || { id; exit 1; }`, "1234:55"
	if err := Run(ctx, cli, id, c); err != nil {
		t.Fatalf("as 1234:55: %v", err)
	}
	c.User = ""

	c.Command = "sleep 3002; echo never"
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Run(cctx, cli, id, c) }()
	for i := 0; !running(t, cli, id, "3002"); i++ {
		if i == 200 {
			t.Fatal("the command never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	err := <-done
	if !errors.As(err, &f) || !errors.Is(err, context.Canceled) || strings.Contains(f.Output, "never") {
		t.Fatalf("cancelled Run = %v, want a failure wrapping context.Canceled, the shell stopped", err)
	}
	if running(t, cli, id, "3002") {
		t.Error("the cancelled command still runs")
	}
	if !running(t, cli, id, "while :") {
		t.Error("the kill reached the container's own process")
	}
}
