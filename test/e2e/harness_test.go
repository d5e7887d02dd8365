package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/testrig"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// TestVersion is the version stamped into the plugin binary under test, so a test can tell
// it from any docker-maim installed elsewhere.
const TestVersion = "0.0.0-e2e"

var (
	// dockerConfig is the private DOCKER_CONFIG of this test binary; its cli-plugins dir
	// holds the docker-maim under test and a symlink to the docker-compose plugin.
	dockerConfig string
	// pluginBin is the docker-maim binary under test.
	pluginBin string
	// composePlugin is the docker-compose plugin linked into dockerConfig ("" if none found).
	composePlugin string
)

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	root, err := testrig.RepoRoot()
	if err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp("", "maim-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	dockerConfig = filepath.Join(tmp, "docker-config")
	plugins := filepath.Join(dockerConfig, "cli-plugins")
	if err := os.MkdirAll(plugins, 0o700); err != nil {
		return 0, err
	}
	pluginBin = filepath.Join(plugins, "docker-maim")
	// The helpers are embedded in the plugin (internal/volume/helperbin), as make builds it.
	helpers := exec.Command("bash", "scripts/build-helpers.sh")
	helpers.Dir = root
	helpers.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := helpers.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("scripts/build-helpers.sh: %v\n%s", err, out)
	}
	build := exec.Command("go", "build", "-trimpath",
		"-ldflags", "-X github.com/docker-maim/docker-maim/internal/plugin.Version="+TestVersion,
		"-o", pluginBin, "./cmd/docker-maim")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local")
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go build ./cmd/docker-maim: %v\n%s", err, out)
	}
	if composePlugin = findComposePlugin(); composePlugin != "" {
		if err := os.Symlink(composePlugin, filepath.Join(plugins, "docker-compose")); err != nil {
			return 0, err
		}
	}
	keepEndpoint()
	if err := os.Setenv("DOCKER_CONFIG", dockerConfig); err != nil {
		return 0, err
	}
	helper := helperImageRef()
	hadHelper := helper != "" && exec.Command("docker", "image", "inspect", helper).Run() == nil
	code := m.Run()
	if helper != "" && !hadHelper {
		// not while a container uses it (no -f); a concurrent run of the same build re-imports it
		_ = exec.Command("docker", "image", "rm", helper).Run()
	}
	return code, nil
}

// findComposePlugin looks where the docker CLI looks for the docker-compose plugin.
func findComposePlugin() string {
	var dirs []string
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		dirs = append(dirs, filepath.Join(d, "cli-plugins"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".docker", "cli-plugins"))
	}
	dirs = append(dirs, "/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
		"/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")
	for _, d := range dirs {
		p := filepath.Join(d, "docker-compose")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// keepEndpoint makes the engine of the user's current docker context the one the tests use
// after DOCKER_CONFIG moves (a private config has no contexts).
func keepEndpoint() {
	if os.Getenv("DOCKER_HOST") != "" {
		return
	}
	out, err := exec.Command("docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}").Output()
	host := strings.TrimSpace(string(out))
	if err == nil && host != "" && host != "unix:///var/run/docker.sock" {
		os.Setenv("DOCKER_HOST", host)
	}
	os.Unsetenv("DOCKER_CONTEXT")
}

// helperImageRef is the helper image the plugin under test imports to reach volume data
// (internal/volume: docker-maim-helper:<sha256 prefix of the embedded helper for the
// engine's architecture>), asked from the plugin itself (its hidden __helpers command).
func helperImageRef() string {
	arch, err := exec.Command("docker", "version", "--format", "{{.Server.Arch}}").Output()
	if err != nil {
		return ""
	}
	for _, h := range embeddedHelpers(pluginBin) {
		if h.Platform == "linux/"+strings.TrimSpace(string(arch)) {
			return "docker-maim-helper:" + h.SHA256[:12]
		}
	}
	return ""
}

// embeddedHelper is one line of `docker-maim __helpers`.
type embeddedHelper struct {
	Platform string
	Size     int64
	SHA256   string
}

// embeddedHelpers asks a docker-maim binary which helpers it embeds.
func embeddedHelpers(bin string) []embeddedHelper {
	out, err := exec.Command(bin, "__helpers").Output()
	if err != nil {
		return nil
	}
	var hs []embeddedHelper
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var h embeddedHelper
		if _, err := fmt.Sscan(l, &h.Platform, &h.Size, &h.SHA256); err == nil && len(h.SHA256) == 64 {
			hs = append(hs, h)
		}
	}
	return hs
}

// Result is what a docker command did.
type Result struct {
	Args   []string
	Stdout string
	Stderr string
	Code   int
}

func (r Result) String() string {
	return fmt.Sprintf("`docker %s` exited %d\n--- stdout:\n%s--- stderr:\n%s", strings.Join(r.Args, " "), r.Code, r.Stdout, r.Stderr)
}

// leakyEnv are variables of the caller's environment that would change what a test selects.
var leakyEnv = []string{"COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES", "COMPOSE_ENV_FILES",
	"COMPOSE_PATH_SEPARATOR", "MAIM_BACKUP_DIR", "MAIM_STATE_DIR", "XDG_STATE_HOME", "DOCKER_CONTEXT",
	"MAIM_AGE_RECIPIENTS", "MAIM_AGE_IDENTITY"}

func baseEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		leak := false
		for _, l := range leakyEnv {
			leak = leak || k == l
		}
		if !leak {
			out = append(out, kv)
		}
	}
	return out
}

var backupDirs sync.Map // testing.TB -> string

// backupDir is the test's MAIM_BACKUP_DIR: the project's BackupDir once newProject ran,
// else a temp dir of its own.
func backupDir(t testing.TB) string {
	t.Helper()
	if d, ok := backupDirs.Load(t); ok {
		return d.(string)
	}
	d := filepath.Join(t.TempDir(), "backups")
	setBackupDir(t, d)
	return d
}

func setBackupDir(t testing.TB, dir string) {
	if _, loaded := backupDirs.Swap(t, dir); !loaded {
		t.Cleanup(func() { backupDirs.Delete(t) })
	}
}

var stateDirs sync.Map // testing.TB -> string

// stateDir is the test's MAIM_STATE_DIR (locks, journals, histories): a temp dir of its
// own, shared by every maim call of the test whatever backup dir it uses, and never the
// real home's.
func stateDir(t testing.TB) string {
	t.Helper()
	if d, ok := stateDirs.Load(t); ok {
		return d.(string)
	}
	d := filepath.Join(t.TempDir(), "state")
	if _, loaded := stateDirs.LoadOrStore(t, d); !loaded {
		t.Cleanup(func() { stateDirs.Delete(t) })
	}
	return d
}

// maimEnvOf is the environment of a maim call of the test: MAIM_BACKUP_DIR and
// MAIM_STATE_DIR (later entries of env win).
func maimEnvOf(t testing.TB, backups string, env []string) []string {
	return append(append(baseEnv(), "MAIM_BACKUP_DIR="+backups, "MAIM_STATE_DIR="+stateDir(t)), env...)
}

var engineKeyOnce = sync.OnceValues(func() (string, error) {
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return "", err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", err
	}
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	return backup.EngineKey(info.Info.ID, host), nil
})

// projectStateDir is where the plugin keeps the project's lock, journal and history:
// <MAIM_STATE_DIR>/<engine key>/<project>.
func projectStateDir(t testing.TB, project string) string {
	t.Helper()
	key, err := engineKeyOnce()
	if err != nil {
		t.Fatalf("engine ID: %v", err)
	}
	return filepath.Join(stateDir(t), key, project)
}

// docker runs the docker CLI in dir with the test's environment plus env (later entries win).
func docker(t testing.TB, dir string, env []string, args ...string) Result {
	t.Helper()
	return dockerIn(t, dir, env, "", args...)
}

// dockerIn is docker with stdin ("": none).
func dockerIn(t testing.TB, dir string, env []string, stdin string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Dir = dir
	cmd.Env = maimEnvOf(t, backupDir(t), env)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return result(t, args, stdout.String(), stderr.String(), err)
}

// result is what a finished docker command did: its exit code from err (a command that did
// not run or did not exit fails the test).
func result(t testing.TB, args []string, stdout, stderr string, err error) Result {
	t.Helper()
	r := Result{Args: args, Stdout: stdout, Stderr: stderr}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.Code = ee.ExitCode()
	default:
		t.Fatalf("docker %s: %v (%s)", strings.Join(args, " "), err, r.Stderr)
	}
	t.Logf("docker %s -> %d", strings.Join(args, " "), r.Code)
	return r
}

// maim runs `docker maim args...` in dir.
func maim(t testing.TB, dir string, args ...string) Result {
	t.Helper()
	return docker(t, dir, nil, append([]string{"maim"}, args...)...)
}

// maimEnv is maim with extra environment entries.
func maimEnv(t testing.TB, dir string, env []string, args ...string) Result {
	t.Helper()
	return docker(t, dir, env, append([]string{"maim"}, args...)...)
}

// mustOK fails the test unless r exited 0.
func mustOK(t testing.TB, r Result) Result {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("want exit 0: %s", r)
	}
	return r
}

// wantFail checks that r exited with code and that stderr ends in one clear error line
// naming every string of want.
func wantFail(t testing.TB, r Result, code int, want ...string) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("want exit %d: %s", code, r)
	}
	line := lastLine(r.Stderr)
	if !strings.HasPrefix(line, "docker maim: ") {
		t.Errorf("the last stderr line is not a docker maim error: %q\n%s", line, r)
	}
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("error line %q does not say %q", line, w)
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// requireEngine returns an engine client; it skips without an engine unless CI is set.
func requireEngine(t testing.TB) *client.Client {
	t.Helper()
	return testrig.Require(t)
}

// project is a testrig project whose BackupDir is the test's MAIM_BACKUP_DIR.
type project struct {
	*testrig.Proj
	t *testing.T
}

// newProject makes a uniquely named compose project (see testrig.Project) and makes its
// BackupDir the MAIM_BACKUP_DIR of every maim call of the test.
func newProject(t *testing.T, name, composeYAML string) *project {
	t.Helper()
	p := &project{Proj: testrig.Project(t, name, composeYAML), t: t}
	setBackupDir(t, p.BackupDir)
	return p
}

// maim runs `docker maim args...` in the project's directory with COMPOSE_PROJECT_NAME
// set to the project's name (the directory's own name is not the project's).
func (p *project) maim(args ...string) Result {
	p.t.Helper()
	return maimEnv(p.t, p.Dir, []string{"COMPOSE_PROJECT_NAME=" + p.Name}, args...)
}

// maimIn is maim with stdin.
func (p *project) maimIn(stdin string, args ...string) Result {
	p.t.Helper()
	return dockerIn(p.t, p.Dir, []string{"COMPOSE_PROJECT_NAME=" + p.Name}, stdin, append([]string{"maim"}, args...)...)
}

// compose runs `docker compose` (with the project's -p, --project-directory and -f) and
// fails the test when it fails.
func compose(t testing.TB, p *project, args ...string) string {
	t.Helper()
	return testrig.Compose(t, p.Proj, args...)
}

var backupLine = regexp.MustCompile(`(?m)^backup (\d{8}T\d{6}Z(?:-\d+)?) of project (\S+):`)

// backup runs `docker maim backup args...` in the project dir, requires success and
// returns the new backup's ID.
func (p *project) backup(args ...string) string {
	p.t.Helper()
	r := mustOK(p.t, p.maim(append([]string{"backup"}, args...)...))
	return backupID(p.t, r)
}

func backupID(t testing.TB, r Result) string {
	t.Helper()
	m := backupLine.FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("no backup ID in the output: %s", r)
	}
	return m[1]
}

// manifest mirrors manifest.json as documented (field names are part of the format).
type manifest struct {
	FormatVersion int       `json:"format_version"`
	ID            string    `json:"id"`
	Project       string    `json:"project"`
	CreatedAt     time.Time `json:"created_at"`
	ToolVersion   string    `json:"tool_version"`
	EngineVersion string    `json:"engine_version"`
	Reason        string    `json:"reason"`
	Compression   string    `json:"compression"`
	WorkingDir    string    `json:"working_dir"`
	ComposeFiles  []string  `json:"compose_files"`
	EnvFiles      []string  `json:"env_files"`
	Stopped       bool      `json:"stopped"`
	Running       []string  `json:"running"`
	OneOffs       []string  `json:"one_offs"`
	Sources       []source  `json:"sources"`
	Services      []service `json:"services"`
}

type source struct {
	Name       string            `json:"name"`
	Kind       string            `json:"kind"`
	VolumeKey  string            `json:"volume_key"`
	VolumeName string            `json:"volume_name"`
	HostPath   string            `json:"host_path"`
	Mounts     []mountRef        `json:"mounts"`
	Driver     string            `json:"driver"`
	DriverOpts map[string]string `json:"driver_opts"`
	Labels     map[string]string `json:"labels"`
	Archive    string            `json:"archive"`
	SHA256     string            `json:"sha256"`
	Size       int64             `json:"archive_size"`
	Bytes      int64             `json:"bytes"`
	Files      int64             `json:"files"`
	Entries    int64             `json:"entries"`
	Delta      *delta            `json:"delta"`
	OnePass    string            `json:"one_pass"`
	// Base makes the source incremental: Archive is a delta over the source as backup
	// Base.ID holds it. Ref says the entry and its archives are backup Ref's.
	Base *base  `json:"base"`
	Ref  string `json:"ref"`
}

// base is what an incremental source builds on.
type base struct {
	ID      string `json:"id"`
	Archive string `json:"archive"`
}

// holder is the backup whose directory holds s's archives (Ref, or id itself).
func (s source) holder(id string) string {
	if s.Ref != "" {
		return s.Ref
	}
	return id
}

// delta is a two-pass source's second archive (what changed since the hot copy began).
type delta struct {
	Archive string `json:"archive"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"archive_size"`
	Bytes   int64  `json:"bytes"`
	Files   int64  `json:"files"`
	Entries int64  `json:"entries"`
	Deleted int64  `json:"deleted"`
}

type mountRef struct {
	Service  string `json:"service"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only"`
}

type service struct {
	Name        string   `json:"name"`
	Image       string   `json:"image"`
	ImageID     string   `json:"image_id"`
	RepoDigests []string `json:"repo_digests"`
	ConfigHash  string   `json:"config_hash"`
}

func (m *manifest) source(t testing.TB, name string) source {
	t.Helper()
	for _, s := range m.Sources {
		if s.Name == name {
			return s
		}
	}
	var names []string
	for _, s := range m.Sources {
		names = append(names, s.Name)
	}
	t.Fatalf("backup %s has no source %q (has %q)", m.ID, name, names)
	return source{}
}

func (m *manifest) has(name string) bool {
	for _, s := range m.Sources {
		if s.Name == name {
			return true
		}
	}
	return false
}

// backupPath is <backup-dir>/<project>/<id>.
func (p *project) backupPath(id string) string { return filepath.Join(p.BackupDir, p.Name, id) }

// manifest reads the manifest of backup id.
func (p *project) manifest(id string) *manifest {
	p.t.Helper()
	return readManifest(p.t, p.backupPath(id))
}

func readManifest(t testing.TB, dir string) *manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("manifest.json: %v\n%s", err, b)
	}
	return &m
}

// listRow is one object of `docker maim backups --format json`.
type listRow struct {
	ID      string   `json:"id"`
	Status  string   `json:"status"`
	Reason  string   `json:"reason"`
	Problem string   `json:"problem"`
	Sources []string `json:"sources"`
}

func (p *project) backups(args ...string) []listRow {
	p.t.Helper()
	r := mustOK(p.t, p.maim(append([]string{"backups", "--format", "json"}, args...)...))
	return parseRows(p.t, r)
}

func parseRows(t testing.TB, r Result) []listRow {
	t.Helper()
	var doc struct {
		Backups []listRow `json:"backups"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
		t.Fatalf("backups --format json: %v\n%s", err, r)
	}
	return doc.Backups
}

func rowByID(rows []listRow, id string) (listRow, bool) {
	for _, r := range rows {
		if r.ID == id {
			return r, true
		}
	}
	return listRow{}, false
}

// containers returns the project's containers by service.
func (p *project) containers() map[string]container.InspectResponse {
	p.t.Helper()
	ctx := context.Background()
	res, err := p.Client.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", testrig.ProjectLabel+"="+p.Name)})
	if err != nil {
		p.t.Fatal(err)
	}
	out := map[string]container.InspectResponse{}
	for _, c := range res.Items {
		in, err := p.Client.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			p.t.Fatal(err)
		}
		out[c.Labels["com.docker.compose.service"]] = in.Container
	}
	return out
}

// volumeDir is where the engine keeps a volume's data; the tests read and damage it
// directly (they run on the engine host, as root).
func (p *project) volumeDir(name string) string {
	p.t.Helper()
	v, err := p.Client.VolumeInspect(context.Background(), name, client.VolumeInspectOptions{})
	if err != nil {
		p.t.Fatalf("volume %s: %v", name, err)
	}
	dir := v.Volume.Mountpoint
	if _, err := os.Stat(dir); err != nil {
		p.t.Fatalf("volume %s: its data dir is not readable from the test (%v): the e2e tests run on the engine host as root", name, err)
	}
	return dir
}

// anonVolume returns the name of the anonymous volume mounted at target in service's container.
func (p *project) anonVolume(svc, target string) string {
	p.t.Helper()
	c, ok := p.containers()[svc]
	if !ok {
		p.t.Fatalf("no container for service %s", svc)
	}
	for _, m := range c.Mounts {
		if m.Destination == target && m.Type == "volume" {
			return m.Name
		}
	}
	p.t.Fatalf("service %s has no volume at %s", svc, target)
	return ""
}

// writeTree writes files (rel path -> content) under dir with mode 0644, creating dirs.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
