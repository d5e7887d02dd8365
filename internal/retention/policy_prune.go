package retention

import (
	"fmt"
	"strings"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"

	"github.com/docker-maim/docker-maim/internal/backup"
)

// bucketZone is the time zone of the Policy's buckets: the local one of the host running
// prune (TZ), as restic buckets a snapshot by the local time it recorded; the tests set
// their own.
var bucketZone = time.Local

// applyPolicy decides, with the Policy (none: nothing decided), on this user's complete
// backups: the protected ones (pr.rules) take part with their rule as Protected, so they
// count in the buckets and are listed with every reason that keeps them.
func (pr *pruner) applyPolicy(loc *time.Location, now time.Time) {
	pr.decided = map[string]Decision{}
	if pr.opts.Policy.Empty() {
		return
	}
	var list []Candidate
	for _, e := range pr.all {
		if !pr.policyCounts(e) {
			continue
		}
		c := Candidate{ID: e.ID, Time: createdAt(e)}
		if k, ok := pr.rules[e.ID]; ok {
			c.Protected = pr.shortReason(k)
		}
		list = append(list, c)
	}
	for _, d := range ApplyPolicy(list, pr.opts.Policy, loc, now) {
		pr.decided[d.ID] = d
	}
}

// policyCounts tells whether the Policy decides on e: a complete backup this engine's user
// may remove (not another user's, not an unrecorded one unless IncludeUnrecorded).
func (pr *pruner) policyCounts(e backup.Entry) bool {
	switch {
	case e.Status != backup.StatusComplete, e.Owner == backup.OwnerOtherUser:
		return false
	case e.Owner == backup.OwnerUnrecorded:
		return pr.opts.IncludeUnrecorded
	}
	return true
}

// keepByPolicy keeps, newest first, the backups the Policy keeps that no rule kept
// already (sortOut kept the protected ones, with the Policy's reasons).
func (pr *pruner) keepByPolicy() {
	for _, e := range pr.newestFirst(func(e backup.Entry) bool {
		_, ruled := pr.rules[e.ID]
		return !ruled && pr.decided[e.ID].Keep
	}) {
		d := pr.decided[e.ID]
		pr.keep(e, maim.Kept{Rule: KeptPolicy, Why: "kept by " + strings.Join(d.Reasons, ", ") + " (" + policyFlags(pr.opts.Policy) + ")"})
	}
}

// shortReason is a kept backup's rule in a few words, the first of its Reasons.
func (pr *pruner) shortReason(k maim.Kept) string {
	switch k.Rule {
	case KeptLastUpgrade:
		return "needed by rollback"
	case KeptJournal:
		return "needed by the interrupted " + pr.journalOp
	case KeptNewest:
		return "newest (--keep)"
	case KeptUnreadable:
		return "unreadable manifest"
	case KeptYoung:
		return "younger than --older-than"
	case KeptOtherUser:
		return "another user's"
	case KeptUnrecorded:
		return "engine not recorded"
	case KeptBase:
		return "base of a kept backup"
	}
	return k.Rule
}

// policyFlags writes p as the flags that give it ("--keep-daily 7 --keep-within 30d").
func policyFlags(p Policy) string {
	var out []string
	for _, r := range []struct {
		name string
		n    int
	}{{"last", p.Last}, {"hourly", p.Hourly}, {"daily", p.Daily}, {"weekly", p.Weekly}, {"monthly", p.Monthly}, {"yearly", p.Yearly}} {
		if r.n != 0 {
			out = append(out, fmt.Sprintf("--keep-%s %d", r.name, r.n))
		}
	}
	if p.Within > 0 {
		out = append(out, "--keep-within "+FormatDays(p.Within))
	}
	return strings.Join(out, " ")
}
