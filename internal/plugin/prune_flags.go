package plugin

import (
	"errors"
	"fmt"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// policyCounts are prune's restic-style bucket flags, with the help each gives.
var policyCounts = []struct{ name, usage string }{
	{"keep-last", "Keep the `N` newest backups (-1: all)"},
	{"keep-hourly", "Keep the newest backup of each of the last `N` hours that have backups (-1: every hour)"},
	{"keep-daily", "Keep the newest backup of each of the last `N` days that have backups (-1: every day)"},
	{"keep-weekly", "Keep the newest backup of each of the last `N` weeks (Monday to Sunday) that have backups (-1: every week)"},
	{"keep-monthly", "Keep the newest backup of each of the last `N` months that have backups (-1: every month)"},
	{"keep-yearly", "Keep the newest backup of each of the last `N` years that have backups (-1: every year)"},
}

// addPolicyFlags adds prune's --keep-last/-hourly/-daily/-weekly/-monthly/-yearly/-within
// flags, filling p.
func addPolicyFlags(f *pflag.FlagSet, p *api.KeepPolicy) {
	for i, n := range []*int{&p.Last, &p.Hourly, &p.Daily, &p.Weekly, &p.Monthly, &p.Yearly} {
		f.IntVar(n, policyCounts[i].name, 0, policyCounts[i].usage)
	}
	durationVar(f, &p.Within, "keep-within", 0, "Keep every backup made within `DURATION` of the newest one (e.g. 30d, 1d12h, 36h)")
}

// checkPolicy refuses counts below -1 and a policy whose every rule is 0, and, when a
// --keep-* rule is given without --keep, leaves the count of newest backups to the policy
// (--keep's default 5 is for prune without one).
func checkPolicy(cmd *cobra.Command, o *api.PruneOptions) error {
	given := cmd.Flags().Changed("keep-within")
	for i, n := range []int{o.Policy.Last, o.Policy.Hourly, o.Policy.Daily, o.Policy.Weekly, o.Policy.Monthly, o.Policy.Yearly} {
		if n < -1 {
			return usageError{fmt.Errorf("--%s must be -1 (all) or more, not %d", policyCounts[i].name, n)}
		}
		given = given || cmd.Flags().Changed(policyCounts[i].name)
	}
	switch {
	case !given:
		return nil
	case o.Policy.Empty():
		return usageError{errors.New("every --keep-* rule given is 0, which keeps nothing: give one above 0, or none for --keep's default")}
	case !cmd.Flags().Changed("keep"):
		o.Keep = 0
	}
	return nil
}
