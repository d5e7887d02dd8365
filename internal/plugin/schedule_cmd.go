package plugin

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/spf13/cobra"
)

func newScheduleCommand(s *state) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule COMMAND",
		Short: "Run backup then prune for a project on a schedule (a systemd timer or a cron line)",
		Long: `schedule set writes a systemd timer and service, or a crontab line, that runs ` + "`backup`" + ` and,
when the backup succeeded, ` + "`prune`" + ` for the project, with the project options, --backup-dir and
--keep* flags given, and DOCKER_HOST, DOCKER_CONTEXT and DOCKER_CONFIG as set now. A project has
one schedule: set replaces it. A run that finds another docker-maim command holding the project
exits 4 and says so in its log. systemd runs log to the journal, cron runs to a file in the
state dir. As root the units are system units (/etc/systemd/system).`,
		Example: "  docker maim schedule set --at 03:30 --keep-daily 7\n  docker maim schedule list\n  docker maim schedule remove",
	}
	cmd.AddCommand(newScheduleSetCommand(s), newScheduleListCommand(s), newScheduleRemoveCommand(s))
	return cmd
}

func newScheduleSetCommand(s *state) *cobra.Command {
	o := api.ScheduleOptions{Action: "set"}
	var via, format *choiceFlag
	cmd := &cobra.Command{
		Use:   "set [OPTIONS]",
		Short: "Write the project's schedule (replacing the one it has) and enable it",
		Long: `Give the time with --at (daily), --on-calendar (systemd's calendar syntax) or --cron (five
cron fields). --via auto uses systemd when its manager answers (` + "`systemctl --user`" + `; as root the
system manager), else cron when crontab is installed, else systemd units written with the
commands that load them printed; --on-calendar implies systemd and --cron cron. A calendar
systemd-analyze cannot read is refused. When systemctl cannot reach its manager, the units are
written and the commands that load them printed.
A user timer runs while its user is logged in unless lingering is on (loginctl enable-linger).`,
		Example: `  # Back up every night at 03:30, keep 7 daily and 4 weekly backups
  docker maim schedule set --at 03:30 --keep-daily 7 --keep-weekly 4

  # Weekdays only, as a systemd timer; show the units and write nothing
  docker maim schedule set --on-calendar 'Mon..Fri 03:30' --dry-run

  # Every 6 hours, in the crontab
  docker maim -p mybot schedule set --cron '0 */6 * * *' --keep 10`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			n := 0
			for _, t := range []string{o.At, o.OnCalendar, o.Cron} {
				if t != "" {
					n++
				}
			}
			if n != 1 {
				return usageError{errors.New("give one time: --at HH:MM, --on-calendar EXPR or --cron EXPR")}
			}
			if cmd.Flags().Changed("keep") && o.Keep < 1 {
				return usageError{errors.New("--keep must be at least 1")}
			}
			po := api.PruneOptions{Keep: o.Keep, Policy: o.Policy}
			if err := checkPolicy(cmd, &po); err != nil {
				return err
			}
			o.Keep, o.Policy, o.Via, o.Scope = po.Keep, po.Policy, via.value, s.g.scope()
			return runSchedule(cmd, s, o, format)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.At, "at", "", "Run every day at `TIME`, HH:MM in local time")
	f.StringVar(&o.OnCalendar, "on-calendar", "", "Run at the systemd calendar `EXPR` (e.g. 'Mon..Fri 03:30'; systemd only)")
	f.StringVar(&o.Cron, "cron", "", "Run at the cron `EXPR` (five fields, e.g. '30 3 * * *'; cron only)")
	via = newChoice(api.ViaAuto, api.ViaAuto, api.ViaSystemd, api.ViaCron)
	f.Var(via, "via", "Keep the schedule `WAY`: auto, systemd or cron")
	f.IntVar(&o.Keep, "keep", 0, "Each run's prune keeps the `N` newest backups (default: prune's)")
	addPolicyFlags(f, &o.Policy)
	f.BoolVar(&o.DryRun, "dry-run", false, "Show the files and crontab lines it would write and the commands it would run")
	format = formatFlag(f, formatText)
	return cmd
}

func newScheduleListCommand(s *state) *cobra.Command {
	var format *choiceFlag
	cmd := &cobra.Command{
		Use:     "list [OPTIONS]",
		Short:   "List docker-maim's schedules (every project's, or the one -p names)",
		Example: "  docker maim schedule list\n  docker maim schedule list --format json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSchedule(cmd, s, api.ScheduleOptions{Action: "list", Scope: api.Scope{Name: s.g.Name}}, format)
		},
	}
	format = formatFlag(cmd.Flags(), formatTable)
	return cmd
}

func newScheduleRemoveCommand(s *state) *cobra.Command {
	o := api.ScheduleOptions{Action: "remove"}
	var via, format *choiceFlag
	cmd := &cobra.Command{
		Use:   "remove [OPTIONS]",
		Short: "Remove the project's schedule (exit 6 when it has none)",
		Example: `  docker maim schedule remove
  docker maim -p mybot schedule remove --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Via, o.Scope = via.value, s.g.scope()
			return runSchedule(cmd, s, o, format)
		},
	}
	via = newChoice(api.ViaAuto, api.ViaAuto, api.ViaSystemd, api.ViaCron)
	cmd.Flags().Var(via, "via", "Remove the schedule kept this `WAY`: auto (either), systemd or cron")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "Show what it would remove and run")
	format = formatFlag(cmd.Flags(), formatText)
	return cmd
}

func runSchedule(cmd *cobra.Command, s *state, o api.ScheduleOptions, format *choiceFlag) error {
	res, err := s.svc(cmd).Schedule(cmd.Context(), o)
	if errors.Is(err, api.ErrNoSchedule) {
		err = withCode(ExitNotFound, err) // like docker rm of a container that is not there
	}
	out := cmd.OutOrStdout()
	if format.json() {
		return printJSON(out, res, err)
	}
	if res != nil && err == nil {
		printSchedule(out, res)
	}
	return err
}

func printSchedule(w io.Writer, res *api.ScheduleResult) {
	if res.Action == "list" {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PROJECT\tVIA\tWHEN\tLOG")
		for _, sc := range res.Schedules {
			fmt.Fprintf(tw, "%q\t%s\t%s\t%s\n", sc.Project, sc.Via, sc.When, sc.Log)
		}
		tw.Flush()
		return
	}
	would := ""
	if res.DryRun {
		would = "Would have "
	}
	for _, sc := range res.Schedules {
		verb := "removed"
		if res.Action == "set" {
			verb = "scheduled"
			if res.Replaced {
				verb = "replaced the schedule: now scheduled"
			}
		}
		fmt.Fprintf(w, "%s%s backup and prune of project %q via %s at %s (log: %s)\n", would, verb, sc.Project, sc.Via, sc.When, sc.Log)
	}
	for _, f := range res.Files {
		switch {
		case f.Removed:
			fmt.Fprintf(w, "%sremoved %s\n", would, f.Path)
		case res.DryRun:
			fmt.Fprintf(w, "\n%s:\n%s\n", f.Path, f.Content)
		default:
			fmt.Fprintf(w, "Wrote %s\n", f.Path)
		}
	}
	if res.Crontab != nil && res.DryRun {
		fmt.Fprintf(w, "\nNew crontab:\n%s", *res.Crontab)
	}
	for _, c := range res.Commands {
		if c.Ran {
			fmt.Fprintf(w, "Ran: %s\n", strings.Join(c.Args, " "))
		} else if c.Args[0] != "crontab" {
			fmt.Fprintf(w, "Run: %s\n", strings.Join(c.Args, " "))
		}
	}
	for _, n := range res.Notes {
		fmt.Fprintf(w, "Note: %s\n", n)
	}
}
