package volume

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// EnvRequireHelpers makes TestEmbeddedHelpers fail (not skip) when this build embeds no
// helpers: the Makefile sets it, so every make build is checked to carry both.
const envRequireHelpers = "MAIM_REQUIRE_HELPERS"

// TestEmbeddedHelpers: the embed holds a static linux helper of the right machine for every
// one of HelperArches. GOOS does not change the embed (the same files are embedded in the
// darwin and windows builds of `make cross`), so checking it here checks them all.
func TestEmbeddedHelpers(t *testing.T) {
	got := EmbeddedHelpers()
	if len(got) == 0 && os.Getenv(envRequireHelpers) == "" {
		t.Skip("no embedded helpers (run scripts/build-helpers.sh, or set " + envRequireHelpers + " to make this fatal)")
	}
	if len(got) != len(HelperArches) {
		t.Fatalf("embedded helpers %v, want one for each of %v", got, HelperArches)
	}
	for i, a := range HelperArches {
		b, err := embeddedHelper(a)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkStaticLinux(b, a, a); err != nil {
			t.Errorf("linux/%s: %v", a, err)
		}
		for _, other := range HelperArches {
			if other != a && checkStaticLinux(b, a, other) == nil {
				t.Errorf("the linux/%s helper passes as linux/%s", a, other)
			}
		}
		sum := sha256.Sum256(b)
		if h := got[i]; h.Platform != "linux/"+a || h.Size != int64(len(b)) || h.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("EmbeddedHelpers()[%d] = %+v", i, h)
		}
	}
}

// TestForeignHelperArchRefused: an embedded helper for another architecture (forced with
// EnvHelperArch) is refused before anything is imported, with the reason, and PathAuto
// falls back to the archive API.
func TestForeignHelperArchRefused(t *testing.T) {
	if len(EmbeddedHelpers()) != len(HelperArches) {
		t.Skip("no embedded helpers")
	}
	cli := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other := "arm64"
	if v.Arch == "arm64" {
		other = "amd64"
	}
	b, _ := embeddedHelper(other)
	sum := sha256.Sum256(b)
	foreignRef := helperRepo + ":" + hex.EncodeToString(sum[:])[:12]
	t.Setenv(EnvHelperArch, other)
	t.Setenv(EnvNoHostPath, "1")
	m := NewMoverWithOptions(cli, Options{})
	p, err := m.PathFor(ctx)
	if p != PathArchive || err == nil || !strings.Contains(err.Error(), "linux/"+other) || !strings.Contains(err.Error(), EnvHelperArch) {
		t.Fatalf("PathFor = %q, %v; want %q with the reason naming linux/%s and %s", p, err, PathArchive, other, EnvHelperArch)
	}
	if ok, _ := imageExists(ctx, cli, foreignRef); ok {
		t.Errorf("the foreign helper image %s was imported", foreignRef)
	}
	if d := m.describe(p, err); !strings.HasPrefix(d, "archive API: ") {
		t.Errorf("DataPath() = %q, want the archive API and why", d)
	}

	t.Setenv(EnvHelperArch, "")
	m = NewMoverWithOptions(cli, Options{})
	p, err = m.PathFor(ctx)
	if p != PathHelper || err != nil {
		t.Fatalf("embedded helper for the engine's arch: PathFor = %q, %v", p, err)
	}
	if d := m.describe(p, err); d != "helper container (linux/"+v.Arch+")" {
		t.Errorf("DataPath() = %q", d)
	}
}

// TestImpostorHelperImageReplaced: an image tagged as the helper that is not the helper by
// content (here the 0-byte image of the archive API, given the helper's tag) is never
// used: the helper is imported under the tag again and run by the ID checked.
func TestImpostorHelperImageReplaced(t *testing.T) {
	cli := engine(t)
	ctx := ctxT(t)
	m := newMover(t, PathHelper)
	real, err := m.helperImage(ctx)
	must(t, err)
	b, err := os.ReadFile(helperBinary(t))
	must(t, err)
	sum := sha256.Sum256(b)
	ref := helperRepo + ":" + hex.EncodeToString(sum[:])[:12]
	empty, err := m.emptyImage(ctx)
	must(t, err)
	_, err = cli.ImageTag(ctx, client.ImageTagOptions{Source: empty, Target: ref})
	must(t, err)
	imp, err := cli.ImageInspect(ctx, ref)
	must(t, err)
	t.Cleanup(func() {
		ctx := context.Background()
		if cur, err := cli.ImageInspect(ctx, ref); err == nil && cur.ID == imp.ID {
			_, _ = cli.ImageTag(ctx, client.ImageTagOptions{Source: real, Target: ref})
		} else if err == nil && cur.ID != real {
			// The helper imported again left the first import untagged.
			_, _ = cli.ImageRemove(ctx, real, client.ImageRemoveOptions{})
		}
	})

	m2 := newMover(t, PathHelper)
	got, err := m2.helperImage(ctx)
	must(t, err)
	if got == imp.ID {
		t.Fatalf("the helper image is the impostor %s", imp.ID)
	}
	// Imported again, it is the helper's layer again (a new ID: the import's time differs).
	gi, err := cli.ImageInspect(ctx, got)
	must(t, err)
	ri, err := cli.ImageInspect(ctx, real)
	must(t, err)
	if !slices.Equal(gi.RootFS.Layers, ri.RootFS.Layers) {
		t.Errorf("the helper image's layers are %v, want the helper's %v", gi.RootFS.Layers, ri.RootFS.Layers)
	}
	if cur, err := cli.ImageInspect(ctx, ref); err != nil || cur.ID != got {
		t.Errorf("%s names %s (%v), want the helper %s", ref, cur.ID, err, got)
	}
}
