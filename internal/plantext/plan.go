// Package plantext owns the text form of what a verb plans and wrote: an upgrade's plan
// (--dry-run, a refusal), a restore's or rollback's dry-run, and the one-line forms of the
// file edits. It renders api values only (it imports nothing of ours but api), so the face
// (internal/plugin) prints them and stays small.
package plantext

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
)

// The text form of an upgrade's plan (--dry-run, a refusal): the services and their
// images, the breaking changes, the config merges, the adoption of new compose files and
// the phases; and the one-line forms of the file edits an upgrade, restore or rollback
// wrote.

// Plan writes an upgrade's plan: services and images, breaking changes, merges, adoptions,
// databases, hooks and the phases; paths relative to dir.
func Plan(w io.Writer, p *api.Plan, dir string) {
	fmt.Fprintf(w, "Plan for project %s\n\nServices:\n", p.Project)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  SERVICE\tFROM\tTO\tCHANGE")
	for _, c := range p.Changes {
		change := "unchanged"
		if c.Changed() {
			change = ShortDigest(c.OldDigests, c.OldID) + " -> " + ShortDigest(c.NewDigests, c.NewID)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Service, OrDash(c.From()), c.To(), change)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nData sources (backed up before anything changes):")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range p.Sources {
		size := SourceSizeText(s)
		reset := ""
		for _, r := range p.ResetData {
			if r == s.Name {
				reset = "  (will be emptied: --reset-data)"
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s%s\n", s.Name, s.Kind, PolicyText(s.Policy), size, reset)
	}
	tw.Flush()
	fmt.Fprintln(w, "  "+EstimateLine(p))
	if len(p.Merges) > 0 {
		fmt.Fprintln(w, "\nConfig files to merge:")
		for _, mi := range p.Merges {
			fmt.Fprintf(w, "  %s  (template %s, %s)\n", mi.File, mi.Template, mi.Action)
			for _, line := range strings.Split(strings.TrimRight(mi.Report.Text(), "\n"), "\n") {
				fmt.Fprintln(w, "    "+line)
			}
			if mi.Diff != "" {
				for _, line := range strings.Split(strings.TrimRight(mi.Diff, "\n"), "\n") {
					fmt.Fprintln(w, "    "+line)
				}
			}
		}
	}
	printAdoption(w, p.Adoption, dir)
	if len(p.FileEdits) > 0 {
		fmt.Fprintln(w, "\nFile edits (written after the backup, so the files name the new images):")
		for _, e := range DescribeEdits(p.FileEdits, dir) {
			fmt.Fprintln(w, "  "+e)
		}
	}
	if len(p.Breaking) > 0 {
		fmt.Fprintln(w, "\nBreaking changes (refused without --accept-breaking):")
		for _, f := range p.Breaking {
			fmt.Fprintln(w, "  "+f.String())
		}
	}
	printDatabases(w, p.Databases)
	printServiceHooks(w, p.ServiceHooks, migrated(p.Databases))
	printPhases(w, p.Phases)
	if len(p.Notify) > 0 {
		fmt.Fprintf(w, "\nNotifications (how it ends): %s\n", strings.Join(p.Notify, ", "))
	}
	fmt.Fprintf(w, "\nExpected downtime: about %s\n\n", p.Downtime.Round(time.Second))
}

// printAdoption shows what --compose-file does: each merge (its rules and the diff), the
// services that appear and disappear, the binds that move, the sources left unmounted and
// the bind sources created.
func printAdoption(w io.Writer, ad *api.Adoption, dir string) {
	if ad == nil {
		return
	}
	fmt.Fprintln(w, "\nNew compose file (written after the backup; the old one stays in it):")
	for _, af := range ad.Files {
		base := "two-way: no base known (give --base OLD_UPSTREAM for a three-way merge); keys both files have keep your values, your own services are kept"
		if af.Base != "" {
			base = "three-way on " + af.Base
		}
		fmt.Fprintf(w, "  %s <- %s (%s)\n", RelTo(dir, af.File), af.From, base)
		for _, c := range af.Report.Changes {
			where := c.Path
			if c.Service != "" {
				where = c.Service + "." + c.Path
			}
			line := fmt.Sprintf("    %s: %s", c.Rule, where)
			if c.New != "" || c.Old != "" {
				line += fmt.Sprintf(" (%s -> %s)", OrDash(c.Old), OrDash(c.New))
			}
			if c.User != "" {
				line += " yours: " + c.User
			}
			if c.Conflict {
				line += "  CONFLICT: upstream's value kept"
			}
			fmt.Fprintln(w, line)
		}
		if af.Diff != "" {
			for _, line := range strings.Split(strings.TrimRight(af.Diff, "\n"), "\n") {
				fmt.Fprintln(w, "    "+line)
			}
		}
	}
	if len(ad.ServicesAdded) > 0 {
		fmt.Fprintf(w, "  services that appear: %s\n", strings.Join(ad.ServicesAdded, ", "))
	}
	if len(ad.ServicesRemoved) > 0 {
		fmt.Fprintf(w, "  services that disappear: %s (stopped, their containers removed; rollback brings them back)\n", strings.Join(ad.ServicesRemoved, ", "))
	}
	for _, b := range ad.BindsMoved {
		to := b.NewSource
		if b.Unmounted {
			to = "(not mounted)"
		}
		fmt.Fprintf(w, "  bind %s:%s: %s -> %s\n", b.Service, b.Target, b.OldSource, to)
	}
	for _, n := range ad.NotMounted {
		fmt.Fprintf(w, "  %s: kept in the upgrade's backup and on the host, not mounted by the new version\n", n)
	}
	for _, b := range ad.CreateSources {
		fmt.Fprintf(w, "  create %s as a %s (%s)\n", RelTo(dir, b.Path), b.Kind, b.Why)
	}
	if mb := ad.MaiBot; mb != nil {
		for _, line := range maibotLines(mb) {
			fmt.Fprintln(w, "  MaiBot: "+line)
		}
	}
}

// RelTo is path relative to dir when it lies below it, else path as it is.
func RelTo(dir, path string) string {
	if dir != "" {
		if r, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return path
}

// printDatabases shows one line per database service whose image changes: engine, the
// data's version and the new image's, data dir, decision; a refused one with its way
// forward, step by step.
func printDatabases(w io.Writer, dbs []api.Database) {
	if len(dbs) == 0 {
		return
	}
	fmt.Fprintln(w, "\nDatabases (the data directory's version against the new image's):")
	for _, db := range dbs {
		where := db.DataDir
		if db.Source != "" {
			where += " on " + db.Source
		}
		fmt.Fprintf(w, "  database %s: %s %s -> %s, %s: %s\n", db.Service, db.Engine, OrDash(db.DataVersion), OrDash(db.NewVersion), where, db.Decision)
		fmt.Fprintln(w, "    "+db.Reason)
		for i, r := range db.Recipe {
			fmt.Fprintf(w, "    %d. %s\n", i+1, r)
		}
		if m := db.Migration; m != nil {
			for i, st := range m.Steps {
				fmt.Fprintf(w, "    %d. %s\n", i+1, st)
			}
		}
	}
}

// printPhases lists the phases the upgrade runs, numbered, the skipped ones with why.
func printPhases(w io.Writer, phases []api.PlannedPhase) {
	if len(phases) == 0 {
		return
	}
	fmt.Fprintln(w, "\nPhases:")
	n := 0
	for _, ph := range phases {
		if ph.Skipped {
			fmt.Fprintf(w, "   -  %s: skipped (%s)\n", ph.Name, ph.Reason)
			continue
		}
		n++
		fmt.Fprintf(w, "  %2d. %s: %s\n", n, ph.Name, ph.Description)
	}
}

// ShortDigest names an image by its first repo digest's first 12 hex digits, else by its
// ID's ("id:..."), else "-".
func ShortDigest(digests []string, id string) string {
	if len(digests) > 0 {
		d := digests[0]
		if i := strings.Index(d, "@sha256:"); i >= 0 && len(d) > i+8+12 {
			return "sha256:" + d[i+8:i+8+12]
		}
		return d
	}
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	if id == "" {
		return "-"
	}
	return "id:" + id
}

// OrDash is s, or "-" when it is empty.
func OrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// DescribeEdits lists edits one per line, files relative to dir.
func DescribeEdits(edits []api.FileEdit, dir string) []string {
	out := make([]string, 0, len(edits))
	for _, e := range edits {
		out = append(out, e.Describe(dir))
	}
	return out
}

// maibotLines describe the MaiBot checks for the plan.
func maibotLines(mb *api.MaiBotMove) []string {
	var out []string
	if mb.FromEra != "" || mb.ToEra != "" {
		s := fmt.Sprintf("core service %s, %s -> %s", mb.Core, orUnknown(mb.FromEra), orUnknown(mb.ToEra))
		if mb.Confirmed {
			s += "; " + api.MaiBotLegacyUpgradeVar + "=1 is set"
		}
		out = append(out, s)
	}
	if mb.DBSchema >= 0 {
		s := fmt.Sprintf("database schema %d", mb.DBSchema)
		if mb.ToEra == api.MaiBotEra1x {
			s += " -> the new version migrates forward; rollback restores the data"
		}
		out = append(out, s)
	}
	names := make([]string, 0, len(mb.ConfigVersions))
	for n := range mb.ConfigVersions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, fmt.Sprintf("%s [inner].version %s (in the backup; rollback restores it)", n, mb.ConfigVersions[n]))
	}
	if mb.ReadyLog != "" {
		out = append(out, fmt.Sprintf("health gate of %s: its ready banner, read from its new image's catalog for its locale (%q in zh-CN; the compose file declares no healthcheck)", mb.Core, mb.ReadyLog))
	}
	if mb.NoTemplates {
		out = append(out, "1.x image: no template merge; the bot migrates its own config (the old file goes to config/old/)")
	}
	for _, v := range mb.LostAgreements {
		out = append(out, v+" was set in your file and is not in the merged one: add it, or the bot asks on stdin and restarts forever")
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "era unknown"
	}
	return s
}

// printServiceHooks lists the commands run inside the services' containers (service, when,
// user, timeout, where declared, the command quoted when it spans lines), the services
// archived only stopped, the logical dumps asked for and the lifecycle labels ignored.
func printServiceHooks(w io.Writer, h *api.ServiceHooks, migrated map[string]bool) {
	if h.Empty() {
		return
	}
	fmt.Fprintln(w, "\nService commands and lifecycle labels:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range h.Commands {
		user := c.User
		if user == "" {
			user = "(container's)"
		}
		cmd := c.Command
		if strings.ContainsAny(cmd, "\n\r\t") || len(cmd) > 120 {
			cmd = strconv.Quote(cmd)
			if len(cmd) > 120 {
				cmd = cmd[:117] + "..."
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\tuser %s\ttimeout %s\t%s\t%s\n", c.Service, c.When, user, c.Timeout, c.From, cmd)
	}
	tw.Flush()
	for _, s := range h.StopDuringBackup {
		fmt.Fprintf(w, "  %s: stop-during-backup: its data is archived only while it is stopped (no hot pass)\n", s)
	}
	for _, d := range h.Dumps {
		switch {
		case d.Supported && migrated[d.Service]:
			fmt.Fprintf(w, "  %s: logical %s dump (%s): the --migrate-db dump, taken once the other services stopped\n", d.Service, d.Kind, d.From)
		case d.Supported:
			fmt.Fprintf(w, "  %s: logical %s dump (%s): taken in its running container before anything stops\n", d.Service, d.Kind, d.From)
		default:
			fmt.Fprintf(w, "  %s: logical %s dump requested (%s): not taken by the upgrade (`docker maim backup` takes it); the file archive still protects the data\n", d.Service, d.Kind, d.From)
		}
	}
	for _, ig := range h.Ignored {
		fmt.Fprintln(w, "  "+ig)
	}
}

// migrated is the set of database services --migrate-db moves: their dump is taken after
// the other services stop (phase dump-db), not before anything stops.
func migrated(dbs []api.Database) map[string]bool {
	out := map[string]bool{}
	for _, db := range dbs {
		if db.Migration != nil {
			out[db.Service] = true
		}
	}
	return out
}

// PolicyText is a source's backup policy as the plan shows it: "backup: always" (never
// protects nothing, changed reuses the last backup when nothing changed); "-" for a
// source without one (a project file, a host path).
func PolicyText(p api.SourcePolicy) string {
	if p == "" {
		return "-"
	}
	return "backup: " + string(p)
}
