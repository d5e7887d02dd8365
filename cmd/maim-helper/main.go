// Command maim-helper is the program inside docker-maim's helper container: a small static
// linux executable (CGO_ENABLED=0, linux/amd64 and linux/arm64) that scripts/build-helpers.sh
// builds into internal/volume/helperbin, where every docker-maim build embeds it. Everything
// it does lives in internal/helper.
package main

import (
	"os"

	"github.com/docker-maim/docker-maim/internal/helper"
)

func main() {
	os.Exit(helper.Main(os.Args[1:]))
}
