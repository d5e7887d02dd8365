// Command docker-maim is the entry point of the docker-maim CLI plugin.
// Everything it does lives in internal/plugin.
package main

import (
	"os"

	"github.com/docker-maim/docker-maim/internal/plugin"
)

func main() {
	os.Exit(plugin.Main())
}
