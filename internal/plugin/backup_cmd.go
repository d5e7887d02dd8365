package plugin

import (
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/plantext"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
)

type backupOptions struct {
	Excludes    []string
	NoStop      bool
	OnePass     bool
	Compression *choiceFlag
	Level       int
	HostPaths   []string
	Dumps       []string
	Format      *choiceFlag
	notify      notifyFlags
	sources     sourceFlags
	ExcludeSrc  []string
	encrypt     encryptFlags
}

func newBackupCommand(s *state) *cobra.Command {
	o := &backupOptions{}
	cmd := &cobra.Command{
		Use:   "backup [OPTIONS]",
		Short: "Back up every data source of the project (volumes, bind mounts, compose and env files)",
		Long: `Stops the project's running containers (reverse dependency order), archives every data
source into a directory of the backup dir (BACKUP_DIR/PROJECT/ID), and starts what was running
again. By default it copies while the services run first, and archives only the changes since
with them stopped.`,
		Example: `  # Back up the project in the current directory
  docker maim backup

  # Back up without stopping anything, leaving out log files at any depth but keep.log
  docker maim backup --no-stop --exclude '**/*.log' --exclude '!keep.log'

  # Back up, with a logical dump of the database service db taken first (no downtime)
  docker maim backup --dump db

  # Back up a project found by name into another directory, gzip-compressed
  docker maim -p mybot backup --backup-dir /srv/backups --compression gzip

  # Back up with the archives encrypted to an age key (restore then needs --identity)
  docker maim backup --encrypt-local --encrypt-to age1...`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.OnePass && o.NoStop {
				return usageError{errors.New("--one-pass and --no-stop: a backup without stopping is one hot pass already")}
			}
			if err := o.Compression.compression().CheckLevel(o.Level); err != nil {
				return usageError{err}
			}
			for _, p := range o.Excludes { // a malformed pattern would silently match nothing
				if _, err := path.Match(p, ""); err != nil {
					return usageError{fmt.Errorf("--exclude %q: %w", p, err)}
				}
			}
			policies, err := o.sources.parse()
			if err != nil {
				return err
			}
			res, err := s.svc(cmd).Backup(cmd.Context(), api.BackupOptions{
				Scope: s.g.scope(), Compression: o.Compression.compression(), Level: o.Level,
				Excludes: o.Excludes, NoStop: o.NoStop, IncludeHostPaths: o.HostPaths, OnePass: o.OnePass,
				Notify: o.notify.options(),
				Dumps:  o.Dumps, SourcePolicies: policies, ExcludeSources: o.ExcludeSrc, Full: o.sources.full, MaxDeltas: o.sources.maxDeltas,
				Encrypt: o.encrypt.options(),
			})
			out := cmd.OutOrStdout()
			if o.Format.json() {
				return printJSON(out, res, err)
			}
			if res == nil {
				return err
			}
			printBackup(out, res)
			return err
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Excludes, "exclude", nil, "Leave out paths matching the .dockerignore `PATTERN` (relative to each source; !PATTERN re-includes; repeatable)")
	f.BoolVar(&o.NoStop, "no-stop", false, "Archive while the services run (hot backup; may be inconsistent)")
	f.BoolVar(&o.OnePass, "one-pass", false, "Archive everything with the services stopped (default: a hot copy first, then only the changes since, stopped)")
	o.Compression = compressionFlag(f, "Archive")
	o.notify.add(f)
	o.encrypt.add(f)
	f.IntVar(&o.Level, "level", 0, "Compression `LEVEL` (0: the codec's default)")
	f.StringArrayVar(&o.HostPaths, "include-host-path", nil, "Back up the bind source `PATH` although it is a host path or a symlink leading outside the project (repeatable)")
	f.StringArrayVar(&o.Dumps, "dump", nil, "Also dump the database of `SERVICE` (postgres, mariadb, mysql, mongo) with its own tool inside its running container, before anything stops (repeatable)")
	o.sources.add(f, "(never applies to upgrades only: a backup takes it, unless --exclude-source)")
	f.StringArrayVar(&o.ExcludeSrc, "exclude-source", nil, "Leave the data source `NAME` out of this backup (repeatable)")
	o.Format = formatFlag(f, formatText)
	return cmd
}

func printBackup(w io.Writer, res *api.BackupResult) {
	fmt.Fprintf(w, "backup %s of project %s: %d sources, %s (%s archived) in %s\n",
		res.ID, res.Project, len(res.Sources), units.HumanSize(float64(res.Bytes)), units.HumanSize(float64(res.Size)), res.Duration.Round(time.Millisecond))
	fmt.Fprintf(w, "stored in %s\n", res.Dir)
	if res.Encrypted {
		fmt.Fprintln(w, "archives encrypted with age: restoring needs the identity (--identity FILE or MAIM_AGE_IDENTITY)")
	}
	if res.Downtime > 0 {
		how := "one pass"
		if res.TwoPass {
			how = "two passes: a hot copy, then the changes"
		}
		fmt.Fprintf(w, "services stopped for %s (%s)\n", res.Downtime.Round(time.Millisecond), how)
	}
	for _, d := range res.Dumps {
		fmt.Fprintf(w, "dump of %s (%s): %s, %s (%s archived)\n", d.Service, d.Engine, d.Archive, units.HumanSize(float64(d.Bytes)), units.HumanSize(float64(d.Size)))
	}
	for _, src := range res.Sources {
		switch {
		case src.Reused:
			fmt.Fprintf(w, "%s: unchanged since backup %s: its archives are used\n", src.Name, src.Base)
		case src.Base != "":
			fmt.Fprintf(w, "%s: incremental over backup %s: %s of changes\n", src.Name, src.Base, units.HumanSize(float64(src.Size)))
		case src.Full != "":
			fmt.Fprintf(w, "%s: archived whole: %s\n", src.Name, src.Full)
		}
	}
	for _, l := range res.LeftOut {
		fmt.Fprintf(w, "not backed up: %s\n", l)
	}
	for _, h := range res.NotBackedUp {
		fmt.Fprintf(w, "%s: %s\n", h.HostPath, h.Why)
	}
	if len(res.NotBackedUp) > 0 {
		fmt.Fprintln(w, "(host paths are never restored; --include-host-path PATH backs one up)")
	}
	plantext.Remote(w, res.Remote)
}

func newBackupsCommand(s *state) *cobra.Command {
	var format *choiceFlag
	var allEngines bool
	var quiet *bool
	cmd := &cobra.Command{
		Use:     "backups [OPTIONS]",
		Aliases: []string{"ls"},
		Short:   "List the project's backups",
		Example: `  # The backups of the project in the current directory
  docker maim backups

  # Also those other engines keep in the same backup dir, as JSON
  docker maim backups --all-engines --format json

  # For scripts: the IDs only, or a Go template as docker's
  docker maim backups -q
  docker maim backups --format '{{.ID}} {{.Reason}} {{.Size}}'`,
		Long: `Lists the project's backups in the backup dir made on this engine (by any user), and those
made by a docker-maim that did not record its engine. Another engine's backups of a project of
the same name in the same backup dir are listed with --all-engines.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := s.svc(cmd).Backups(cmd.Context(), api.BackupsOptions{Scope: s.g.scope(), AllEngines: allEngines})
			if format.json() && !*quiet {
				return printJSON(cmd.OutOrStdout(), res, err)
			}
			if res == nil {
				return err
			}
			if done, lerr := listed(cmd, format, *quiet, backupRows(res.Backups)); done {
				return errors.Join(lerr, err)
			}
			return errors.Join(printBackups(cmd.OutOrStdout(), res.Backups), err)
		},
	}
	format = formatFlag(cmd.Flags(), formatTable)
	quiet = quietFlag(cmd, "Only display backup IDs")
	cmd.Flags().BoolVar(&allEngines, "all-engines", false, "Also list the backups other engines keep in this backup dir")
	return cmd
}

func printBackups(w io.Writer, rows []api.BackupRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tREASON\tSIZE\tSOURCES\tSTATUS\tWHERE")
	for _, r := range rows {
		t := "-"
		if !r.Time.IsZero() {
			t = r.Time.Local().Format("2006-01-02 15:04:05")
		}
		reason := r.Reason
		if reason == "" {
			reason = "-"
		}
		status := string(r.Status)
		if r.Problem != "" && r.Status != api.StatusComplete {
			status += " (" + r.Problem + ")"
		}
		size := units.HumanSize(float64(r.Size))
		if r.Referenced > 0 {
			size += " (+" + units.HumanSize(float64(r.Referenced)) + " in " + strings.Join(r.Bases, ",") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, t, reason, size, shortList(r.Sources, 4), status, plantext.Locations(r))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		if len(r.AppVersions) > 0 {
			fmt.Fprintf(w, "%s: %s\n", r.ID, appVersionsText(r.AppVersions))
		}
	}
	for _, r := range rows {
		if note := originNote(r); note != "" {
			fmt.Fprintf(w, "%s: %s\n", r.ID, note)
		}
	}
	return nil
}

// originNote says whose a listed backup is when it is not this engine's and user's.
func originNote(r api.BackupRow) string {
	switch o := r.Origin; api.BackupOwner(r.Owner) {
	case api.OwnerOtherEngine:
		return "made on another " + o.String() + "; restore it only by ID"
	case api.OwnerOtherUser:
		who := o.User
		if who == "" {
			who = "uid " + o.UID
		}
		return "made on this engine by user " + who + " (their prune decides on it)"
	case api.OwnerUnrecorded:
		return "made by a docker-maim that did not record its engine: used only by ID, never pruned unless --include-unrecorded"
	}
	return ""
}

// appVersionsText is "key value, ..." sorted: the versions an application recorded
// (maibot.db_schema 26, maibot.config.bot_config.toml 7.3.5).
func appVersionsText(v map[string]string) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+" "+v[k])
	}
	return strings.Join(parts, ", ")
}

func shortList(s []string, max int) string {
	if len(s) <= max {
		return strings.Join(s, ",")
	}
	return strings.Join(s[:max], ",") + fmt.Sprintf(",+%d", len(s)-max)
}

func newVerifyCommand(s *state) *cobra.Command {
	var format *choiceFlag
	var ids []string
	cmd := &cobra.Command{
		Use:   "verify [OPTIONS] [ID]",
		Short: "Re-hash and read every archive of a backup (default: the newest) against its manifest",
		Long: `Re-hashes every archive of a backup and reads every entry against its manifest. An
encrypted backup's files are checked against their recorded ciphertext hashes without an
identity; with --identity (or MAIM_AGE_IDENTITY) they are decrypted and read whole too.`,
		Example: `  # Verify the newest backup
  docker maim verify

  # Verify one backup, by the ID 'docker maim backups' lists
  docker maim verify 20260102T030405Z`,
		Args: atMostOneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := s.svc(cmd).Verify(cmd.Context(), api.VerifyOptions{Scope: s.g.scope(), ID: argID(args), Identities: ids})
			out := cmd.OutOrStdout()
			if format.json() {
				return printJSON(out, res, err)
			}
			if err != nil {
				return err
			}
			where := ""
			if res.Location == api.LocationRemote {
				where = " on the remote"
			}
			fmt.Fprintf(out, "backup %s is intact%s: %d files, %s\n", res.ID, where, res.Archives, units.HumanSize(float64(res.Bytes)))
			if res.CiphertextOnly {
				fmt.Fprintln(out, "encrypted: only the encrypted files' hashes were checked; give --identity to read the archives inside")
			}
			return nil
		},
	}
	format = formatFlag(cmd.Flags(), formatText)
	identityFlag(cmd.Flags(), &ids, "to read the archives inside an encrypted backup (without it only their encrypted files are checked)")
	return cmd
}

// argID is the optional backup ID argument.
func argID(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return ""
}

type restoreOptions struct {
	Sources         []string
	NoSafetyBackup  bool
	ToRecordedPaths bool
	FromDump        string
	DryRun          bool
	Format          *choiceFlag
	Detach          bool
	health          healthFlags
	notify          notifyFlags
	identities      []string
}

func newRestoreCommand(s *state) *cobra.Command {
	o := &restoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore [OPTIONS] [ID]",
		Short: "Make the project's data exactly equal to a backup (default: the newest that is not a safety backup)",
		Long: `Verifies the backup first and refuses to touch anything when it fails. Each source goes to the
current project's source of the same name: one whose path or volume moved is refused (naming both)
unless --to-recorded-paths, one the project no longer has is skipped and reported, host paths are
never restored. Takes a safety backup of everything about to be replaced (a copy while the services
run, then, once they are stopped, what changed since; put back if the restore fails), makes every
source exactly equal to its archive (paths the backup's
--exclude left out are kept), creates missing volumes as the compose file declares them. When
the compose or env files come back, every service they describe otherwise than its container
is recreated from them on the image the backup recorded (refused before anything stops when
that image is gone), so a plain ` + "`docker compose up -d`" + ` changes nothing afterwards. Then it
starts what was running and runs the health gate. Journaled: an interrupted restore is
resolved by ` + "`docker maim rollback`" + `.`,
		Example: `  # Restore the newest backup that is not a safety backup
  docker maim restore

  # Show what it would stop, write where and back up first, and change nothing
  docker maim restore --dry-run

  # Restore only the volume botdata from one backup
  docker maim restore --source botdata 20260102T030405Z

  # Restore to the paths and volumes the backup recorded, where the project now uses others
  docker maim restore --to-recorded-paths 20260102T030405Z`,
		Args: atMostOneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			if detaching(o.Detach) {
				return s.detach(cmd, o.Format.json())
			}
			res, err := s.svc(cmd).Restore(cmd.Context(), api.RestoreOptions{
				Scope: s.g.scope(), ID: argID(args), Sources: o.Sources, NoSafetyBackup: o.NoSafetyBackup,
				ToRecordedPaths: o.ToRecordedPaths, FromDump: o.FromDump, Health: o.health.options(), Notify: o.notify.options(), DryRun: o.DryRun, Identities: o.identities,
			})
			out := cmd.OutOrStdout()
			if o.Format.json() {
				return printJSON(out, res, err)
			}
			if err == nil && res.Plan != nil {
				plantext.RestorePlan(out, "restore", res.Project, res.BackupID, res.Chosen, "", res.Plan, res.Skipped, res.Warnings)
				return nil
			}
			var re *api.RestoreError
			if res == nil || errors.As(err, &re) && re.Recovery != nil || errors.Is(err, api.ErrInterrupted) {
				return err
			}
			printRestore(out, res, err == nil || errors.Is(err, api.ErrRemote))
			return err
		},
	}
	cmd.Flags().StringArrayVar(&o.Sources, "source", nil, "Restore only the data source named `SOURCE` (repeatable; the names 'docker maim backups --format json' lists)")
	cmd.Flags().BoolVar(&o.NoSafetyBackup, "no-safety-backup", false, "Do not back up the current data before replacing it")
	cmd.Flags().BoolVar(&o.ToRecordedPaths, "to-recorded-paths", false, "Write the host paths and volumes the backup recorded, also where the project now uses others")
	cmd.Flags().StringVar(&o.FromDump, "from-dump", "", "Load the backup's logical dump of `SERVICE` (backup --dump) into its emptied data dir instead of restoring the archives")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "Print the plan (what stops, which backup goes where, the safety backup) and change nothing")
	o.Format = formatFlag(cmd.Flags(), formatText)
	o.health.add(cmd.Flags())
	o.notify.add(cmd.Flags())
	identityFlag(cmd.Flags(), &o.identities, "only for an encrypted backup")
	detachFlag(cmd.Flags(), &o.Detach)
	return cmd
}

// printRestore says what a restore did: the backup, what was skipped, which services were
// recreated and why, the file edits, and where the data before it is.
func printRestore(w io.Writer, res *api.RestoreResult, done bool) {
	plantext.Fetched(w, res.Fetched)
	if res.Chosen != "" {
		fmt.Fprintf(w, "backup %s chosen: %s\n", res.BackupID, res.Chosen)
	}
	for _, sk := range res.Skipped {
		fmt.Fprintf(w, "not restored: %s\n", sk)
	}
	for _, e := range plantext.DescribeEdits(res.FileEdits, res.WorkingDir) {
		fmt.Fprintln(w, "edited "+e+" (the files name what runs)")
	}
	for _, warn := range res.Warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
	for _, c := range res.Recreated {
		fmt.Fprintf(w, "recreated %s on %s: %s\n", c.Service, c.Image, c.Why)
	}
	if !done {
		return
	}
	fmt.Fprintf(w, "restored %d sources of project %s from backup %s\n", len(res.Restored), res.Project, res.BackupID)
	if res.SafetyID != "" {
		fmt.Fprintf(w, "the data as it was before is in backup %s\n", res.SafetyID)
	}
	plantext.Remote(w, res.Remote)
}

// versionResult is the JSON document of `version`.
type versionResult struct {
	Version string `json:"version"`
}

func newVersionCommand() *cobra.Command {
	var format *choiceFlag
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the docker-maim version",
		Example: `  docker maim version
  docker maim version --format json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format.json() {
				return printJSON(cmd.OutOrStdout(), versionResult{Version: Version}, nil)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "docker-maim version %s\n", Version)
			return nil
		},
	}
	format = formatFlag(cmd.Flags(), formatText)
	return cmd
}
