package plantext

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/docker-maim/docker-maim/internal/api"
)

// TestPlanShowsPolicies: each data source's line says its backup policy; a source whose
// policy is never says it is not protected instead of a size; a project file has none.
func TestPlanShowsPolicies(t *testing.T) {
	var b bytes.Buffer
	Plan(&b, &api.Plan{Project: "lib", Sources: []api.SourceSize{
		{Name: "db", Kind: "volume", Bytes: 2048, Policy: api.PolicyAlways},
		{Name: "library", Kind: "volume", Bytes: -1, Policy: api.PolicyNever, NotBackedUp: "not protected: backup policy never"},
		{Name: "thumbs", Kind: "bind-dir", Bytes: 4096, Policy: api.PolicyChanged},
		{Name: "file:compose.yaml", Kind: "project-file", Bytes: 300},
	}}, "")
	out := b.String()
	for _, want := range []string{
		`(?m)^  db\s+volume\s+backup: always\s+2.048kB$`,
		`(?m)^  library\s+volume\s+backup: never\s+not protected: backup policy never$`,
		`(?m)^  thumbs\s+bind-dir\s+backup: changed\s+4.096kB$`,
		`(?m)^  file:compose.yaml\s+project-file\s+-\s+300B$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("the plan does not match %s:\n%s", want, out)
		}
	}
}
