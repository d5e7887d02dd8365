package volume

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
)

// helperBin holds the helper program (cmd/maim-helper) for each of HelperArches, put there by
// scripts/build-helpers.sh before every make build; on a clean clone only its README is there
// and the helper path is unusable (the archive API is used and the reason reported).
//
//go:embed all:helperbin
var helperBin embed.FS

// HelperArches are the linux architectures every docker-maim build embeds a helper for.
var HelperArches = []string{"amd64", "arm64"}

// EnvHelperArch, when set, makes docker-maim pick the embedded helper of that architecture
// instead of the engine's (for tests: a helper the engine cannot run must be refused before
// it is used, and the next path taken).
const EnvHelperArch = "MAIM_HELPER_ARCH"

// EmbeddedHelper describes one helper embedded in this build.
type EmbeddedHelper struct {
	Platform string // "linux/amd64"
	Size     int64
	SHA256   string
}

func helperFile(arch string) string { return "helperbin/maim-helper-linux-" + arch }

// embeddedHelper returns the helper for linux/arch, or why there is none.
func embeddedHelper(arch string) ([]byte, error) {
	b, err := fs.ReadFile(helperBin, helperFile(arch))
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("this docker-maim has no embedded helper for linux/%s (built without scripts/build-helpers.sh; `make build` embeds them)", arch)
	}
	return b, nil
}

// EmbeddedHelpers lists the helpers this build embeds (none on a plain `go build` of a clean clone).
func EmbeddedHelpers() []EmbeddedHelper {
	var out []EmbeddedHelper
	for _, a := range HelperArches {
		b, err := embeddedHelper(a)
		if err != nil {
			continue
		}
		sum := sha256.Sum256(b)
		out = append(out, EmbeddedHelper{Platform: "linux/" + a, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])})
	}
	return out
}
