package upgrade

import (
	"sort"

	"github.com/docker-maim/docker-maim/internal/project"
)

// allServices are the project's services, sorted: what an upgrade's gate waits for.
func allServices(p *project.Project) []string {
	names := p.ServiceNames()
	sort.Strings(names)
	return names
}
