package retention

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"
)

// Policy is a retention policy by time buckets (--keep-last, --keep-daily, ...).
type Policy = maim.KeepPolicy

// Candidate is one backup a Policy decides on.
type Candidate struct {
	// ID of the backup; among backups of the same time, the greater ID (idAfter: the
	// collision suffix, numerically) is the newer.
	ID string
	// Time is when it was made; zero: unknown.
	Time time.Time
	// Protected, when set, is why it is kept whatever the rules say ("needed by
	// rollback"); it still counts in the buckets as any other backup.
	Protected string
}

// Decision is what a Policy decided on one candidate.
type Decision struct {
	ID      string
	Time    time.Time
	Keep    bool
	Reasons []string // why it is kept: Protected first, then each rule that keeps it
}

// ReasonUnknownTime is the reason a backup whose time is unknown is kept: it cannot be
// placed in any bucket, and a policy by time never removes what it cannot date.
const ReasonUnknownTime = "time unknown"

// ApplyPolicy decides which of list p keeps, with restic's rules (restic's
// data.ApplyPolicy, `restic forget --keep-*`), and returns the decisions newest first
// (by time, then ID). Pure: it reads nothing but its arguments.
//
//   - Last keeps the Last newest backups, whatever their time.
//   - Hourly, Daily, Weekly, Monthly and Yearly each walk the backups newest first and keep
//     the first (newest) backup of each bucket (the hour, the day, the ISO week from Monday
//     to Sunday, the month, the year) until they have kept that many: buckets without a
//     backup do not count. When a rule still has count left at the oldest backup, that one
//     is kept too ("oldest daily ..."), which keeps the longest history the counts allow.
//     A count of -1 keeps every bucket.
//   - Within keeps every backup made after the newest backup's time minus Within; the
//     newest is the newest that is not after now (backups dated in the future are not the
//     reference, and are kept: they are after it).
//   - A backup is kept when any rule keeps it, or when it is Protected; Reasons lists every
//     rule that keeps it ("last 3", "hourly 2026-12-01 14:00", "daily 2026-12-01",
//     "weekly 2026-W49", "monthly 2026-12", "yearly 2026", "oldest daily 2026-11-02",
//     "within 30d").
//   - A backup whose time is unknown (zero) is kept (ReasonUnknownTime) and counts for no
//     rule.
//
// The buckets are those of a backup's time in loc (nil: each time's own location), as
// restic buckets a snapshot by the local time it recorded: in a zone with daylight saving
// time the day of the change has 23 or 25 hours, and the hour repeated in autumn is one
// hourly bucket.
func ApplyPolicy(list []Candidate, p Policy, loc *time.Location, now time.Time) []Decision {
	sorted := make([]Candidate, 0, len(list))
	var unknown []Candidate
	for _, c := range list {
		if c.Time.IsZero() {
			unknown = append(unknown, c)
		} else {
			sorted = append(sorted, c)
		}
	}
	sort.SliceStable(sorted, func(i, j int) bool {
		if !sorted[i].Time.Equal(sorted[j].Time) {
			return sorted[i].Time.After(sorted[j].Time)
		}
		return idAfter(sorted[i].ID, sorted[j].ID)
	})
	rules := bucketRules(p)
	var latest time.Time
	for _, c := range sorted {
		if !c.Time.After(now) {
			latest = c.Time
			break
		}
	}
	out := make([]Decision, 0, len(list))
	for nr, c := range sorted {
		d := Decision{ID: c.ID, Time: c.Time}
		if c.Protected != "" {
			d.Reasons = append(d.Reasons, c.Protected)
		}
		t := c.Time
		if loc != nil {
			t = t.In(loc)
		}
		oldest := nr == len(sorted)-1
		for i := range rules {
			if why := rules[i].take(t, nr, oldest); why != "" {
				d.Reasons = append(d.Reasons, why)
			}
		}
		if p.Within > 0 && c.Time.After(latest.Add(-p.Within)) {
			d.Reasons = append(d.Reasons, "within "+FormatDays(p.Within))
		}
		d.Keep = len(d.Reasons) > 0
		out = append(out, d)
	}
	for _, c := range unknown {
		d := Decision{ID: c.ID, Keep: true}
		if c.Protected != "" {
			d.Reasons = append(d.Reasons, c.Protected)
		}
		d.Reasons = append(d.Reasons, ReasonUnknownTime)
		out = append(out, d)
	}
	return out
}

// bucketRule is one counted rule of a Policy as it walks the backups newest first.
type bucketRule struct {
	name  string
	count int                      // left to keep; -1: every bucket
	key   func(t time.Time) string // the bucket of a time ("" for last: every backup its own)
	label func(t time.Time) string // the bucket in the reasons
	last  string                   // the bucket of the backup this rule kept last
	taken bool                     // it has kept one
	total int                      // the count asked for (for "last N")
}

// bucketRules are p's counted rules in restic's order: last, hourly, daily, weekly,
// monthly, yearly.
func bucketRules(p Policy) []bucketRule {
	day := func(t time.Time) string { return t.Format("2006-01-02") }
	hour := func(t time.Time) string { return t.Format("2006-01-02 15:00") }
	week := func(t time.Time) string {
		y, w := t.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	}
	month := func(t time.Time) string { return t.Format("2006-01") }
	year := func(t time.Time) string { return strconv.Itoa(t.Year()) }
	return []bucketRule{
		{name: "last", count: p.Last, total: p.Last},
		{name: "hourly", count: p.Hourly, key: hour, label: hour},
		{name: "daily", count: p.Daily, key: day, label: day},
		{name: "weekly", count: p.Weekly, key: week, label: week},
		{name: "monthly", count: p.Monthly, key: month, label: month},
		{name: "yearly", count: p.Yearly, key: year, label: year},
	}
}

// take tells whether the rule keeps the backup at t (the nr-th newest; oldest: the last
// of the list) and why ("" when it does not): the first of a bucket while count is left,
// and the oldest backup while count is left even when its bucket is already kept.
func (r *bucketRule) take(t time.Time, nr int, oldest bool) string {
	if r.count == 0 || r.count < -1 {
		return ""
	}
	if r.key == nil { // last: every backup is a bucket of its own
		if r.count > 0 {
			r.count--
		}
		if r.total < 0 {
			return "last (all)"
		}
		return "last " + strconv.Itoa(r.total)
	}
	k := r.key(t)
	same := r.taken && k == r.last
	if same && !oldest {
		return ""
	}
	r.last, r.taken = k, true
	if r.count > 0 {
		r.count--
	}
	why := r.name + " " + r.label(t)
	if same {
		why = "oldest " + why
	}
	return why
}

// FormatDays writes a duration in days when it is a whole number of them ("30d"), else as
// Go does ("36h0m0s").
func FormatDays(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}
