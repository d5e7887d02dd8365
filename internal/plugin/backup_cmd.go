package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/upgrade"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
)

type backupOptions struct {
	Excludes    []string
	NoStop      bool
	Compression string
	Level       int
	HostPaths   []string
}

func newBackupCommand(e *env) *cobra.Command {
	o := &backupOptions{}
	cmd := &cobra.Command{
		Use:   "backup [OPTIONS]",
		Short: "Back up every data source of the project (volumes, bind mounts, compose and env files)",
		Long: `Stops the project's running containers (reverse dependency order), archives every data
source into <backup-dir>/<project>/<ID>/, and starts what was running again.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBackup(cmd, e, o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Excludes, "exclude", nil, "Leave out paths matching PATTERN (relative to each source; repeatable)")
	f.BoolVar(&o.NoStop, "no-stop", false, "Archive while the services run (hot backup; may be inconsistent)")
	f.StringVar(&o.Compression, "compression", "zstd", "Archive compression: zstd, gzip, none")
	f.IntVar(&o.Level, "level", 0, "Compression level (0: the codec's default)")
	f.StringArrayVar(&o.HostPaths, "include-host-path", nil, "Back up the bind source PATH although it is a host path or a symlink leading outside the project (repeatable)")
	return cmd
}

func runBackup(cmd *cobra.Command, e *env, o *backupOptions) error {
	comp, err := parseCompression(o.Compression)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	s, err := e.open(ctx, true)
	if err != nil {
		return err
	}
	defer s.close()
	start := time.Now()
	m, err := s.snapshots(Version).Backup(ctx, s.proj, snapshot.BackupOptions{
		Compression: comp, Level: o.Level, Excludes: o.Excludes, NoStop: o.NoStop, IncludeHostPaths: o.HostPaths,
	})
	if err != nil {
		return err
	}
	s.progress.Close()
	var bytes int64
	for _, src := range m.Sources {
		bytes += src.Bytes
	}
	fmt.Fprintf(cmd.OutOrStdout(), "backup %s of project %s: %d sources, %s (%s archived) in %s\n",
		m.ID, m.Project, len(m.Sources), units.HumanSize(float64(bytes)), units.HumanSize(float64(m.Size())), time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(cmd.OutOrStdout(), "stored in %s\n", s.store.Dir(m.Project, m.ID))
	printHostPaths(cmd.OutOrStdout(), m.HostPaths)
	return nil
}

// printHostPaths lists the host paths a backup left out (never restored either).
func printHostPaths(w io.Writer, hps []project.Source) {
	for _, h := range hps {
		fmt.Fprintf(w, "%s: %s\n", h.HostPath, snapshot.NotBackedUp(h))
	}
	if len(hps) > 0 {
		fmt.Fprintln(w, "(host paths are never restored; --include-host-path PATH backs one up)")
	}
}

type backupsOptions struct{ Format string }

func newBackupsCommand(e *env) *cobra.Command {
	o := &backupsOptions{}
	cmd := &cobra.Command{
		Use:     "backups [OPTIONS]",
		Aliases: []string{"ls"},
		Short:   "List the project's backups",
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := e.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer s.close()
			list, err := s.store.List(s.proj.Name)
			if err != nil {
				return err
			}
			return printBackups(cmd.OutOrStdout(), o.Format, list)
		},
	}
	cmd.Flags().StringVar(&o.Format, "format", "table", "Output format: table or json")
	return cmd
}

type backupRow struct {
	ID          string    `json:"id"`
	Project     string    `json:"project,omitempty"`
	Time        time.Time `json:"time,omitzero"`
	Reason      string    `json:"reason,omitempty"`
	Size        int64     `json:"size"`
	Bytes       int64     `json:"bytes"`
	Sources     []string  `json:"sources"`
	Status      string    `json:"status"`
	Problem     string    `json:"problem,omitempty"`
	ToolVersion string    `json:"tool_version,omitempty"`
	Dir         string    `json:"dir"`
}

func rowOf(en backup.Entry) backupRow {
	r := backupRow{ID: en.ID, Status: string(en.Status), Problem: en.Problem, Dir: en.Dir, Sources: []string{}}
	if m := en.Manifest; m != nil {
		r.Project, r.Time, r.Reason, r.Size, r.ToolVersion = m.Project, m.CreatedAt, m.Reason, m.Size(), m.ToolVersion
		for _, s := range m.Sources {
			r.Sources = append(r.Sources, s.Name)
			r.Bytes += s.Bytes
		}
	}
	return r
}

func printBackups(w io.Writer, format string, list []backup.Entry) error {
	rows := make([]backupRow, 0, len(list))
	for i := len(list) - 1; i >= 0; i-- { // newest first
		rows = append(rows, rowOf(list[i]))
	}
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTIME\tREASON\tSIZE\tSOURCES\tSTATUS")
		for _, r := range rows {
			t := "-"
			if !r.Time.IsZero() {
				t = r.Time.Local().Format("2006-01-02 15:04:05")
			}
			reason := r.Reason
			if reason == "" {
				reason = "-"
			}
			status := r.Status
			if r.Problem != "" && r.Status != string(backup.StatusComplete) {
				status += " (" + r.Problem + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, t, reason, units.HumanSize(float64(r.Size)), shortList(r.Sources, 4), status)
		}
		return tw.Flush()
	default:
		return usageError{fmt.Errorf("unknown --format %q (table or json)", format)}
	}
}

func shortList(s []string, max int) string {
	if len(s) <= max {
		return strings.Join(s, ",")
	}
	return strings.Join(s[:max], ",") + fmt.Sprintf(",+%d", len(s)-max)
}

func newVerifyCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "verify [ID]",
		Short: "Re-hash and read every archive of a backup (default: the newest) against its manifest",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := e.open(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer s.close()
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			en, err := s.store.Get(s.proj.Name, id)
			if err != nil {
				return err
			}
			if err := s.store.Verify(en, nil); err != nil {
				return withCode(ExitVerify, err)
			}
			var bytes int64
			for _, src := range en.Manifest.Sources {
				bytes += src.Bytes
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup %s is intact: %d archives, %s\n", en.ID, len(en.Manifest.Sources), units.HumanSize(float64(bytes)))
			return nil
		},
	}
}

type restoreOptions struct {
	Sources         []string
	NoSafetyBackup  bool
	ToRecordedPaths bool
	Format          string
	health          healthFlags
}

func newRestoreCommand(e *env) *cobra.Command {
	o := &restoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore [ID] [OPTIONS]",
		Short: "Make the project's data exactly equal to a backup (default: the newest that is not a safety backup)",
		Long: `Verifies the backup first and refuses to touch anything when it fails. Each source goes to the
current project's source of the same name: one whose path or volume moved is refused (naming both)
unless --to-recorded-paths, one the project no longer has is skipped and reported, host paths are
never restored. Stops the services, takes a safety backup of everything about to be replaced (put
back if the restore fails), makes every source exactly equal to its archive (paths the backup's
--exclude left out are kept), creates missing volumes as the compose file declares them. When
the compose or env files come back, every service they describe otherwise than its container
is recreated from them on the image the backup recorded (refused before anything stops when
that image is gone), so a plain ` + "`docker compose up -d`" + ` changes nothing afterwards. Then it
starts what was running and runs the health gate. Journaled: an interrupted restore is
resolved by ` + "`docker maim rollback`" + `.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Format != "text" && o.Format != "json" {
				return usageError{fmt.Errorf("unknown --format %q (text or json)", o.Format)}
			}
			ctx := cmd.Context()
			s, m, err := e.openUpgrades(ctx, true)
			if err != nil {
				return err
			}
			defer s.close()
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			res, err := m.Restore(ctx, s.proj, upgrade.RestoreOptions{
				ID: id, Sources: o.Sources, NoSafetyBackup: o.NoSafetyBackup, ToRecordedPaths: o.ToRecordedPaths,
				Health: o.health.options(),
			})
			s.progress.Close()
			var re *upgrade.RestoreError
			if errors.As(err, &re) && re.Recovery != nil {
				return withCode(ExitRollbackFailed, err)
			}
			if errors.Is(err, upgrade.ErrInterrupted) {
				return withCode(ExitRefused, err)
			}
			if err != nil && res == nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.Format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return errors.Join(enc.Encode(res), err)
			}
			printRestore(out, s.proj.Name, res, err == nil)
			return err
		},
	}
	cmd.Flags().StringArrayVar(&o.Sources, "source", nil, "Restore only this source (repeatable; names as in `docker maim backups --format json`)")
	cmd.Flags().BoolVar(&o.NoSafetyBackup, "no-safety-backup", false, "Do not back up the current data before replacing it")
	cmd.Flags().BoolVar(&o.ToRecordedPaths, "to-recorded-paths", false, "Write the host paths and volumes the backup recorded, also where the project now uses others")
	cmd.Flags().StringVar(&o.Format, "format", "text", "Output format: text or json")
	o.health.add(cmd.Flags())
	return cmd
}

// printRestore says what a restore did: the backup, what was skipped, which services were
// recreated and why, the file edits, and where the data before it is.
func printRestore(w io.Writer, name string, res *upgrade.RestoreResult, done bool) {
	if res.Chosen != "" {
		fmt.Fprintf(w, "backup %s chosen: %s\n", res.BackupID, res.Chosen)
	}
	for _, sk := range res.Skipped {
		fmt.Fprintf(w, "not restored: %s\n", sk)
	}
	for _, e := range upgrade.DescribeEdits(res.FileEdits, res.WorkingDir) {
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
	fmt.Fprintf(w, "restored %d sources of project %s from backup %s\n", len(res.Restored), name, res.BackupID)
	if res.SafetyID != "" {
		fmt.Fprintf(w, "the data as it was before is in backup %s\n", res.SafetyID)
	}
}

func newVersionCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show the docker-maim version",
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "docker-maim version %s\n", Version)
			return nil
		},
	}
}
