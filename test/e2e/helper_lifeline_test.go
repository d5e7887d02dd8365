package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/helper"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// fillRandom writes n files of size bytes of incompressible data into dir/big: an archive
// larger than the first MiB after which a restore held by helper.FailpointEnv waits.
func fillRandom(t testing.TB, dir string, n, size int) {
	t.Helper()
	big := filepath.Join(dir, "big")
	must(t, os.MkdirAll(big, 0o755))
	r := rand.New(rand.NewChaCha8([32]byte{1, 8}))
	buf := make([]byte, size)
	for i := range n {
		for j := 0; j < size; j += 8 {
			v := r.Uint64()
			for k := 0; k < 8 && j+k < size; k++ {
				buf[j+k] = byte(v >> (8 * k))
			}
		}
		must(t, os.WriteFile(filepath.Join(big, fmt.Sprintf("f%04d.bin", i)), buf, 0o644))
	}
}

// pluginChild is the pid of the docker-maim process the docker CLI (pid) runs.
func pluginChild(t testing.TB, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	must(t, err)
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		rest := s[strings.LastIndexByte(s, ')')+2:]
		f := strings.Fields(rest)
		if len(f) > 1 && f[1] == strconv.Itoa(pid) && strings.Contains(s, "(docker-maim)") {
			return c
		}
	}
	t.Fatalf("no docker-maim child of the docker CLI %d", pid)
	return 0
}

// TestOrphanedHelperStops: a restore reading the archive from the backup dir directly (the
// helper needs nothing from docker-maim once it has the go-ahead) is cut off while the
// helper extracts (held there by helper.FailpointEnv, so that a fast disk cannot finish
// first): by kill -9 of docker-maim, or by SIGHUP (a dropped SSH session). The
// helper stops on its own with the abort code (the engine reports it) instead of
// finishing the restore, and the target ends exactly as it was before the restore: the
// journal's rollback (kill -9) or the restore's own put-back (SIGHUP, exit 129) redoes it
// from the safety backup.
func TestOrphanedHelperStops(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	for _, c := range []struct {
		name string
		sig  syscall.Signal
	}{{"kill", syscall.SIGKILL}, {"hup", syscall.SIGHUP}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := newRestoreProject(t, "lifeline-"+c.name)
			fillRandom(t, p.vol, 24, 1<<20)
			env := []string{"COMPOSE_PROJECT_NAME=" + p.Name, volume.EnvNoHostPath + "=1"}
			// Not zstd, so not seekable: the restore extracts in full after the stop. A
			// differential one would stage the rewrite before the stop and only rename
			// after it, and the cut-off is meant to land while a helper writes data.
			r := mustOK(t, maimEnv(t, p.Dir, env, "backup", "--compression", "gzip"))
			id := backupID(t, r)

			// What the restore is cut off from: the big files gone, the rest changed.
			must(t, os.RemoveAll(filepath.Join(p.vol, "big")))
			writeTree(t, p.vol, map[string]string{"db/data.bin": "rows v2\n", "db/new.bin": "new\n"})
			before := dataOf(t, p.vol)

			cmd := exec.Command("docker", append([]string{"maim", "--progress", "json"}, append(restoreArgs, id)...)...)
			cmd.Dir = p.Dir
			// The helper holds after the first MiB it restores until its lifeline ends:
			// the cut-off certainly lands mid-restore, whatever the disk's speed.
			cmd.Env = maimEnvOf(t, backupDir(t), append(env, helper.FailpointEnv+"="+helper.FailpointHoldRestore))
			stderr, err := cmd.StdoutPipe()
			must(t, err)
			cmd.Stderr = cmd.Stdout
			must(t, cmd.Start())
			done := false
			defer func() {
				if !done {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
				}
			}()
			// The restore's data path is reported once the helper reports its first
			// progress: it has the go-ahead and extracts.
			sc := bufio.NewScanner(stderr)
			var out strings.Builder
			for sc.Scan() {
				out.WriteString(sc.Text() + "\n")
				var l progressLine
				if json.Unmarshal(sc.Bytes(), &l) == nil && l.step() == "restore/restore" && strings.HasPrefix(l.Event, "data path: ") {
					break
				}
			}
			helpers, err := p.Client.ContainerList(context.Background(), client.ContainerListOptions{All: true,
				Filters: make(client.Filters).Add("label", volume.LabelHelper+"="+volume.LabelValueContainer).Add("volume", p.Name+"_appdata")})
			must(t, err)
			if len(helpers.Items) != 1 {
				t.Fatalf("want the one restoring helper of appdata, have %d; output so far:\n%s", len(helpers.Items), out.String())
			}
			hid := helpers.Items[0].ID
			wait := p.Client.ContainerWait(context.Background(), hid, client.ContainerWaitOptions{Condition: container.WaitConditionRemoved})
			must(t, syscall.Kill(pluginChild(t, cmd.Process.Pid), c.sig))
			go func() {
				for sc.Scan() {
				}
			}()
			werr := cmd.Wait()
			done = true
			code := cmd.ProcessState.ExitCode()
			t.Logf("docker maim restore: %v (exit %d)", werr, code)

			select {
			case res := <-wait.Result:
				if res.StatusCode != helper.ExitAborted {
					t.Errorf("the orphaned helper exited with %d, want %d (aborted; 0 is a restore finished without its caller)", res.StatusCode, helper.ExitAborted)
				}
			case err := <-wait.Error:
				t.Fatalf("waiting for the helper: %v", err)
			case <-time.After(2 * time.Minute):
				t.Fatal("the orphaned helper is still running")
			}

			if c.sig == syscall.SIGHUP {
				if code != 129 {
					t.Errorf("docker maim restore after SIGHUP exited %d, want 129", code)
				}
			}
			if st := p.status(); st.Interrupted != nil {
				mustOK(t, p.maim(rollbackArgs...))
			} else if c.sig == syscall.SIGKILL {
				t.Errorf("kill -9 mid-restore left no interrupted restore to resolve")
			}
			after := dataOf(t, p.vol)
			wantRestored(t, "after the cut-off restore", before, after, "1.0.0")
		})
	}
}

// TestLeftoverBindHelperRemoved: a helper container left holding a bind target (a
// docker-maim killed mid-restore of ./config, labelled as every helper is) is removed
// before a backup touches it.
func TestLeftoverBindHelperRemoved(t *testing.T) {
	cli := requireEngine(t)
	t.Parallel()
	p := newRestoreProject(t, "leftover-bind")
	ref := helperImageRef()
	if ref == "" {
		t.Skip("no embedded helper for the engine")
	}
	// The helper image exists once the plugin used it.
	env := []string{"COMPOSE_PROJECT_NAME=" + p.Name, volume.EnvNoHostPath + "=1"}
	mustOK(t, maimEnv(t, p.Dir, env, "backup"))
	cfg := p.Path("config")
	ctx := context.Background()
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: ref, Cmd: []string{"restore", "--await-go", "/data"}, OpenStdin: true,
			Labels: map[string]string{volume.LabelHelper: volume.LabelValueContainer}},
		HostConfig: &container.HostConfig{Binds: []string{cfg + ":/data"}, NetworkMode: "none"},
	})
	must(t, err)
	t.Cleanup(func() {
		_, _ = cli.ContainerRemove(context.Background(), created.ID, client.ContainerRemoveOptions{Force: true})
	})
	_, err = cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
	must(t, err)

	evlog := recordEvents(t, cli)
	mustOK(t, maimEnv(t, p.Dir, env, "backup"))
	if _, err := cli.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{}); err == nil {
		t.Errorf("the leftover helper of bind %s is still there after a backup", cfg)
	}
	// In the engine's order: the leftover is gone before the backup's helper of the
	// bind is created.
	var order []string
	for _, m := range evlog.stop() {
		switch {
		case m.Actor.ID == created.ID && m.Action == "destroy":
			order = append(order, "leftover removed")
		case m.Actor.Attributes[volume.LabelHelperTarget] == "bind "+cfg && m.Action == "create":
			order = append(order, "helper created")
		}
	}
	if len(order) < 2 || order[0] != "leftover removed" || order[1] != "helper created" {
		t.Errorf("engine events of the backup: %v, want the leftover removed before a helper of bind %s is created", order, cfg)
	}
}

// TestImpostorHelperImageNeverRuns: an image that claims the helper's tag (any `docker build
// -t docker-maim-helper:<sha12>` or compose build: can make one) is never run: the plugin
// checks the image by content, imports the real helper under the tag again, and the backup
// is correct. The impostor carries a label of its own, which every container made from it
// inherits: the engine's events of the run show none.
func TestImpostorHelperImageNeverRuns(t *testing.T) {
	cli := requireEngine(t)
	ref := helperImageRef()
	if ref == "" {
		t.Skip("no embedded helper for the engine")
	}
	p := newRestoreProject(t, "impostor")
	mark := "maimtest.impostor"
	bctx := t.TempDir()
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skip("no /bin/busybox to build the impostor from")
	}
	must(t, os.WriteFile(filepath.Join(bctx, "busybox"), b, 0o755))
	must(t, os.WriteFile(filepath.Join(bctx, "Dockerfile"), []byte("FROM scratch\nCOPY busybox /maim-helper\n"+
		"LABEL "+volume.LabelHelper+"="+volume.LabelValueImage+" "+mark+"="+p.Name+"\n"+
		`ENTRYPOINT ["/maim-helper", "sh", "-c", "echo impostor ran >&2; exit 0"]`+"\n"), 0o644))
	real := p.imageID(ref)
	mustOK(t, docker(t, bctx, []string{"DOCKER_BUILDKIT=0"}, "build", "-q", "-t", ref, "."))
	impostor := p.imageID(ref)
	t.Cleanup(func() {
		_, _ = cli.ImageRemove(context.Background(), impostor, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		switch cur := p.imageID(ref); {
		case real != "" && cur == impostor:
			_ = exec.Command("docker", "tag", real, ref).Run()
		case real != "" && cur != real:
			// The helper imported again left the one before untagged.
			_, _ = cli.ImageRemove(context.Background(), real, client.ImageRemoveOptions{})
		}
	})
	if impostor == "" || impostor == real {
		t.Fatalf("the impostor was not built (%q)", impostor)
	}

	evlog := recordEvents(t, cli)
	env := []string{"COMPOSE_PROJECT_NAME=" + p.Name, volume.EnvNoHostPath + "=1"}
	r := mustOK(t, maimEnv(t, p.Dir, env, "backup"))
	id := backupID(t, r)

	for _, m := range evlog.stop() {
		if m.Actor.Attributes[mark] == p.Name {
			t.Errorf("a container of the impostor image: %s %s", m.Action, m.Actor.ID)
		}
	}
	if got := p.imageID(ref); got == impostor {
		t.Errorf("%s still names the impostor", ref)
	}
	// The backup is the real helper's: it verifies and restores.
	mustOK(t, maimEnv(t, p.Dir, env, "verify", id))
}
