package upgrade

import (
	"context"
	"fmt"
	"strings"
)

// adoptPhase puts a release's new compose files in place (--compose-file; journal:
// adopting): it keeps the release's files as given in the backup (the base of the next
// adoption), writes the merged files over the project's, and creates the bind sources the
// new files need. The old files are in the backup (project files are backed up with the
// data): undone by the failure path's restore from it, which puts them back byte for byte.
var adoptPhase = phase[*txn]{
	Name:    "adopt",
	Journal: PhaseAdopting,
	Skip: func(t *txn) string {
		if t.plan.Adoption == nil {
			return "no --compose-file"
		}
		return ""
	},
	Describe: func(t *txn) string {
		ad := t.plan.adoption
		var files []string
		for _, af := range ad.Files {
			how := af.Report.Mode
			if af.Base != "" {
				how += " on " + af.Base
			}
			files = append(files, fmt.Sprintf("%s (%s, %s)", t.p.RelPath(af.File), af.From, how))
		}
		s := "write the merged compose file(s) in place: " + strings.Join(files, ", ")
		if n := len(ad.CreateSources); n > 0 {
			var c []string
			for _, b := range ad.CreateSources {
				c = append(c, t.p.RelPath(b.Path)+" ("+b.Kind+")")
			}
			s += "; create bind source(s) " + strings.Join(c, ", ")
		}
		if len(ad.NotMounted) > 0 {
			s += "; " + strings.Join(ad.NotMounted, ", ") + ": kept in the backup and on the host, not mounted by the new version"
		}
		return s
	},
	Run: func(_ context.Context, t *txn) error {
		ad := t.plan.adoption
		for i, af := range ad.Files {
			if err := t.m.Store.AddFile(t.p.Name, t.man.ID, upstreamName(i), af.Upstream); err != nil {
				return fmt.Errorf("keeping the release's compose file in the backup: %w", err)
			}
		}
		save := func(ar *AdoptRenames) error {
			t.Journal.Adopt = ar
			return t.journals.Save(t.Journal)
		}
		if err := t.m.writeMerged(ad, save); err != nil {
			return fmt.Errorf("adopting the new compose file: %w", err)
		}
		return nil
	},
}
