package e2e

import (
	"sort"
	"strings"
)

// wantUpChangesNothing runs a plain `docker compose up -d` (the user's next command after
// any docker-maim command) and fails the test when compose recreated, created or removed
// a container: the compose file must name what runs. It compares what the engine reports
// (container IDs per service and each container's creation time), not compose's wording.
func (p *project) wantUpChangesNothing(args ...string) {
	p.t.Helper()
	before := p.containerIDs()
	out := compose(p.t, p, append([]string{"up", "-d"}, args...)...)
	after := p.containerIDs()
	if strings.Join(before, ",") != strings.Join(after, ",") {
		p.t.Fatalf("docker compose up -d changed the project: the compose file does not name what runs\nbefore: %v\nafter:  %v\ncompose said:\n%s", before, after, out)
	}
}

// containerIDs lists "service=ID@created" for every container of the project, sorted.
func (p *project) containerIDs() []string {
	p.t.Helper()
	var out []string
	for svc, c := range p.containers() {
		out = append(out, svc+"="+c.ID[:12]+"@"+c.Created)
	}
	sort.Strings(out)
	return out
}
