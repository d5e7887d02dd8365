package testrig

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// BotRepo is the registry repository of the shared stand-in bot images.
const BotRepo = "maim-standin-bot"

// BotVersions are the stand-in bot versions BotImages builds. 1.1.0 is a compatible minor
// release (template gains chat.max_context); 2.0.0 is a major one: it migrates data.json to
// schema 2, which 1.x refuses (exit 3), and its template adds bot.platform and [memory],
// drops chat.ban_words.
var BotVersions = []string{"1.0.0", "1.1.0", "2.0.0"}

// emptyAuth is base64("{}"): engines before API 1.4x reject a push without an auth header.
const emptyAuth = "e30="

var botState struct {
	mu   sync.Mutex
	done bool
	refs map[string]string
	err  error
}

// BotImages returns version -> reference of the stand-in bot images in the test registry
// (e.g. "127.0.0.1:5001/maim-standin-bot-<sources key>:1.0.0"). The first call in a test binary builds and
// pushes them unless a build of the same sources is already in the registry (marker file in
// os.TempDir(), checked against the registry's digest); an exclusive flock on
// os.TempDir()/maim-standin-bot.lock serialises test binaries. Local tags are removed after
// the push. These references are shared by every test: to prove a pull or to remove an
// image, use a project's private copies (Proj.Bot) instead.
func BotImages(t testing.TB) map[string]string {
	t.Helper()
	cli := Require(t)
	botState.mu.Lock()
	defer botState.mu.Unlock()
	if !botState.done {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		botState.refs, botState.err = ensureBotImages(ctx, t, cli)
		cancel()
		botState.done = true
	}
	if botState.err != nil {
		t.Fatalf("testrig: stand-in bot images: %v", botState.err)
	}
	out := make(map[string]string, len(botState.refs))
	for k, v := range botState.refs {
		out[k] = v
	}
	return out
}

// RepoRoot returns the module root of this checkout (from this source file's location).
func RepoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if ok {
		root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			return root, nil
		}
	}
	out, err := exec.Command(goBinary(), "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		return "", fmt.Errorf("cannot find the module root (go env GOMOD: %v)", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

func goBinary() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// srcKey hashes the bot's sources (everything in test/standin-bot but a built binary).
func srcKey(dir string, extra ...string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() || rel == "bot" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(b))
		h.Write(b)
		return nil
	})
	for _, e := range extra {
		fmt.Fprintf(h, "%s\x00", e)
	}
	return hex.EncodeToString(h.Sum(nil))[:20], err
}

func ensureBotImages(ctx context.Context, t testing.TB, cli *client.Client) (map[string]string, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	src := filepath.Join(root, "test", "standin-bot")
	sv, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return nil, err
	}
	arch := sv.Arch
	if arch == "" || arch == "x86_64" {
		arch = "amd64"
	}
	if arch == "aarch64" {
		arch = "arm64"
	}
	key, err := srcKey(src, Registry(), arch)
	if err != nil {
		return nil, err
	}
	unlock, err := lockFile(filepath.Join(os.TempDir(), "maim-standin-bot.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()

	// The repository carries the sources' key: checkouts with other bot sources (worktrees
	// sharing the engine and registry) never overwrite each other's images.
	repo := BotRepo + "-" + key[:12]
	refs := map[string]string{}
	for _, v := range BotVersions {
		refs[v] = Registry() + "/" + repo + ":" + v
	}
	marker := filepath.Join(os.TempDir(), "maim-standin-bot-"+key+".json")
	if b, err := os.ReadFile(marker); err == nil {
		var digests map[string]string
		if json.Unmarshal(b, &digests) == nil && registryHas(ctx, repo, digests) {
			return refs, nil
		}
	}

	t.Logf("testrig: building stand-in bot images %v (%s)", BotVersions, key)
	tmp, err := os.MkdirTemp("", "maim-standin-bot-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	digests := map[string]string{}
	for _, v := range BotVersions {
		bin := filepath.Join(tmp, "bot-"+v)
		cmd := exec.CommandContext(ctx, goBinary(), "build", "-trimpath",
			"-ldflags", "-s -w -X main.version="+v, "-o", bin, "./test/standin-bot")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build stand-in bot %s: %v\n%s", v, err, out)
		}
		tarball, err := buildContext(src, bin)
		if err != nil {
			return nil, err
		}
		ver := v
		res, err := cli.ImageBuild(ctx, bytes.NewReader(tarball), client.ImageBuildOptions{
			Tags:        []string{refs[v]},
			BuildArgs:   map[string]*string{"VERSION": &ver},
			Version:     build.BuilderV1,
			Remove:      true,
			ForceRemove: true,
		})
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", refs[v], err)
		}
		_, err = readJSONStream(res.Body)
		res.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", refs[v], err)
		}
		d, err := push(ctx, cli, refs[v])
		if err != nil {
			return nil, err
		}
		digests[v] = d
		if _, err := cli.ImageRemove(ctx, refs[v], client.ImageRemoveOptions{Force: true}); err != nil {
			return nil, fmt.Errorf("remove local tag %s: %w", refs[v], err)
		}
	}
	b, _ := json.Marshal(digests)
	if err := os.WriteFile(marker, b, 0o644); err != nil {
		return nil, err
	}
	return refs, nil
}

// buildContext makes the tar build context: the Dockerfile, templates and locales of src plus
// bin as "bot".
func buildContext(src, bin string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name, path string, mode int64) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	}
	if err := add("Dockerfile", filepath.Join(src, "Dockerfile"), 0o644); err != nil {
		return nil, err
	}
	if err := add("bot", bin, 0o755); err != nil {
		return nil, err
	}
	tmpls, _ := filepath.Glob(filepath.Join(src, "templates", "*.toml"))
	sort.Strings(tmpls)
	for _, p := range tmpls {
		if err := add("templates/"+filepath.Base(p), p, 0o644); err != nil {
			return nil, err
		}
	}
	// locales/<locale>/startup.json: the i18n catalogs the image carries, like MaiBot 1.x's.
	catalogs, _ := filepath.Glob(filepath.Join(src, "locales", "*", "*.json"))
	sort.Strings(catalogs)
	for _, p := range catalogs {
		rel, _ := filepath.Rel(src, p)
		if err := add(filepath.ToSlash(rel), p, 0o644); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readJSONStream drains a build/push/pull message stream; it returns the aux messages and the
// first error message as an error.
func readJSONStream(r io.Reader) ([]json.RawMessage, error) {
	dec := json.NewDecoder(r)
	var aux []json.RawMessage
	for {
		var m struct {
			jsonstream.Message
			ErrorText string `json:"error"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return aux, nil
			}
			return aux, err
		}
		if m.Error != nil {
			return aux, errors.New(m.Error.Message)
		}
		if m.ErrorText != "" {
			return aux, errors.New(m.ErrorText)
		}
		if m.Aux != nil {
			aux = append(aux, *m.Aux)
		}
	}
}

// push pushes ref and returns the manifest digest the registry reported.
func push(ctx context.Context, cli *client.Client, ref string) (string, error) {
	res, err := cli.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: emptyAuth})
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	defer res.Close()
	aux, err := readJSONStream(res)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	for _, a := range aux {
		var d struct{ Digest string }
		if json.Unmarshal(a, &d) == nil && d.Digest != "" {
			return d.Digest, nil
		}
	}
	return "", fmt.Errorf("push %s: no digest reported", ref)
}

const manifestAccept = "application/vnd.docker.distribution.manifest.v2+json, " +
	"application/vnd.oci.image.manifest.v1+json, " +
	"application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json"

// registryDigest returns the digest the test registry holds for repo:tag ("" if none).
func registryDigest(ctx context.Context, repo, tag string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead,
		"http://"+Registry()+"/v2/"+repo+"/manifests/"+tag, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", manifestAccept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return "", nil
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("registry HEAD %s:%s: %s", repo, tag, resp.Status)
	}
	return resp.Header.Get("Docker-Content-Digest"), nil
}

func registryHas(ctx context.Context, repo string, digests map[string]string) bool {
	for _, v := range BotVersions {
		d, err := registryDigest(ctx, repo, v)
		if err != nil || d == "" || d != digests[v] {
			return false
		}
	}
	return true
}

// registryDelete deletes repo's manifest by digest (the rig's registry enables deletes).
func registryDelete(ctx context.Context, repo, digest string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete,
		"http://"+Registry()+"/v2/"+repo+"/manifests/"+digest, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("registry DELETE %s@%s: %s", repo, digest, resp.Status)
	}
	return nil
}

// RemoveLocal removes the local tags refs (forcing the untag, so an image still used by a
// stopped container loses its name). Missing images are fine. Use it on references no other
// test shares (Proj.Bot), or a parallel test may find its image gone.
func RemoveLocal(t testing.TB, cli *client.Client, refs ...string) {
	t.Helper()
	ctx, cancel := cleanupContext()
	defer cancel()
	for _, r := range refs {
		if _, err := cli.ImageRemove(ctx, r, client.ImageRemoveOptions{Force: true}); err != nil && !isNotFound(err) {
			t.Fatalf("testrig: remove local image %s: %v", r, err)
		}
	}
}

// Derive returns "<registry>/<project>/bot:<tag>": an image built FROM the project's private
// copy of stand-in version v (Bot) with files added (build-context path -> content, each
// copied to "/"+path) and the Dockerfile lines after them (ENV ..., LABEL ...): a release
// that differs from v in a file or its configuration. Like Bot's, it is pushed to the
// registry and not present locally, and cleanup deletes it from both.
func (p *Proj) Derive(v, tag string, files map[string]string, lines ...string) string {
	p.t.Helper()
	base := p.Bot(v)
	ref := Registry() + "/" + p.Name + "/bot:" + tag
	var df strings.Builder
	fmt.Fprintf(&df, "FROM %s\n", base)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			p.t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			p.t.Fatal(err)
		}
	}
	for _, n := range names {
		add("files/"+n, []byte(files[n]))
		fmt.Fprintf(&df, "COPY files/%s /%s\n", n, n)
	}
	for _, l := range lines {
		df.WriteString(l + "\n")
	}
	add("Dockerfile", []byte(df.String()))
	if err := tw.Close(); err != nil {
		p.t.Fatal(err)
	}
	unlock, err := lockFile(filepath.Join(os.TempDir(), "maim-standin-bot-ops.lock"))
	if err != nil {
		p.t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := cleanupContext()
	defer cancel()
	res, err := p.Client.ImageBuild(ctx, &buf, client.ImageBuildOptions{
		Tags: []string{ref}, Version: build.BuilderV1, Remove: true, ForceRemove: true,
	})
	if err != nil {
		p.t.Fatalf("testrig: build %s: %v", ref, err)
	}
	_, err = readJSONStream(res.Body)
	res.Body.Close()
	if err != nil {
		p.t.Fatalf("testrig: build %s: %v", ref, err)
	}
	digest, err := push(ctx, p.Client, ref)
	if err != nil {
		p.t.Fatalf("testrig: %v", err)
	}
	p.mu.Lock()
	p.regs = append(p.regs, regManifest{p.Name + "/bot", digest})
	p.imgs = append(p.imgs, ref)
	p.mu.Unlock()
	if _, err := p.Client.ImageRemove(ctx, ref, client.ImageRemoveOptions{}); err != nil && !isNotFound(err) {
		p.t.Fatalf("testrig: remove local %s: %v", ref, err)
	}
	return ref
}
