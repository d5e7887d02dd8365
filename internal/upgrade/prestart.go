package upgrade

import (
	"fmt"
	"sort"
	"strings"

	"github.com/docker-maim/docker-maim/internal/project"
)

// pre_start hooks (compose v5.3+, service key pre_start): the plan lists them; the
// rollback removes their containers (internal/stack, hooks.go).

// preStartHooks lists the pre_start hooks of p's services, by service, for the plan:
// "web: pre_start[0] migrate --check".
func preStartHooks(p *project.Project) []string {
	var out []string
	for _, name := range p.ServiceNames() {
		for i, h := range p.Services[name].PreStart {
			cmd := strings.Join(h.Command, " ")
			if cmd == "" {
				cmd = "(the image's command)"
			}
			out = append(out, fmt.Sprintf("%s: pre_start[%d] %s", name, i, cmd))
		}
	}
	sort.Strings(out)
	return out
}
