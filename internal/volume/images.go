package volume

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

const (
	helperRepo     = "docker-maim-helper"
	emptyImageRef  = "docker-maim-empty:1"
	helperExecPath = "/maim-helper"
)

// elfMachine maps GOARCH to the ELF machine a linux binary for it carries.
var elfMachine = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"386":     elf.EM_386,
	"arm":     elf.EM_ARM,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
	"riscv64": elf.EM_RISCV,
}

// checkStaticLinux reports why the executable bin (named name in messages) cannot run alone
// in a FROM-scratch linux/arch container: not ELF, another machine, or dynamically linked.
func checkStaticLinux(bin []byte, name, arch string) error {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("%s is not a linux executable: %w", name, err)
	}
	defer f.Close()
	want, ok := elfMachine[arch]
	if !ok {
		return fmt.Errorf("engine architecture %q is not supported by the helper", arch)
	}
	if f.Machine != want {
		return fmt.Errorf("%s is built for %s, the engine runs linux/%s", name, f.Machine, arch)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (build it with CGO_ENABLED=0)", name)
		}
	}
	return nil
}

// helperImage returns the ID of the helper image, checked by content (checkHelperImage) and
// imported when missing or when its tag names another image. The result
// (success or the reason the helper cannot be used) is remembered for the Mover's lifetime,
// except for errors caused by ctx.
func (m *EngineMover) helperImage(ctx context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.helperKnown {
		return m.helperRef, m.helperErr
	}
	ref, err := m.ensureHelperImage(ctx)
	if err != nil && ctx.Err() != nil {
		return "", ctx.Err()
	}
	m.helperRef, m.helperErr, m.helperKnown = ref, err, true
	return ref, err
}

// ensureHelperImage picks the helper for the engine's architecture (the embedded one, or
// Options.HelperBinary), checks that the engine can run it before anything is imported,
// imports it as docker-maim-helper:<sha256 prefix> unless that tag names an image that is
// the helper by content, and returns the image's ID. It also sets m.helperDesc.
func (m *EngineMover) ensureHelperImage(ctx context.Context) (string, error) {
	v, err := m.cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "", fmt.Errorf("engine version: %w", err)
	}
	if v.Os != "linux" {
		return "", fmt.Errorf("the engine runs %s containers, the helper is a linux program", v.Os)
	}
	var (
		bin  []byte
		name string
	)
	if m.opts.HelperBinary != "" {
		name = m.opts.HelperBinary
		if bin, err = os.ReadFile(name); err != nil {
			return "", fmt.Errorf("reading helper binary: %w", err)
		}
	} else {
		arch := v.Arch
		if a := os.Getenv(EnvHelperArch); a != "" {
			arch = a
		}
		name = "the embedded helper for linux/" + arch
		if a := os.Getenv(EnvHelperArch); a != "" {
			name += " (" + EnvHelperArch + "=" + a + ")"
		}
		if bin, err = embeddedHelper(arch); err != nil {
			return "", err
		}
	}
	if err := checkStaticLinux(bin, name, v.Arch); err != nil {
		return "", err
	}
	sum := sha256.Sum256(bin)
	ref := helperRepo + ":" + hex.EncodeToString(sum[:])[:12]
	m.helperDesc = "helper container (linux/" + v.Arch + ")"
	var layer bytes.Buffer
	if err := writeHelperLayer(&layer, bin); err != nil {
		return "", err
	}
	ls := sha256.Sum256(layer.Bytes())
	diffID := "sha256:" + hex.EncodeToString(ls[:])
	if id, why, err := checkHelperImage(ctx, m.cli, ref, diffID); err != nil {
		return "", err
	} else if why == "" {
		return id, nil
	}
	// Missing, or an image that only claims the tag (any `docker build -t` or compose
	// build: can make one): the import moves the tag to ours; the other image is never run.
	changes := []string{
		`ENTRYPOINT ["` + helperExecPath + `"]`,
		`CMD []`,
		`LABEL ` + LabelHelper + `=` + LabelValueImage,
	}
	if err := importImage(ctx, m.cli, bytes.NewReader(layer.Bytes()), ref, changes); err != nil {
		return "", fmt.Errorf("importing helper image %s: %w", ref, err)
	}
	id, why, err := checkHelperImage(ctx, m.cli, ref, diffID)
	if err != nil {
		return "", err
	}
	if why != "" {
		return "", fmt.Errorf("the helper image %s just imported is not what was imported: %s", ref, why)
	}
	return id, nil
}

// checkHelperImage inspects the image ref names and returns its ID when it is the helper
// image by content: one layer whose diff ID is diffID (the digest of writeHelperLayer's
// tar of the helper, which the engine computes on import), the helper's entrypoint and no
// cmd, and LabelHelper. Otherwise it says why not ("" ID): the tag is only a name, which
// anyone who can build an image can give to an image that would run as root with every
// volume and the backup dir mounted. The helper is then run by that ID, not by the tag,
// so retagging after the check changes nothing.
func checkHelperImage(ctx context.Context, cli client.APIClient, ref, diffID string) (string, string, error) {
	img, err := cli.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return "", "missing", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("inspecting helper image %s: %w", ref, err)
	}
	switch c := img.Config; {
	case img.RootFS.Type != "layers" || len(img.RootFS.Layers) != 1 || img.RootFS.Layers[0] != diffID:
		return "", fmt.Sprintf("its layers %v are not the helper's %s", img.RootFS.Layers, diffID), nil
	case c == nil || !slices.Equal(c.Entrypoint, []string{helperExecPath}) || len(c.Cmd) != 0:
		return "", "its entrypoint or cmd is not the helper's", nil
	case c.Labels[LabelHelper] != LabelValueImage:
		return "", "it lacks the helper label", nil
	}
	return img.ID, "", nil
}

// layerTime is the modification time of every entry of the helper's layer: fixed, so that
// the layer of a given helper is the same bytes whenever it is made and its digest can be
// checked against an existing image.
var layerTime = time.Unix(0, 0).UTC()

// writeHelperLayer writes the helper image's only layer: the executable and the mount point.
func writeHelperLayer(w io.Writer, bin []byte) error {
	tw := tar.NewWriter(w)
	now := layerTime
	for _, h := range []*tar.Header{
		{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now},
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: now},
	} {
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: helperExecPath[1:], Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin)), ModTime: now}); err != nil {
		return err
	}
	if _, err := tw.Write(bin); err != nil {
		return err
	}
	return tw.Close()
}

// emptyImage returns the 0-byte image used by the archive-API path, importing it when missing.
// It is looked up on every call (one cheap list request): the image is shared by every
// docker-maim and may have been pruned meanwhile.
func (m *EngineMover) emptyImage(ctx context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ok, err := imageExists(ctx, m.cli, emptyImageRef)
	if err != nil {
		return "", err
	}
	if !ok {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if err := tw.Close(); err != nil {
			return "", err
		}
		changes := []string{
			`CMD ["/docker-maim-never-started"]`,
			`LABEL ` + LabelHelper + `=` + LabelValueImage,
		}
		if err := importImage(ctx, m.cli, &buf, emptyImageRef, changes); err != nil {
			return "", fmt.Errorf("importing empty image: %w", err)
		}
	}
	return emptyImageRef, nil
}

func importImage(ctx context.Context, cli client.APIClient, src io.Reader, ref string, changes []string) error {
	res, err := cli.ImageImport(ctx, client.ImageImportSource{Source: src, SourceName: "-"}, ref,
		client.ImageImportOptions{Changes: changes, Message: "docker-maim helper"})
	if err != nil {
		return err
	}
	defer res.Close()
	// The answer is a JSON message stream; an error inside it is not an HTTP error.
	dec := json.NewDecoder(res)
	for {
		var msg struct {
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		if msg.ErrorDetail != nil && msg.ErrorDetail.Message != "" {
			return errors.New(msg.ErrorDetail.Message)
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
	}
	ok, err := imageExists(ctx, cli, ref)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("image %s missing after import", ref)
	}
	return nil
}

func imageExists(ctx context.Context, cli client.APIClient, ref string) (bool, error) {
	res, err := cli.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("reference", ref)})
	if err != nil {
		return false, fmt.Errorf("listing images: %w", err)
	}
	for _, im := range res.Items {
		for _, tag := range im.RepoTags {
			if tag == ref || strings.TrimPrefix(tag, "docker.io/library/") == ref {
				return true, nil
			}
		}
	}
	return false, nil
}
