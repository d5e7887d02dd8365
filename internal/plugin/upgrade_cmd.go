package plugin

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/plantext"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
)

type upgradeOptions struct {
	Images         []string
	Force          bool
	DryRun         bool
	Format         *choiceFlag
	AcceptBreaking bool
	NoAutoRollback bool
	ResetData      []string
	MigrateDB      []string
	KeepUnknown    bool
	ShowSecrets    bool
	Compression    *choiceFlag
	Level          int
	HostPaths      []string
	ComposeFiles   []string
	Base           []string
	OnePass        bool
	Detach         bool
	health         healthFlags
	notify         notifyFlags
	sources        sourceFlags
	encrypt        encryptFlags
	identities     []string
}

type rollbackOptions struct {
	NoSafetyBackup bool
	DryRun         bool
	Format         *choiceFlag
	Detach         bool
	health         healthFlags
	notify         notifyFlags
	identities     []string
}

func newUpgradeCommand(s *state) *cobra.Command {
	o := &upgradeOptions{}
	cmd := &cobra.Command{
		Use:   "upgrade [OPTIONS]",
		Short: "Upgrade the project as a transaction: pull, back up, merge configs, recreate, health gate, or roll back",
		Long: `Pulls the images the compose file (or --image) names while everything still runs, refuses
breaking changes unless --accept-breaking, stops the services, backs up every data source and config
file, merges config files into the new version's templates, recreates the services on the new images
and waits for them to prove healthy. When anything fails after the stop, it rolls back: old images by
ID, data, config and compose files from the backup.`,
		Example: `  # Show the plan (images old -> new, data, config diffs, the phases) and change nothing
  docker maim upgrade --dry-run

  # Upgrade to the images the compose file names now
  docker maim upgrade

  # Upgrade the service bot to another image than the compose file names
  docker maim upgrade --image bot=registry.example.com/bot:2.0

  # Adopt a release's new compose file, carrying your edits by a three-way merge
  docker maim upgrade --compose-file compose.new.yaml --base compose.old.yaml

  # Go ahead with a breaking upgrade, emptying the volume cache once it is backed up
  docker maim upgrade --accept-breaking --reset-data cache

  # Move the PostgreSQL of service db to the new major its image runs (dump, fresh cluster, load)
  docker maim upgrade --migrate-db db

  # Upgrade in the background (it goes on when the terminal closes); follow it with attach
  docker maim upgrade --detach`,
		RunE: func(cmd *cobra.Command, args []string) error { return runUpgrade(cmd, s, o) },
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Images, "image", nil, "Upgrade SERVICE to image REF instead of what the compose file says (`SERVICE=REF`, repeatable)")
	f.BoolVar(&o.Force, "force", false, "Run the upgrade even when no image changed")
	f.BoolVar(&o.DryRun, "dry-run", false, "Print the plan and change nothing")
	o.Format = formatFlag(f, formatText)
	f.BoolVar(&o.AcceptBreaking, "accept-breaking", false, "Go ahead with an upgrade declared or detected as breaking")
	f.BoolVar(&o.NoAutoRollback, "no-auto-rollback", false, "On failure, leave the project as it is (roll back later with 'docker maim rollback')")
	f.StringArrayVar(&o.ResetData, "reset-data", nil, "Empty the data source `SOURCE` after it is in the backup (repeatable)")
	f.StringArrayVar(&o.MigrateDB, "migrate-db", nil, "Move the PostgreSQL of `SERVICE` to the new image's major version: dump the old server, initialise a fresh cluster, load, analyze; the rollback gives back the old data directory (repeatable)")
	f.BoolVar(&o.KeepUnknown, "keep-unknown", false, "Keep config keys the new template no longer has")
	f.BoolVar(&o.ShowSecrets, "show-secrets", false, "Show secret values (API keys, passwords, every .env value) in the plan's config diffs instead of redacting them")
	o.Compression = compressionFlag(f, "Backup")
	f.IntVar(&o.Level, "level", 0, "Backup compression `LEVEL` (0: the codec's default)")
	f.StringArrayVar(&o.HostPaths, "include-host-path", nil, "Back up the bind source `PATH` although it is a host path or a symlink leading outside the project (repeatable)")
	f.StringArrayVar(&o.ComposeFiles, "compose-file", nil, "Adopt the release's new compose `FILE` (\"-\": stdin): merged with the project's file it replaces (repeatable, positionally) and written in place after the backup")
	f.StringArrayVar(&o.Base, "base", nil, "The release's previous compose `FILE` (one per --compose-file): carry the user's edits by a three-way merge")
	f.BoolVar(&o.OnePass, "one-pass", false, "Back up everything after the stop (default: copy while the services run, then only the changes since, stopped)")
	o.sources.add(f, "(never: not in the upgrade's backup, not protected, left alone by a rollback)")
	o.health.add(f)
	o.notify.add(f)
	o.encrypt.add(f)
	identityFlag(f, &o.identities, "with --encrypt-local: a failed upgrade rolls back from its encrypted backup")
	detachFlag(f, &o.Detach)
	return cmd
}

// readNewFiles reads --compose-file or --base files ("-": stdin, at most once).
func readNewFiles(flag string, names []string, stdin io.Reader, stdinUsed *bool) ([]api.NewFile, error) {
	var out []api.NewFile
	for _, n := range names {
		var b []byte
		var err error
		if n == "-" {
			if *stdinUsed {
				return nil, usageError{fmt.Errorf("%s -: stdin can be read only once", flag)}
			}
			*stdinUsed = true
			b, err = io.ReadAll(stdin)
		} else {
			b, err = os.ReadFile(n)
		}
		if err != nil {
			return nil, usageError{fmt.Errorf("%s %s: %w", flag, n, err)}
		}
		out = append(out, api.NewFile{Name: n, Data: b})
	}
	return out, nil
}

func runUpgrade(cmd *cobra.Command, s *state, o *upgradeOptions) error {
	if err := o.Compression.compression().CheckLevel(o.Level); err != nil {
		return usageError{err}
	}
	images := map[string]string{}
	for _, kv := range o.Images {
		svc, ref, ok := strings.Cut(kv, "=")
		if !ok || svc == "" || ref == "" {
			return usageError{fmt.Errorf("--image %q: want SERVICE=REF", kv)}
		}
		images[svc] = ref
	}
	switch {
	case len(o.Base) > 0 && len(o.ComposeFiles) == 0:
		return usageError{errors.New("--base needs --compose-file (the release's new file)")}
	case len(o.Base) > 0 && len(o.Base) != len(o.ComposeFiles):
		return usageError{fmt.Errorf("%d --base for %d --compose-file: give one --base per --compose-file, in the same order", len(o.Base), len(o.ComposeFiles))}
	case len(o.ComposeFiles) > 0 && len(images) > 0:
		return usageError{errors.New("--compose-file and --image cannot be combined: put the image into the new compose file")}
	}
	if detaching(o.Detach) {
		return s.detach(cmd, o.Format.json(), o.ComposeFiles, o.Base)
	}
	var stdinUsed bool
	newFiles, err := readNewFiles("--compose-file", o.ComposeFiles, cmd.InOrStdin(), &stdinUsed)
	if err != nil {
		return err
	}
	baseFiles, err := readNewFiles("--base", o.Base, cmd.InOrStdin(), &stdinUsed)
	if err != nil {
		return err
	}
	policies, err := o.sources.parse()
	if err != nil {
		return err
	}
	res, err := s.svc(cmd).Upgrade(cmd.Context(), api.UpgradeOptions{
		Scope: s.g.scope(), Images: images, Force: o.Force, DryRun: o.DryRun, AcceptBreaking: o.AcceptBreaking,
		NoAutoRollback: o.NoAutoRollback, ResetData: o.ResetData, MigrateDB: o.MigrateDB, KeepUnknown: o.KeepUnknown, ShowSecrets: o.ShowSecrets,
		Health: o.health.options(), Compression: o.Compression.compression(), Level: o.Level, IncludeHostPaths: o.HostPaths, OnePass: o.OnePass,
		ComposeFiles: newFiles, Base: baseFiles, Notify: o.notify.options(), SourcePolicies: policies, Full: o.sources.full, MaxDeltas: o.sources.maxDeltas,
		Encrypt: o.encrypt.options(), Identities: o.identities,
	})
	out := cmd.OutOrStdout()
	if o.Format.json() {
		return printJSON(out, res, err)
	}
	if res != nil {
		printUpgrade(out, res, res.WorkingDir)
	}
	return err
}

func printUpgrade(w io.Writer, res *api.UpgradeResult, dir string) {
	p := res.Plan
	if p != nil {
		if res.Outcome == api.OutcomeDryRun || res.Outcome == api.OutcomeRefused {
			plantext.Plan(w, p, dir)
		}
		for _, warn := range p.Warnings {
			fmt.Fprintln(w, "warning:", warn)
		}
	}
	switch res.Outcome {
	case api.OutcomeNothingToDo:
		fmt.Fprintln(w, "nothing to upgrade: every service already runs its target image (--force to redo)")
	case api.OutcomeDryRun:
		fmt.Fprintln(w, "dry run: nothing was changed")
	case api.OutcomeUpgraded:
		for _, c := range p.Changes {
			if c.Changed() {
				fmt.Fprintf(w, "%s: %s -> %s\n", c.Service, c.From(), c.To())
			}
		}
		for _, e := range plantext.DescribeEdits(res.FileEdits, dir) {
			fmt.Fprintln(w, "edited "+e)
		}
		if ad := p.Adoption; ad != nil {
			for _, af := range ad.Files {
				fmt.Fprintf(w, "adopted %s into %s (%s merge)\n", af.From, plantext.RelTo(dir, af.File), af.Report.Mode)
			}
			if len(ad.ServicesRemoved) > 0 {
				fmt.Fprintf(w, "removed the containers of %s (not in the new compose file)\n", strings.Join(ad.ServicesRemoved, ", "))
			}
			for _, n := range ad.NotMounted {
				fmt.Fprintf(w, "%s: kept in backup %s, not mounted by the new version (left on the host)\n", n, res.BackupID)
			}
		}
		fmt.Fprintf(w, "upgraded project %s; backup %s; downtime %s\n", p.Project, res.BackupID, res.Downtime.Round(100*time.Millisecond))
		for _, src := range p.Sources {
			if src.NotBackedUp != "" {
				fmt.Fprintf(w, "%s: %s\n", src.Name, src.NotBackedUp)
			}
		}
		fmt.Fprintf(w, "to go back: docker maim -p %s rollback\n", p.Project)
	case api.OutcomeRolledBack:
		if rb := res.Rollback; rb != nil {
			printRollbackFiles(w, rb)
		}
		fmt.Fprintf(w, "upgrade failed and was rolled back to backup %s: the project runs as before\n", res.BackupID)
	case api.OutcomeRollbackFailed, api.OutcomeFailed:
		fmt.Fprintln(w, "upgrade failed and the project was NOT returned to its previous state. To recover:")
		for _, c := range res.Recovery {
			fmt.Fprintln(w, "  "+c)
		}
	}
	plantext.Remote(w, res.Remote)
}

// printRollbackFiles says which lines a rollback edited so the files name what runs.
func printRollbackFiles(w io.Writer, rb *api.RollbackReport) {
	for _, e := range plantext.DescribeEdits(rb.FileEdits, rb.WorkingDir) {
		fmt.Fprintln(w, "edited "+e+" (the files name what runs again)")
	}
	for _, warn := range rb.Warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
}

func newRollbackCommand(s *state) *cobra.Command {
	o := &rollbackOptions{}
	cmd := &cobra.Command{
		Use:   "rollback [OPTIONS] [ID]",
		Short: "Return the project to a backup: data, config and compose files, and the images it ran",
		Long: `Without ID: resolves an interrupted operation, else goes back to the backup made by the last
api. Takes a safety backup of the current state first (a copy while the services run, then what
changed once they are stopped; --no-safety-backup to skip), restores the
data, config and compose files, re-pins the old images by ID (pulling by digest only if an image is
gone), recreates the services and runs the health gate.`,
		Example: `  # Go back to the last upgrade's backup, or resolve an interrupted operation
  docker maim rollback

  # Show what it would stop, write where and which images it would put back, and change nothing
  docker maim rollback --dry-run

  # Go back to one backup, by the ID 'docker maim backups' lists
  docker maim rollback 20260102T030405Z`,
		Args: atMostOneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			if detaching(o.Detach) {
				return s.detach(cmd, o.Format.json())
			}
			res, err := s.svc(cmd).Rollback(cmd.Context(), api.RollbackOptions{
				Scope: s.g.scope(), ID: argID(args), NoSafetyBackup: o.NoSafetyBackup, Health: o.health.options(), Notify: o.notify.options(), DryRun: o.DryRun,
				Identities: o.identities,
			})
			out := cmd.OutOrStdout()
			if o.Format.json() {
				return printJSON(out, res, err)
			}
			if res == nil {
				return err
			}
			if res.Plan != nil {
				plantext.RestorePlan(out, "rollback", res.Project, res.BackupID, "", res.Resolved, res.Plan, nil, res.Warnings)
				return nil
			}
			plantext.Fetched(out, res.Fetched)
			if res.Resolved != "" {
				fmt.Fprintf(out, "resolved the interrupted %s\n", res.Resolved)
			}
			printRollbackFiles(out, res.RollbackReport)
			if res.BackupID != "" {
				fmt.Fprintf(out, "project %s rolled back to backup %s\n", res.Project, res.BackupID)
			} else {
				fmt.Fprintf(out, "project %s: nothing had changed; what ran before runs again\n", res.Project)
			}
			if res.SafetyID != "" {
				fmt.Fprintf(out, "the state before the rollback is in backup %s\n", res.SafetyID)
			}
			plantext.Remote(out, res.Remote)
			return err
		},
	}
	cmd.Flags().BoolVar(&o.NoSafetyBackup, "no-safety-backup", false, "Do not back up the current state first")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "Print the plan (what stops, which backup goes where, the safety backup, the images) and change nothing")
	o.Format = formatFlag(cmd.Flags(), formatText)
	o.health.add(cmd.Flags())
	o.notify.add(cmd.Flags())
	identityFlag(cmd.Flags(), &o.identities, "only for an encrypted backup")
	detachFlag(cmd.Flags(), &o.Detach)
	return cmd
}

func newStatusCommand(s *state) *cobra.Command {
	var format *choiceFlag
	var follow bool
	var quiet *bool
	cmd := &cobra.Command{
		Use:   "status [OPTIONS]",
		Short: "Show the project's services, its last upgrade, and any interrupted operation",
		Example: `  docker maim status
  docker maim -p mybot status --format json
  docker maim status --format 'table {{.Service}}\t{{.State}}\t{{.Health}}'

  # Follow the project's detached operation, as 'docker maim attach' does
  docker maim status --follow --format json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if follow {
				return s.attach(cmd, "")
			}
			st, err := s.svc(cmd).Status(cmd.Context(), api.StatusOptions{Scope: s.g.scope()})
			out := cmd.OutOrStdout()
			if format.json() && !*quiet {
				return printJSON(out, st, err)
			}
			if err != nil {
				return err
			}
			if done, err := listed(cmd, format, *quiet, serviceRows(st)); done {
				return err
			}
			printStatus(out, st)
			return nil
		},
	}
	format = formatFlag(cmd.Flags(), formatTable)
	cmd.Flags().BoolVar(&follow, "follow", false, "Follow the project's newest detached operation until it ends, as 'docker maim attach' does")
	quiet = quietFlag(cmd, "Only display container names")
	return cmd
}

func printStatus(w io.Writer, st *api.StatusResult) {
	fmt.Fprintf(w, "Project %s\n", st.Project)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tCONTAINER\tIMAGE\tVERSION\tDIGEST\tSTATE\tHEALTH")
	for _, s := range st.Services {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Service, s.Container, s.Image, plantext.OrDash(s.Version), plantext.ShortDigest([]string{s.Digest}, s.ImageID), s.State, plantext.OrDash(s.Health))
	}
	tw.Flush()
	if u := st.LastUpgrade; u != nil {
		fmt.Fprintf(w, "\nLast upgrade: %s at %s, backup %s\n", u.Result, u.Finished.Local().Format("2006-01-02 15:04:05"), plantext.OrDash(u.BackupID))
		for _, c := range u.Images {
			if c.Changed() {
				fmt.Fprintf(w, "  %s: %s -> %s\n", c.Service, c.From(), c.To())
			}
		}
		if u.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", u.Error)
		}
	} else {
		fmt.Fprintln(w, "\nNo upgrade recorded.")
	}
	if d := st.Detached; d != nil {
		fmt.Fprintf(w, "\nRUNNING: detached %s %s (pid %d, since %s); follow it: docker maim -p %s attach %s\n", d.Verb, d.ID, d.PID, d.Started.Local().Format("2006-01-02 15:04:05"), st.Project, d.ID)
	}
	if in := st.Interrupted; in != nil {
		fmt.Fprintf(w, "\nINTERRUPTED: %s stopped in phase %q (pid %d, %s)", in.Op, in.Phase, in.PID, in.Updated.Local().Format("2006-01-02 15:04:05"))
		if in.BackupID != "" {
			fmt.Fprintf(w, ", backup %s", in.BackupID)
		}
		fmt.Fprintln(w, "\nTo resolve:")
		for _, c := range in.Resolve {
			fmt.Fprintln(w, "  "+c)
		}
	}
	if len(st.AppVersions) > 0 {
		fmt.Fprintf(w, "\nApplication versions now: %s\n", appVersionsText(st.AppVersions))
	}
	if len(st.LastUpgradeAppVersions) > 0 {
		fmt.Fprintf(w, "Before the last upgrade (in its backup): %s\n", appVersionsText(st.LastUpgradeAppVersions))
	}
	fmt.Fprintf(w, "\n%d backups (docker maim backups)\n", st.Backups)
}

func newPruneCommand(s *state) *cobra.Command {
	var o api.PruneOptions
	var format *choiceFlag
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove old backups and their image pins (safety backups first; never the last upgrade's or an unreadable one)",
		Long: `Keeps the --keep newest complete backups (manual and upgrade backups before the safety
backups restore and rollback take), and always keeps: the last upgrade's backup (the one
` + "`rollback`" + ` with no ID goes back to) with its image pins, the backup an interrupted operation
needs, and every backup whose manifest cannot be read (one written by a newer docker-maim, say)
unless --include-unreadable. Incomplete and damaged backups are removed whatever --keep says.
Only this engine's backups, made by this user, are pruned: another engine's in the same backup
dir are not even looked at, another user's on this engine are left to them, and those a
docker-maim made that did not record its engine are kept unless --include-unrecorded.
The output says why each backup left in place was kept.

--keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly and
--keep-within keep backups by time buckets as restic's forget does: of each hour, day, week
(Monday to Sunday), month or year that has backups, the newest, for the N newest such buckets;
--keep-last the N newest; --keep-within every backup made within that long of the newest one.
A backup kept by several rules is listed with each. Days, weeks, ... are those of the local
time zone (TZ). With any of them, --keep counts only when given.`,
		Example: `  # Show what keeping the 3 newest backups would remove, and remove nothing
  docker maim prune --keep 3 --dry-run

  # Remove backups older than 30 days, keeping at least the 5 newest
  docker maim prune --older-than 720h

  # Keep the newest backup of each of the last 7 days, 4 weeks and 12 months
  docker maim prune --keep-daily 7 --keep-weekly 4 --keep-monthly 12`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("keep") && o.Keep < 1 { // unchanged, it is 5
				return usageError{errors.New("--keep must be at least 1")}
			}
			if err := checkPolicy(cmd, &o); err != nil {
				return err
			}
			o.Scope = s.g.scope()
			res, err := s.svc(cmd).Prune(cmd.Context(), o)
			out := cmd.OutOrStdout()
			if format.json() {
				return printJSON(out, res, err)
			}
			if res != nil {
				printPrune(out, res)
			}
			return err
		},
	}
	cmd.Flags().IntVar(&o.Keep, "keep", 5, "Keep the `N` newest complete backups (besides those kept by a rule; with a --keep-* rule, only when given)")
	durationVar(cmd.Flags(), &o.OlderThan, "older-than", 0, "Only remove backups older than `DURATION` (e.g. 30d, 720h)")
	cmd.Flags().BoolVar(&o.IncludeUnreadable, "include-unreadable", false, "Also remove backups whose manifest cannot be read (e.g. written by a newer docker-maim)")
	cmd.Flags().BoolVar(&o.IncludeUnrecorded, "include-unrecorded", false, "Also prune, as this engine's, backups made by a docker-maim that did not record its engine")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "Show what would be removed")
	addPolicyFlags(cmd.Flags(), &o.Policy)
	format = formatFlag(cmd.Flags(), formatText)
	return cmd
}

func printPrune(w io.Writer, res *api.PruneResult) {
	verb := "removed"
	if res.DryRun {
		verb = "would remove"
	}
	var total int64
	for _, p := range res.Removed {
		total += p.Size
		what := p.Status
		if p.Reason != "" {
			what += ", " + p.Reason
		}
		if p.Pins > 0 {
			what += fmt.Sprintf(", %d image pins", p.Pins)
		}
		fmt.Fprintf(w, "%s %s (%s, %s)\n", verb, p.ID, what, units.HumanSize(float64(p.Size)))
	}
	for _, k := range res.Kept {
		fmt.Fprintf(w, "kept %s: %s\n", k.ID, k.Why)
	}
	fmt.Fprintf(w, "%s %d backups, %s; kept %d\n", verb, len(res.Removed), units.HumanSize(float64(total)), len(res.Kept))
	if res.DryRun {
		fmt.Fprintln(w, "dry run: nothing was changed")
	}
	if res.Remote != nil {
		fmt.Fprintln(w, "on the remote:")
		printPrune(w, res.Remote)
	}
}
