package plantext

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/docker-maim/docker-maim/internal/api"
)

// The text form of restore and rollback --dry-run: what would be stopped, which backup
// would be written where, the safety backup that would be taken, the images put back and
// the phases; then that nothing was changed.

// RestorePlan is a restore's or rollback's plan: verb is "restore" or "rollback".
func RestorePlan(w io.Writer, verb, project, backupID, chosen, resolved string, p *api.RestorePlan, skipped, warnings []string) {
	switch {
	case resolved != "":
		fmt.Fprintf(w, "Plan for project %s: %s would resolve the interrupted %s", project, verb, resolved)
		if backupID != "" {
			fmt.Fprintf(w, " (backup %s)", backupID)
		}
		fmt.Fprintln(w)
	default:
		fmt.Fprintf(w, "Plan for project %s: %s from backup %s\n", project, verb, backupID)
	}
	if chosen != "" {
		fmt.Fprintf(w, "  chosen: %s\n", chosen)
	}
	fmt.Fprintln(w, "\nStopped first, started again after:")
	if len(p.Stop) == 0 {
		fmt.Fprintln(w, "  nothing runs")
	}
	for _, s := range p.Stop {
		fmt.Fprintln(w, "  "+s)
	}
	if p.SafetyBackup {
		fmt.Fprintf(w, "\nSafety backup: what is overwritten is backed up first (reason pre-%s)\n", verb)
	} else {
		fmt.Fprintln(w, "\nSafety backup: none")
	}
	if len(p.Write) > 0 || len(skipped) > 0 {
		fmt.Fprintln(w, "\nWritten from the backup:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, wr := range p.Write {
			fmt.Fprintf(tw, "  %s\t%s\t-> %s\n", wr.Source, wr.Kind, wr.Target)
		}
		tw.Flush()
		for _, s := range skipped {
			fmt.Fprintln(w, "  not restored: "+s)
		}
	}
	if len(p.Images) > 0 {
		fmt.Fprintln(w, "\nImages the services run again:")
		for _, c := range p.Images {
			fmt.Fprintf(w, "  %s: %s\n", c.Service, strings.TrimSpace(c.OldRef+" "+shortID(c.OldID)))
		}
	}
	printPhases(w, p.Phases)
	for _, warn := range warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
	fmt.Fprintln(w, "\ndry run: nothing was changed")
}

// shortID is an image ID's first 12 hex digits in parentheses ("" for none).
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if id == "" {
		return ""
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return "(" + id + ")"
}
