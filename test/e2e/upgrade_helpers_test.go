package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/testrig"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// botUpgradeCompose is the project of the upgrade tests: the stand-in bot with a named data
// volume and a bind-mounted config dir whose bot_config.toml is merged into the new image's
// template. %s is the project's private bot repository (no tag); .env picks the version
// and the fault switches (BOT_FAIL applies only to the versions in BOT_FAIL_ON).
const botUpgradeCompose = `x-maim:
  configs:
    - file: ./config/bot_config.toml
      template: {service: bot, path: /bot/template/bot_config_template.toml}
      version_key: inner.version
services:
  bot:
    image: %s:${BOT_VERSION:-1.0.0}
    restart: unless-stopped
    environment:
      BOT_FAIL: ${BOT_FAIL:-}
      BOT_FAIL_ON: ${BOT_FAIL_ON:-}
    volumes: [botdata:/bot/data, ./config:/bot/config]
volumes: {botdata: {}}
`

// userConfig is a user's bot_config.toml made from the 1.0.0 template: changed values, an
// inline comment, a regex list with backslashes, and ban_words (which 2.0.0 drops).
const userConfig = `# 麦麦替身（stand-in bot）的配置模板 —— 仅供 docker-maim 测试使用
# 第一次启动时，如果配置文件不存在，会从这个模板复制一份。

[inner]
# 配置文件版本号，请不要手动修改
version = "1.0.0"

[bot]
# 机器人的昵称
nickname = "小智" # 我改的名字
# 机器人的 QQ 账号
qq_account = 987654
# 机器人的别名
alias_names = ["智智"]

[chat]
# 回复频率（0 到 1 之间）
reply_frequency = 0.8
# 屏蔽词（2.0 版本将移除此项）
ban_words = ["广告", "spam"]
# 屏蔽消息的正则表达式（反斜杠必须原样保留）
ban_msgs_regex = ["^\\d{5,}$", "a\\.b\\\\c", 'C:\temp\\']

[debug]
# 故障开关
fail = ""
# "slow" 模式下就绪前等待的秒数
slow_seconds = 5
`

// The user's regexes as the bot must decode them from userConfig.
var userRegexes = []any{`^\d{5,}$`, `a\.b\\c`, `C:\temp\\`}

// botProject is a running botUpgradeCompose project on stand-in bot 1.0.0, pulled from
// the registry, with user files seeded into its data volume.
type botProject struct {
	*project
	repo string // <registry>/<project>/bot
	vol  string // engine name of the botdata volume
	v1ID string // image ID of 1.0.0 (what ran first)
}

// newBotProject makes and starts a botUpgradeCompose project; env is appended to .env.
func newBotProject(t *testing.T, name, env string) *botProject {
	t.Helper()
	bp := makeBotProject(t, name, env)
	bp.start()
	return bp
}

// makeBotProject is newBotProject without the start.
func makeBotProject(t *testing.T, name, env string) *botProject {
	t.Helper()
	p := newProject(t, name, "")
	repo := strings.TrimSuffix(p.Bot("1.0.0"), ":1.0.0")
	p.Bot("2.0.0") // in the registry only: the upgrade pulls it
	p.WriteCompose(fmt.Sprintf(botUpgradeCompose, repo))
	p.WriteFile(".env", "BOT_VERSION=1.0.0\n"+env)
	p.WriteFile("config/bot_config.toml", userConfig)
	return &botProject{project: p, repo: repo, vol: p.Name + "_botdata"}
}

// pushAs makes the registry's dst name the image of src (both the project's private
// references) and leaves the local tags as they were.
func (p *project) pushAs(src, dst string) {
	p.t.Helper()
	hadDst := p.imageID(dst)
	hadSrc := p.imageID(src) != ""
	mustOK(p.t, docker(p.t, p.Dir, nil, "pull", "-q", src))
	mustOK(p.t, docker(p.t, p.Dir, nil, "tag", src, dst))
	mustOK(p.t, docker(p.t, p.Dir, nil, "push", "-q", dst))
	if hadDst != "" {
		mustOK(p.t, docker(p.t, p.Dir, nil, "tag", hadDst, dst))
	} else {
		mustOK(p.t, docker(p.t, p.Dir, nil, "rmi", dst))
	}
	if !hadSrc {
		mustOK(p.t, docker(p.t, p.Dir, nil, "rmi", src))
	}
}

// start brings the project up (pulling the bot) and seeds the data volume.
func (bp *botProject) start() {
	bp.t.Helper()
	compose(bp.t, bp.project, "up", "-d", "--wait")
	c := bp.wantBot("1.0.0")
	bp.v1ID = c.Image
	bp.seedVolume(bp.vol)
}

// setEnv rewrites KEY=... in .env (appending it when missing).
func (p *project) setEnv(key, value string) {
	p.t.Helper()
	b, err := os.ReadFile(p.Path(".env"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		p.t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `=.*$`)
	s := string(b)
	if re.MatchString(s) {
		s = re.ReplaceAllLiteralString(s, key+"="+value)
	} else {
		s += key + "=" + value + "\n"
	}
	p.WriteFile(".env", s)
}

// wantBot checks that service bot's container runs image version v and is healthy (the
// health gate of the command that just ended has waited for that), and returns it.
func (p *project) wantBot(v string) container.InspectResponse {
	p.t.Helper()
	return p.wantService("bot", v)
}

func (p *project) wantService(svc, v string) container.InspectResponse {
	p.t.Helper()
	c, ok := p.containers()[svc]
	if !ok {
		p.t.Fatalf("no container for service %s", svc)
	}
	if got := c.Config.Labels["org.opencontainers.image.version"]; got != v {
		p.t.Errorf("service %s runs version %q (image %s), want %q", svc, got, c.Config.Image, v)
	}
	if c.State == nil || !c.State.Running {
		p.t.Errorf("service %s is not running: %+v", svc, c.State)
	} else if c.State.Health == nil || c.State.Health.Status != container.Healthy {
		p.t.Errorf("service %s is not healthy: %+v", svc, c.State.Health)
	}
	return c
}

// peek runs fn with a created (never started) container of the bot's current image that
// mounts volume vol at /v; the container is removed afterwards. The stand-in bot image is
// FROM scratch, so the engine's archive API moves files in and out of it.
func (p *project) peek(vol string, fn func(id string)) {
	p.t.Helper()
	ctx := context.Background()
	img := ""
	for _, c := range p.containers() {
		img = c.Image
		break
	}
	if img == "" {
		p.t.Fatal("peek: the project has no container whose image could mount the volume")
	}
	res, err := p.Client.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       p.Name + "-peek-" + randSuffix(),
		Config:     &container.Config{Image: img, Labels: map[string]string{"maimtest.peek": p.Name}},
		HostConfig: &container.HostConfig{Binds: []string{vol + ":/v"}},
	})
	if err != nil {
		p.t.Fatalf("peek container: %v", err)
	}
	defer func() {
		if _, err := p.Client.ContainerRemove(context.Background(), res.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			p.t.Errorf("remove peek container: %v", err)
		}
	}()
	fn(res.ID)
}

func randSuffix() string {
	b := make([]byte, 4)
	f, err := os.Open("/dev/urandom")
	if err == nil {
		io.ReadFull(f, b)
		f.Close()
	}
	return fmt.Sprintf("%x", b)
}

// seedVolume puts user files into a volume: nested dirs, unicode, a 0600 file, an empty
// dir, a symlink.
func (p *project) seedVolume(vol string) {
	p.t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body string) {
		h.Size = int64(len(body))
		h.Format = tar.FormatPAX
		must(p.t, tw.WriteHeader(h))
		_, err := tw.Write([]byte(body))
		must(p.t, err)
	}
	add(&tar.Header{Typeflag: tar.TypeDir, Name: "user/", Mode: 0o755}, "")
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "user/memory.db", Mode: 0o644}, strings.Repeat("记忆 memory row\n", 2000))
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "user/名前 with space.txt", Mode: 0o644}, "unicode\n")
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "user/secret.key", Mode: 0o600}, "s3cret\n")
	add(&tar.Header{Typeflag: tar.TypeDir, Name: "user/empty/", Mode: 0o750}, "")
	add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "user/link", Linkname: "memory.db", Mode: 0o777}, "")
	must(p.t, tw.Close())
	p.peek(vol, func(id string) {
		if _, err := p.Client.CopyToContainer(context.Background(), id, client.CopyToContainerOptions{DestinationPath: "/v", Content: &buf}); err != nil {
			p.t.Fatalf("seed volume %s: %v", vol, err)
		}
	})
}

// readVolume copies volume vol out through the engine into a fresh temp dir and returns it.
func (p *project) readVolume(vol string) string {
	p.t.Helper()
	dest := p.t.TempDir()
	p.peek(vol, func(id string) {
		res, err := p.Client.CopyFromContainer(context.Background(), id, client.CopyFromContainerOptions{SourcePath: "/v"})
		if err != nil {
			p.t.Fatalf("read volume %s: %v", vol, err)
		}
		defer res.Content.Close()
		extractTar(p.t, res.Content, dest)
	})
	return filepath.Join(dest, "v")
}

// extractTar writes a tar (as the engine's archive API makes it) under dest, keeping modes,
// symlinks and hardlinks (what TreeHash looks at).
func extractTar(t testing.TB, r io.Reader, dest string) {
	t.Helper()
	type dirMode struct {
		path string
		mode os.FileMode
	}
	var dirs []dirMode
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		must(t, err)
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) || filepath.IsAbs(name) {
			t.Fatalf("hostile tar entry %q", h.Name)
		}
		path := filepath.Join(dest, name)
		must(t, os.MkdirAll(filepath.Dir(path), 0o755))
		mode := h.FileInfo().Mode()
		switch h.Typeflag {
		case tar.TypeDir:
			must(t, os.MkdirAll(path, 0o755))
			dirs = append(dirs, dirMode{path, mode})
		case tar.TypeReg:
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			must(t, err)
			_, err = io.Copy(f, tr)
			must(t, errors.Join(err, f.Close()))
			must(t, os.Chmod(path, mode))
		case tar.TypeSymlink:
			must(t, os.Symlink(h.Linkname, path))
		case tar.TypeLink:
			must(t, os.Link(filepath.Join(dest, filepath.FromSlash(h.Linkname)), path))
		default:
			t.Fatalf("unexpected tar entry %q type %c", h.Name, h.Typeflag)
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		must(t, os.Chmod(dirs[i].path, dirs[i].mode))
	}
}

// dataState is what a data tree held: its hash without starts.log (the bot appends a line
// there on every start, so a rollback that restored the data exactly and then started the
// old version adds one line) and starts.log itself.
type dataState struct {
	Hash   string
	Starts string
}

func dataOf(t testing.TB, dir string) dataState {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "starts.log"))
	if err != nil {
		t.Fatalf("data dir %s has no starts.log: %v", dir, err)
	}
	return dataState{Hash: testrig.TreeHash(t, dir, "starts.log"), Starts: string(b)}
}

// wantRestored checks that after equals before byte for byte, except that starts.log may
// have gained exactly the lines of starts of version v (the rolled-back bot starting again).
func wantRestored(t testing.TB, what string, before, after dataState, v string) {
	t.Helper()
	if before.Hash != after.Hash {
		t.Errorf("%s: the data differs from before the upgrade (tree hash %s, want %s)", what, after.Hash, before.Hash)
	}
	if !strings.HasPrefix(after.Starts, before.Starts) {
		t.Errorf("%s: starts.log was not restored:\n--- before:\n%s--- after:\n%s", what, before.Starts, after.Starts)
		return
	}
	for _, line := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(after.Starts, before.Starts), "\n"), "\n") {
		if line != "" && !strings.HasPrefix(line, "start version="+v+" ") {
			t.Errorf("%s: starts.log gained a line that is not a start of %s: %q (before:\n%s)", what, v, line, before.Starts)
		}
	}
}

// botData reads the project's data volume.
func (bp *botProject) data() (dataState, string) {
	bp.t.Helper()
	dir := bp.readVolume(bp.vol)
	return dataOf(bp.t, dir), dir
}

// dataJSON is the bot's data.json.
type dataJSON struct {
	Schema     int      `json:"schema"`
	CreatedBy  string   `json:"created_by"`
	Migrations []string `json:"migrations"`
}

func readDataJSON(t testing.TB, dir string) dataJSON {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dataJSON
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("data.json: %v\n%s", err, b)
	}
	return d
}

// effectiveJSON is the bot's effective.json (what it loaded at its last start).
type effectiveJSON struct {
	Version              string         `json:"version"`
	Schema               int            `json:"schema"`
	InnerVersion         string         `json:"inner_version"`
	TemplateInnerVersion string         `json:"template_inner_version"`
	Config               map[string]any `json:"config"`
}

func readEffective(t testing.TB, dir string) effectiveJSON {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "effective.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e effectiveJSON
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("effective.json: %v\n%s", err, b)
	}
	return e
}

// engineState is what the engine holds for a project: containers (ID, image, state, start
// time, restarts, health), volumes, and every local image tag naming the project.
type engineState struct {
	Containers map[string]string
	Volumes    []string
	Tags       map[string]string
}

func (p *project) engineState() engineState {
	p.t.Helper()
	ctx := context.Background()
	st := engineState{Containers: map[string]string{}, Tags: map[string]string{}}
	for svc, c := range p.containers() {
		health := ""
		if c.State.Health != nil {
			health = string(c.State.Health.Status)
		}
		st.Containers[svc] = fmt.Sprintf("%s image=%s state=%s started=%s restarts=%d health=%s",
			c.ID, c.Image, c.State.Status, c.State.StartedAt, c.RestartCount, health)
	}
	vols, err := p.Client.VolumeList(ctx, client.VolumeListOptions{})
	must(p.t, err)
	for _, v := range vols.Items {
		if strings.Contains(v.Name, p.Name) || v.Labels[testrig.ProjectLabel] == p.Name {
			st.Volumes = append(st.Volumes, v.Name)
		}
	}
	sort.Strings(st.Volumes)
	imgs, err := p.Client.ImageList(ctx, client.ImageListOptions{})
	must(p.t, err)
	for _, im := range imgs.Items {
		for _, tag := range im.RepoTags {
			if strings.Contains(tag, p.Name) {
				st.Tags[tag] = im.ID
			}
		}
	}
	return st
}

func wantSameEngine(t testing.TB, before, after engineState) {
	t.Helper()
	b, _ := json.MarshalIndent(before, "", "  ")
	a, _ := json.MarshalIndent(after, "", "  ")
	if !bytes.Equal(a, b) {
		t.Errorf("the engine state changed:\n--- before:\n%s\n--- after:\n%s", b, a)
	}
}

// imageID returns the local image ID of ref ("" when absent).
func (p *project) imageID(ref string) string {
	p.t.Helper()
	res, err := p.Client.ImageInspect(context.Background(), ref)
	if err != nil {
		return ""
	}
	return res.ID
}

var upgradedLine = regexp.MustCompile(`(?m)^upgraded project (\S+); backup (\S+); downtime (\S+)$`)

// upgraded checks the success output of `docker maim upgrade` and returns the backup ID.
func upgraded(t testing.TB, r Result, project, from, to string) string {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("upgrade failed: %s", r)
	}
	if want := "bot: " + from + " -> " + to + "\n"; from != "" && !strings.Contains(r.Stdout, want) {
		t.Errorf("upgrade output does not say %q: %s", want, r)
	}
	m := upgradedLine.FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("no 'upgraded project ...; backup ...; downtime ...' line: %s", r)
	}
	if m[1] != project {
		t.Errorf("upgraded project %q, want %q", m[1], project)
	}
	t.Logf("downtime %s", m[3])
	return m[2]
}

// statusJSON mirrors `docker maim status --format json`.
type statusJSON struct {
	Project  string `json:"project"`
	Services []struct {
		Service string `json:"service"`
		Image   string `json:"image"`
		ImageID string `json:"image_id"`
		Version string `json:"version"`
		Digest  string `json:"digest"`
		State   string `json:"state"`
		Health  string `json:"health"`
	} `json:"services"`
	LastUpgrade *struct {
		Op       string `json:"op"`
		Result   string `json:"result"`
		BackupID string `json:"backup_id"`
		Error    string `json:"error"`
		Images   []struct {
			Service    string `json:"service"`
			OldRef     string `json:"old_ref"`
			NewRef     string `json:"new_ref"`
			OldVersion string `json:"old_version"`
			NewVersion string `json:"new_version"`
		} `json:"images"`
	} `json:"last_upgrade"`
	Interrupted *struct {
		Op       string   `json:"op"`
		Phase    string   `json:"phase"`
		BackupID string   `json:"backup_id"`
		Resolve  []string `json:"resolve"`
	} `json:"interrupted"`
	Backups int `json:"backups"`
}

func (p *project) status() statusJSON {
	p.t.Helper()
	r := mustOK(p.t, p.maim("status", "--format", "json"))
	var st statusJSON
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		p.t.Fatalf("status --format json: %v\n%s", err, r)
	}
	return st
}

// journalPath is where an interrupted operation's journal lives: the test's state dir,
// whatever backup dir the operation used.
func (p *project) journalPath() string {
	return filepath.Join(projectStateDir(p.t, p.Name), "journal.json")
}

func (p *project) wantNoJournal() {
	p.t.Helper()
	if _, err := os.Stat(p.journalPath()); err == nil {
		b, _ := os.ReadFile(p.journalPath())
		p.t.Errorf("the journal is still there:\n%s", b)
	}
}

// extractSource extracts source name of backup id into a temp dir the way a restore
// applies it: an incremental source's chain first (its base as that backup holds it, then
// its own archive, a delta, over it), a two-pass source's Delta last.
func (p *project) extractSource(id, name string) string {
	p.t.Helper()
	dest := filepath.Join(p.t.TempDir(), "x")
	p.applySource(id, name, dest, 0)
	return dest
}

// applySource writes source name of backup id over dest (see extractSource); depth bounds
// the chain.
func (p *project) applySource(id, name, dest string, depth int) {
	p.t.Helper()
	if depth > 100 {
		p.t.Fatalf("source %s: a chain of more than 100 backups at %s", name, id)
	}
	src := p.manifest(id).source(p.t, name)
	dir := p.backupPath(src.holder(id))
	if src.Base != nil {
		p.applySource(src.Base.ID, name, dest, depth+1)
		if got := p.manifest(src.Base.ID).source(p.t, name).Archive; got != src.Base.Archive {
			p.t.Fatalf("source %s of backup %s builds on archive %s of backup %s, which holds %s", name, id, src.Base.Archive, src.Base.ID, got)
		}
	}
	p.applyArchive(id, name, filepath.Join(dir, src.Archive), dest, src.Base != nil)
	if src.Delta != nil {
		p.applyArchive(id, name, filepath.Join(dir, src.Delta.Archive), dest, true)
	}
}

// applyArchive extracts one archive into dest, or applies it over dest when it is a delta.
func (p *project) applyArchive(id, name, path, dest string, delta bool) {
	p.t.Helper()
	f, err := os.Open(path)
	must(p.t, err)
	defer f.Close()
	r, err := archive.Decompress(f, archive.DetectCompression(path))
	must(p.t, err)
	defer r.Close()
	if delta {
		_, err = archive.ApplyDelta(context.Background(), r, dest, archive.ExtractOptions{})
	} else {
		_, err = archive.Extract(context.Background(), r, dest, archive.ExtractOptions{})
	}
	if err != nil {
		p.t.Fatalf("extract %s of backup %s (%s): %v", name, id, filepath.Base(path), err)
	}
}

// fileBytes reads a file of the project dir.
func (p *project) fileBytes(rel string) string {
	p.t.Helper()
	b, err := os.ReadFile(p.Path(rel))
	must(p.t, err)
	return string(b)
}

func mustCompile(pattern string) *regexp.Regexp { return regexp.MustCompile(pattern) }
