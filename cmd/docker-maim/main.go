// Command docker-maim is the entry point of the docker-maim CLI plugin: it wires the
// commands (internal/plugin) to the implementation of every verb (internal/app).
package main

import (
	"os"

	"github.com/docker-maim/docker-maim/internal/app"
	"github.com/docker-maim/docker-maim/internal/plugin"
)

func main() {
	os.Exit(plugin.Main(app.New))
}
