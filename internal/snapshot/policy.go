package snapshot

import (
	"fmt"
	"sort"
	"strings"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
)

// NotProtected is how a source an upgrade leaves out by its policy is described.
const NotProtected = "not protected: backup policy never (an upgrade neither backs it up nor rolls it back)"

// LeaveOut splits the sources a backup takes from those it leaves out on purpose: with
// skipNever (an upgrade's backup) those whose policy is never, and those exclude names
// (--exclude-source), each of which must name one of srcs.
func LeaveOut(srcs []project.Source, skipNever bool, exclude []string) (keep []project.Source, out []backup.LeftOut, err error) {
	ex := map[string]bool{}
	for _, n := range exclude {
		ex[n] = true
	}
	var names []string
	for _, s := range srcs {
		names = append(names, s.Name)
		switch {
		case ex[s.Name]:
			delete(ex, s.Name)
			out = append(out, backup.LeftOut{Source: s, Why: "left out by --exclude-source"})
		case skipNever && s.Policy == api.PolicyNever:
			out = append(out, backup.LeftOut{Source: s, Why: NotProtected})
		default:
			keep = append(keep, s)
		}
	}
	if len(ex) > 0 {
		var unknown []string
		for n := range ex {
			unknown = append(unknown, n)
		}
		sort.Strings(unknown)
		sort.Strings(names)
		return nil, nil, fmt.Errorf("--exclude-source %s: no such data source (the project has: %s)", strings.Join(unknown, ", "), strings.Join(names, ", "))
	}
	return keep, out, nil
}

// leftOutSkipped says, for each source the backup left out on purpose (and names asks
// for, when not empty), that a restore of it leaves that source as it is; each is also an
// event, so a rollback's progress says so.
func leftOutSkipped(m *backup.Manifest, names []string, event func(string)) []string {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []string
	for _, l := range m.LeftOut {
		if len(names) > 0 && !want[l.Name] {
			continue
		}
		msg := LeftAlone(l)
		event(msg)
		out = append(out, msg)
	}
	return out
}

// LeftAlone is what a restore or rollback says of a source its backup left out on purpose.
func LeftAlone(l backup.LeftOut) string {
	return l.Name + ": not in this backup (" + l.Why + "): left as it is"
}
