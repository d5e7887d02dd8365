package svchooks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// offen's grouping of its commands: a backup container of offen/docker-volume-backup with
// EXEC_LABEL in its environment runs the archive-pre and archive-post commands only of the
// containers whose docker-volume-backup.exec-label label has that value; without
// EXEC_LABEL it runs every labelled container's. docker-maim reads EXEC_LABEL from the
// project's own offen service(s), so a compose file that says which commands its backups
// run keeps saying it: the other services' offen commands are listed as not run.

// LabelExecLabel is offen's label naming a service's command group.
const LabelExecLabel = "docker-volume-backup.exec-label"

// offenImage is the repository of offen's backup image (Docker Hub or ghcr.io).
const offenImage = "offen/docker-volume-backup"

// execScope is the EXEC_LABEL values of the project's offen services and the services
// that set them, scoped false when no offen service is in the project or one of them has
// no EXEC_LABEL (it runs every group's commands, as offen does).
type execScope struct {
	scoped bool
	values map[string][]string // EXEC_LABEL -> the offen services that set it
}

// offenScope reads the project's offen services.
func offenScope(p *types.Project) execScope {
	sc := execScope{values: map[string][]string{}}
	for name, s := range p.Services {
		if !isOffenImage(s.Image) {
			continue
		}
		v := ""
		if e, ok := s.Environment["EXEC_LABEL"]; ok && e != nil {
			v = strings.TrimSpace(*e)
		}
		if v == "" {
			return execScope{} // this one runs every container's commands
		}
		sc.values[v] = append(sc.values[v], name)
		sc.scoped = true
	}
	for _, names := range sc.values {
		sort.Strings(names)
	}
	return sc
}

// isOffenImage tells whether ref names offen's backup image, at any registry, tag or digest.
func isOffenImage(ref string) bool {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref == offenImage || strings.HasSuffix(ref, "/"+offenImage)
}

// applyExecScope drops the offen commands (archive-pre, archive-post) of services whose
// exec-label is not one of sc's EXEC_LABEL values, and says so in h.Ignored. The same
// commands declared by x-maim keys are docker-maim's own and always run.
func applyExecScope(h *Hooks, p *types.Project, sc execScope) {
	if !sc.scoped {
		return
	}
	kept := h.Commands[:0]
	for _, c := range h.Commands {
		if c.From != LabelArchivePre && c.From != LabelArchivePost {
			kept = append(kept, c)
			continue
		}
		group := strings.TrimSpace(p.Services[c.Service].Labels[LabelExecLabel])
		if _, ok := sc.values[group]; ok {
			kept = append(kept, c)
			continue
		}
		h.Ignored = append(h.Ignored, fmt.Sprintf("%s: label %s is not run: its %s %s is not the EXEC_LABEL of %s", c.Service, quoteShort(c.From), LabelExecLabel, quoteShort(group), sc.describe()))
	}
	h.Commands = kept
	sort.Strings(h.Ignored)
}

// describe names the EXEC_LABEL values and their offen services, for a message.
func (sc execScope) describe() string {
	vals := make([]string, 0, len(sc.values))
	for v := range sc.values {
		vals = append(vals, v)
	}
	sort.Strings(vals)
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = fmt.Sprintf("%s (service %s)", quoteShort(v), strings.Join(sc.values[v], ", "))
	}
	return strings.Join(parts, " or ")
}
