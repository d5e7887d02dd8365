package retention

import (
	"sort"
	"strings"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
)

// keepBases keeps every backup of the groups (those about to be removed) that a backup
// staying needs (Manifest.Needs: its incremental sources' bases, the backups its unchanged
// sources refer to), and what those need in turn: prune never cuts a chain. Staying are
// the backups kept so far and those of the groups removeOld will keep (younger than
// OlderThan). A needed backup leaves its group and is kept as KeptBase, naming who needs it.
func (pr *pruner) keepBases(now time.Time, groups ...*[]backup.Entry) {
	going := map[string]*backup.Entry{}
	for _, g := range groups {
		for i := range *g {
			e := &(*g)[i]
			if pr.opts.OlderThan > 0 && now.Sub(createdAt(*e)) < pr.opts.OlderThan {
				continue // removeOld keeps it: it stays, with what it needs
			}
			going[e.ID] = e
		}
	}
	byID := map[string]backup.Entry{}
	for _, e := range pr.all {
		byID[e.ID] = e
	}
	var queue []string
	for _, e := range pr.all {
		if _, ok := going[e.ID]; !ok && e.Manifest != nil && e.Status == backup.StatusComplete {
			queue = append(queue, e.ID)
		}
	}
	neededBy := map[string][]string{}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		e, ok := byID[id]
		if !ok || e.Manifest == nil {
			continue
		}
		for _, need := range e.Manifest.Needs() {
			if _, ok := going[need]; !ok {
				continue
			}
			if len(neededBy[need]) == 0 {
				queue = append(queue, need)
			}
			neededBy[need] = append(neededBy[need], id)
		}
	}
	if len(neededBy) == 0 {
		return
	}
	for _, g := range groups {
		kept := (*g)[:0]
		for _, e := range *g {
			if by := neededBy[e.ID]; len(by) > 0 {
				sort.Strings(by)
				pr.keep(e, maim.Kept{Rule: KeptBase, Why: "backup " + strings.Join(by, ", ") + " builds on it (incremental): removing it would break the chain"})
				continue
			}
			kept = append(kept, e)
		}
		*g = kept
	}
}
