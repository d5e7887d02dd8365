package testrig

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// ProjectLabel is the label compose puts on a project's containers, volumes and networks
// (project.LabelProject, named here for the tests that use the rig).
const ProjectLabel = project.LabelProject

// Proj is a compose project made for one test.
type Proj struct {
	// Name is the unique project name: "maimtest-<name>-<random>".
	Name string
	// Root is the test's private temp dir; Dir and BackupDir live under it.
	Root string
	// Dir is the project's working dir (the compose file's dir). Bind-mount paths like
	// ./data resolve here.
	Dir string
	// File is the compose file's path (Dir/compose.yaml).
	File string
	// BackupDir is an empty dir outside Dir for docker-maim backups (MAIM_BACKUP_DIR).
	BackupDir string
	// Client is the engine client (from Require).
	Client *client.Client

	t     testing.TB
	watch *volumeWatch // the project's containers and the volumes they mounted
	mu    sync.Mutex
	bots  map[string]string // version -> private ref
	regs  []regManifest     // private registry manifests to delete
	imgs  []string          // extra image refs to remove
}

type regManifest struct{ repo, digest string }

var nameRE = regexp.MustCompile(`[^a-z0-9_-]+`)

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Project makes a compose project for t: a unique name "maimtest-<name>-<8 hex>", a temp root
// with the working dir Dir (holding compose.yaml written from composeYAML, unless empty) and
// BackupDir. In composeYAML, "{{bot:VERSION}}" stands for the project's private stand-in bot
// image (see Bot). When the test ends, failed or not, every container (with its anonymous
// volumes), volume and network carrying the project label or the project name in its name,
// every image built for the project or whose reference contains the project name (incl. Bot
// copies and images pinned under the project's name), images added with TrackImage, and the
// temp root are removed. Cleanup problems are reported as test errors.
func Project(t testing.TB, name, composeYAML string) *Proj {
	t.Helper()
	cli := Require(t)
	n := nameRE.ReplaceAllString(strings.ToLower(name), "-")
	n = strings.Trim(n, "-_")
	if len(n) > 30 {
		n = n[:30]
	}
	pname := "maimtest-" + randHex(4)
	if n != "" {
		pname = "maimtest-" + n + "-" + randHex(4)
	}
	root, err := os.MkdirTemp("", pname+"-")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proj{
		Name:      pname,
		Root:      root,
		Dir:       filepath.Join(root, "project"),
		BackupDir: filepath.Join(root, "backups"),
		Client:    cli,
		t:         t,
	}
	p.File = filepath.Join(p.Dir, "compose.yaml")
	for _, d := range []string{p.Dir, p.BackupDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p.watchVolumes()
	t.Cleanup(p.cleanup)
	if composeYAML != "" {
		p.WriteCompose(composeYAML)
	}
	return p
}

var botPlaceholder = regexp.MustCompile(`\{\{bot:([0-9A-Za-z.+-]+)\}\}`)

// Expand replaces "{{bot:VERSION}}" placeholders with p.Bot(VERSION).
func (p *Proj) Expand(text string) string {
	return botPlaceholder.ReplaceAllStringFunc(text, func(m string) string {
		return p.Bot(botPlaceholder.FindStringSubmatch(m)[1])
	})
}

// WriteCompose (re)writes the compose file from text (placeholders expanded).
func (p *Proj) WriteCompose(text string) {
	p.t.Helper()
	p.WriteFile("compose.yaml", p.Expand(text))
}

// Path returns Dir joined with the slash-separated relative path rel.
func (p *Proj) Path(rel string) string { return filepath.Join(p.Dir, filepath.FromSlash(rel)) }

// WriteFile writes content to Dir/rel, creating parent dirs.
func (p *Proj) WriteFile(rel, content string) {
	p.t.Helper()
	path := p.Path(rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// Env returns environment entries that point docker-maim and compose at this project
// (COMPOSE_PROJECT_NAME, COMPOSE_FILE, MAIM_BACKUP_DIR), to append to os.Environ().
func (p *Proj) Env() []string {
	return []string{"COMPOSE_PROJECT_NAME=" + p.Name, "COMPOSE_FILE=" + p.File, "MAIM_BACKUP_DIR=" + p.BackupDir}
}

// TrackImage adds image references for cleanup to remove.
func (p *Proj) TrackImage(refs ...string) {
	p.mu.Lock()
	p.imgs = append(p.imgs, refs...)
	p.mu.Unlock()
}

// Bot returns the project's private copy of stand-in bot version v:
// "<registry>/<project>/bot:<v>", pushed to the registry and NOT present locally, so the
// first `up` or `docker maim upgrade` must pull it. Nothing else uses it, so tests may remove
// or re-tag it freely; cleanup deletes it locally and from the registry.
func (p *Proj) Bot(v string) string {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if ref, ok := p.bots[v]; ok {
		return ref
	}
	shared, ok := BotImages(p.t)[v]
	if !ok {
		p.t.Fatalf("testrig: no stand-in bot version %q (have %v)", v, BotVersions)
	}
	repo := p.Name + "/bot"
	ref := Registry() + "/" + repo + ":" + v
	digest, err := p.copyBot(shared, ref)
	if err != nil {
		p.t.Fatalf("testrig: private copy of stand-in bot %s: %v", v, err)
	}
	p.regs = append(p.regs, regManifest{repo, digest})
	if p.bots == nil {
		p.bots = map[string]string{}
	}
	p.bots[v] = ref
	return ref
}

// copyBot pushes shared as ref and removes the local ref again. Test binaries serialise these
// image operations with a flock: engine 20.10 has been seen to hang for minutes in an image
// DELETE racing a pull or push of the same image.
func (p *Proj) copyBot(shared, ref string) (string, error) {
	unlock, err := lockFile(filepath.Join(os.TempDir(), "maim-standin-bot-ops.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	ctx, cancel := cleanupContext()
	defer cancel()
	if _, err := p.Client.ImageInspect(ctx, shared); err != nil {
		if err := pull(ctx, p.Client, shared); err != nil {
			return "", err
		}
	}
	if _, err := p.Client.ImageTag(ctx, client.ImageTagOptions{Source: shared, Target: ref}); err != nil {
		return "", fmt.Errorf("tag %s: %w", ref, err)
	}
	digest, err := push(ctx, p.Client, ref)
	if err != nil {
		return "", err
	}
	if _, err := p.Client.ImageRemove(ctx, ref, client.ImageRemoveOptions{}); err != nil && !isNotFound(err) {
		if _, ierr := p.Client.ImageInspect(ctx, ref); !isNotFound(ierr) {
			return "", fmt.Errorf("remove local %s: %w", ref, err)
		}
	}
	return digest, nil
}

func pull(ctx context.Context, cli *client.Client, ref string) error {
	res, err := cli.ImagePull(ctx, ref, client.ImagePullOptions{RegistryAuth: emptyAuth})
	if err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	defer res.Close()
	if _, err := readJSONStream(res); err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	return nil
}

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

var anonVolumeName = regexp.MustCompile(`^[0-9a-f]{64}$`)

// volumeWatch follows the engine's events from the moment a project is made: the
// containers created with its label and the volumes every container mounted. The engine
// keeps only its last 256 events, so they are read as they come, not asked for later;
// only the last moment before the cleanup (events reach a subscriber a little after the
// fact) is read back from the engine's log.
type volumeWatch struct {
	p          *Proj
	mu         sync.Mutex
	containers map[string]bool     // the project's containers
	mounts     map[string][]string // volume -> containers that mounted it
	since      time.Time           // where to read from again: the last event seen, less a second
	stop       context.CancelFunc
	done       chan struct{}
}

// read applies the engine's events from w.since on until the stream ends: at until when
// it is set (the log up to then), else when ctx ends or the engine goes away.
func (w *volumeWatch) read(ctx context.Context, until string) error {
	f := make(client.Filters).Add("type", "container").Add("type", "volume").Add("event", "create").Add("event", "mount")
	w.mu.Lock()
	since := eventTime(w.since)
	w.mu.Unlock()
	res := w.p.Client.Events(ctx, client.EventsListOptions{Since: since, Until: until, Filters: f})
	for {
		select {
		case m := <-res.Messages:
			w.mu.Lock()
			w.since = time.Unix(0, m.TimeNano).Add(-time.Second)
			switch {
			case m.Type == events.ContainerEventType && m.Action == events.ActionCreate && m.Actor.Attributes[ProjectLabel] == w.p.Name:
				w.containers[m.Actor.ID] = true
			case m.Type == events.VolumeEventType && m.Action == events.ActionMount:
				w.mounts[m.Actor.ID] = append(w.mounts[m.Actor.ID], m.Actor.Attributes["container"])
			}
			w.mu.Unlock()
		case err := <-res.Err:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// eventTime is t as the events API takes it: seconds, with nanoseconds after the point.
func eventTime(t time.Time) string { return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()) }

func (p *Proj) watchVolumes() {
	ctx, cancel := context.WithCancel(context.Background())
	w := &volumeWatch{p: p, containers: map[string]bool{}, mounts: map[string][]string{},
		since: time.Now().Add(-time.Second), stop: cancel, done: make(chan struct{})}
	p.watch = w
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			_ = w.read(ctx, "") // ends when the engine restarts: read again from since
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
}

// anonymousVolumes stops the watch and returns the volumes without a name of their own (64
// hex digits) and without labels (compose labels the ones a compose file declares; those
// are removed by label) that the project's containers mounted.
func (p *Proj) anonymousVolumes(ctx context.Context) []string {
	w := p.watch
	if w == nil {
		return nil
	}
	w.stop()
	<-w.done
	// What the stream had not delivered yet: the engine's log from the last event seen.
	if err := w.read(ctx, eventTime(time.Now())); err != nil {
		p.t.Errorf("testrig cleanup of %s: reading the engine's events: %v", p.Name, err)
	}
	var out []string
	for v, cs := range w.mounts {
		ours := false
		for _, c := range cs {
			ours = ours || w.containers[c]
		}
		if !ours || !anonVolumeName.MatchString(v) {
			continue
		}
		if vi, err := p.Client.VolumeInspect(ctx, v, client.VolumeInspectOptions{}); err != nil || len(vi.Volume.Labels) > 0 {
			continue // gone already, or declared
		}
		out = append(out, v)
	}
	return out
}

// cleanup removes what the test left of p from the engine, the registry and the disk:
// containers, volumes (also anonymous ones), networks, images, pushed manifests, the
// project's directory. It reports what it could not remove as test errors.
func (p *Proj) cleanup() {
	ctx, cancel := cleanupContext()
	defer cancel()
	byLabel := make(client.Filters).Add("label", ProjectLabel+"="+p.Name)
	byName := make(client.Filters).Add("name", p.Name)
	s := &sweep{p: p, ctx: ctx, cli: p.Client, byLabel: byLabel, filters: []client.Filters{byLabel, byName}, images: map[string]bool{}}
	for _, r := range p.imgs {
		s.images[r] = true
	}
	s.containers()
	s.volumes()
	s.networks()
	s.removeImages()
	s.registry()
	s.root()
}

// sweep is one cleanup of a project: what it found so far and where it reports.
type sweep struct {
	p       *Proj
	ctx     context.Context
	cli     *client.Client
	byLabel client.Filters   // the project's label
	filters []client.Filters // the project's label, then its name
	images  map[string]bool  // references to remove
}

func (s *sweep) errorf(format string, args ...any) {
	s.p.t.Errorf("testrig cleanup of %s: "+format, append([]any{s.p.Name}, args...)...)
}

// containers removes the project's containers (by label or name), noting their images
// that carry the project's name.
func (s *sweep) containers() {
	ctx, cli, p := s.ctx, s.cli, s.p
	seen := map[string]bool{}
	for _, f := range s.filters {
		res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
		if err != nil {
			s.errorf("list containers: %v", err)
			continue
		}
		for _, c := range res.Items {
			if seen[c.ID] {
				continue
			}
			seen[c.ID] = true
			if strings.Contains(c.Image, p.Name) {
				s.images[c.Image] = true
			}
			if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
				s.errorf("remove container %s: %v", c.ID[:12], err)
			}
		}
	}
}

// volumes removes the project's anonymous volumes, then its volumes (by label or name).
func (s *sweep) volumes() {
	ctx, cli, p := s.ctx, s.cli, s.p
	// Anonymous volumes the project's containers mounted, also ones no container holds any
	// more: compose hands such a volume on to the recreated container by name (Inherit), and
	// the engine does not remove a volume given by name with its container; and the
	// containers of services a compose-file swap dropped are removed as orphans, as
	// `docker compose up --remove-orphans` does, without their volumes.
	for _, v := range p.anonymousVolumes(ctx) {
		if _, err := cli.VolumeRemove(ctx, v, client.VolumeRemoveOptions{}); err != nil && !isNotFound(err) {
			s.errorf("remove anonymous volume %s: %v", v, err)
		}
	}
	seenVol := map[string]bool{}
	for _, f := range s.filters {
		res, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
		if err != nil {
			s.errorf("list volumes: %v", err)
			continue
		}
		for _, v := range res.Items {
			if seenVol[v.Name] {
				continue
			}
			seenVol[v.Name] = true
			if _, err := cli.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil && !isNotFound(err) {
				s.errorf("remove volume %s: %v", v.Name, err)
			}
		}
	}
}

// networks removes the project's networks (by label or name).
func (s *sweep) networks() {
	ctx, cli := s.ctx, s.cli
	seenNet := map[string]bool{}
	for _, f := range s.filters {
		res, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
		if err != nil {
			s.errorf("list networks: %v", err)
			continue
		}
		for _, n := range res.Items {
			if seenNet[n.ID] {
				continue
			}
			seenNet[n.ID] = true
			if _, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
				s.errorf("remove network %s: %v", n.Name, err)
			}
		}
	}
}

// removeImages removes the images noted so far and the project's other images.
func (s *sweep) removeImages() {
	ctx, cli, p, images := s.ctx, s.cli, s.p, s.images
	// Images: built for the project (label), or any reference (tag or digest) containing the
	// project name.
	if res, err := cli.ImageList(ctx, client.ImageListOptions{Filters: s.byLabel}); err == nil {
		for _, im := range res.Items {
			images[im.ID] = true
		}
	} else {
		s.errorf("list images: %v", err)
	}
	if res, err := cli.ImageList(ctx, client.ImageListOptions{}); err == nil {
		for _, im := range res.Items {
			for _, tag := range im.RepoTags {
				if strings.Contains(tag, p.Name) {
					images[tag] = true
				}
			}
			// An image the test untagged (a floating tag moved off it) keeps its
			// repo@digest reference: remove that reference, not the shared image.
			for _, d := range im.RepoDigests {
				if strings.Contains(d, p.Name) {
					images[d] = true
				}
			}
		}
	} else {
		s.errorf("list images: %v", err)
	}
	for ref := range images {
		if _, err := cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !isNotFound(err) {
			s.errorf("remove image %s: %v", ref, err)
		}
	}
}

// registry deletes the manifests the test pushed to the rig's registry.
func (s *sweep) registry() {
	p := s.p
	p.mu.Lock()
	for _, m := range p.regs {
		if err := registryDelete(s.ctx, m.repo, m.digest); err != nil {
			s.errorf("%v", err)
		}
	}
	p.mu.Unlock()
}

// root removes the project's directory, through the engine as root when containers wrote
// root-owned files into its bind mounts.
func (s *sweep) root() {
	ctx, cli, p := s.ctx, s.cli, s.p
	if err := os.RemoveAll(p.Root); err != nil && os.Geteuid() != 0 {
		// Containers wrote root-owned files into bind mounts: empty the tree as root.
		if werr := wipeAsRoot(ctx, cli, p.Root); werr != nil {
			s.errorf("wipe %s through the engine: %v", p.Root, werr)
		}
		err = os.RemoveAll(p.Root)
		if err != nil {
			s.errorf("remove %s: %v", p.Root, err)
		}
	} else if err != nil {
		s.errorf("remove %s: %v", p.Root, err)
	}
}

// wipeAsRoot empties dir with the stand-in bot's "wipe" subcommand in a container (root).
func wipeAsRoot(ctx context.Context, cli *client.Client, dir string) error {
	botState.mu.Lock()
	img := botState.refs[BotVersions[0]]
	botState.mu.Unlock()
	if img == "" {
		return fmt.Errorf("no stand-in bot image to wipe with")
	}
	if _, err := cli.ImageInspect(ctx, img); err != nil {
		if err := pull(ctx, cli, img); err != nil {
			return err
		}
	}
	res, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: img, Cmd: []string{"wipe", "/w"}, Labels: map[string]string{"maimtest.wipe": "1"}},
		HostConfig: &container.HostConfig{Binds: []string{dir + ":/w"}},
	})
	if err != nil {
		return err
	}
	defer cli.ContainerRemove(context.Background(), res.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if _, err := cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		return err
	}
	w := cli.ContainerWait(ctx, res.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-w.Result:
		if r.StatusCode != 0 {
			return fmt.Errorf("wipe exited with %d", r.StatusCode)
		}
		return nil
	case err := <-w.Error:
		return err
	}
}
