package retention

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

// at is a UTC time from "2006-01-02 15:04".
func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// idAt is the backup ID a backup made at t gets (backup.Store.Begin).
func idAt(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// backupsEvery are candidates from first to last (inclusive), one every step.
func backupsEvery(first, last time.Time, step time.Duration) []Candidate {
	var out []Candidate
	for t := first; !t.After(last); t = t.Add(step) {
		out = append(out, Candidate{ID: idAt(t), Time: t})
	}
	return out
}

// backupsAt are candidates at the given UTC times ("2006-01-02 15:04").
func backupsAt(times ...string) []Candidate {
	var out []Candidate
	for _, s := range times {
		out = append(out, Candidate{ID: idAt(at(s)), Time: at(s)})
	}
	return out
}

// kept is what a case expects kept: the ID of a UTC time ("2006-01-02 15:04", or an ID as
// it is) -> its reasons.
type kept map[string][]string

func berlin(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone data for Europe/Berlin: %v", err)
	}
	return loc
}

// TestApplyPolicy: restic's rules over backups with fixed times, every other backup removed.
func TestApplyPolicy(t *testing.T) {
	now := at("2027-06-01 00:00")
	tie := []Candidate{ // given oldest last and the tie out of order: the order is the policy's
		{ID: "20261201T120000Z", Time: at("2026-12-01 12:00")},
		{ID: "20261201T110000Z", Time: at("2026-12-01 11:00")},
		{ID: "20261201T120000Z-2", Time: at("2026-12-01 12:00")},
	}
	dst := backupsAt("2026-10-24 21:30", "2026-10-24 22:30", "2026-10-25 00:30", "2026-10-25 01:30", "2026-10-25 02:30")
	month := backupsEvery(at("2026-10-01 00:00"), at("2026-11-10 18:00"), 6*time.Hour)  // 41 days, 4 a day
	weeks := backupsEvery(at("2026-11-16 12:00"), at("2026-12-03 12:00"), 24*time.Hour) // Mon 16 Nov .. Thu 3 Dec
	cases := []struct {
		name string
		list []Candidate
		p    Policy
		loc  *time.Location
		want kept
	}{
		{"last 3 of a month", month, Policy{Last: 3}, time.UTC, kept{
			"2026-11-10 18:00": {"last 3"}, "2026-11-10 12:00": {"last 3"}, "2026-11-10 06:00": {"last 3"}}},
		{"last with fewer backups than asked", backupsAt("2026-11-01 10:00", "2026-11-02 10:00"), Policy{Last: 5}, time.UTC, kept{
			"2026-11-01 10:00": {"last 5"}, "2026-11-02 10:00": {"last 5"}}},
		{"daily over a month: the newest of each of the 7 newest days", month, Policy{Daily: 7}, time.UTC, kept{
			"2026-11-10 18:00": {"daily 2026-11-10"}, "2026-11-09 18:00": {"daily 2026-11-09"}, "2026-11-08 18:00": {"daily 2026-11-08"},
			"2026-11-07 18:00": {"daily 2026-11-07"}, "2026-11-06 18:00": {"daily 2026-11-06"}, "2026-11-05 18:00": {"daily 2026-11-05"},
			"2026-11-04 18:00": {"daily 2026-11-04"}}},
		{"monthly over a month, count left: the oldest is kept too", month, Policy{Monthly: 3}, time.UTC, kept{
			"2026-11-10 18:00": {"monthly 2026-11"}, "2026-10-31 18:00": {"monthly 2026-10"}, "2026-10-01 00:00": {"oldest monthly 2026-10"}}},
		{"hourly at the hour's edges", backupsAt("2026-12-01 10:00", "2026-12-01 10:59", "2026-12-01 11:00", "2026-12-01 11:30", "2026-12-01 12:00"),
			Policy{Hourly: 2}, time.UTC, kept{"2026-12-01 12:00": {"hourly 2026-12-01 12:00"}, "2026-12-01 11:30": {"hourly 2026-12-01 11:00"}}},
		{"hourly with count left keeps the oldest", backupsAt("2026-12-01 10:00", "2026-12-01 10:59", "2026-12-01 11:00", "2026-12-01 11:30", "2026-12-01 12:00"),
			Policy{Hourly: 10}, time.UTC, kept{"2026-12-01 12:00": {"hourly 2026-12-01 12:00"}, "2026-12-01 11:30": {"hourly 2026-12-01 11:00"},
				"2026-12-01 10:59": {"hourly 2026-12-01 10:00"}, "2026-12-01 10:00": {"oldest hourly 2026-12-01 10:00"}}},
		{"weekly: ISO weeks from Monday, the week spanning November and December is one", weeks, Policy{Weekly: 3}, time.UTC, kept{
			"2026-12-03 12:00": {"weekly 2026-W49"}, "2026-11-29 12:00": {"weekly 2026-W48"}, "2026-11-22 12:00": {"weekly 2026-W47"}}},
		{"weekly with count left keeps the oldest of its week", weeks, Policy{Weekly: 4}, time.UTC, kept{
			"2026-12-03 12:00": {"weekly 2026-W49"}, "2026-11-29 12:00": {"weekly 2026-W48"}, "2026-11-22 12:00": {"weekly 2026-W47"},
			"2026-11-16 12:00": {"oldest weekly 2026-W47"}}},
		{"a week spanning months: monthly splits it, weekly does not", weeks, Policy{Weekly: 1, Monthly: 2}, time.UTC, kept{
			"2026-12-03 12:00": {"weekly 2026-W49", "monthly 2026-12"}, "2026-11-30 12:00": {"monthly 2026-11"}}},
		{"the ISO week across the new year, yearly by the calendar", backupsAt("2026-12-28 09:00", "2026-12-31 09:00", "2027-01-01 09:00", "2027-01-03 09:00", "2027-01-04 09:00"),
			Policy{Weekly: 2, Yearly: 2}, time.UTC, kept{
				"2027-01-04 09:00": {"weekly 2027-W01", "yearly 2027"}, "2027-01-03 09:00": {"weekly 2026-W53"}, "2026-12-31 09:00": {"yearly 2026"}}},
		{"days in UTC", dst, Policy{Daily: 2}, time.UTC, kept{
			"2026-10-25 02:30": {"daily 2026-10-25"}, "2026-10-24 22:30": {"daily 2026-10-24"}}},
		{"days in Berlin: 22:30Z on 24 October is 00:30 on the 25th there", dst, Policy{Daily: 2}, berlin(t), kept{
			"2026-10-25 02:30": {"daily 2026-10-25"}, "2026-10-24 21:30": {"daily 2026-10-24"}}},
		{"the hour repeated when daylight saving time ends is one hourly bucket", dst, Policy{Hourly: 3}, berlin(t), kept{
			"2026-10-25 02:30": {"hourly 2026-10-25 03:00"}, "2026-10-25 01:30": {"hourly 2026-10-25 02:00"}, "2026-10-24 22:30": {"hourly 2026-10-25 00:00"}}},
		{"ties: the same time, the greater collision suffix is the newer", tie, Policy{Last: 1, Daily: 1}, time.UTC, kept{
			"20261201T120000Z-2": {"last 1", "daily 2026-12-01"}}},
		{"ties within a day: the day's newest only", tie, Policy{Daily: 5}, time.UTC, kept{
			"20261201T120000Z-2": {"daily 2026-12-01"}, "20261201T110000Z": {"oldest daily 2026-12-01"}}},
		{"every rule 0 keeps nothing", month, Policy{}, time.UTC, kept{}},
		{"every rule kept the newest, each listed", month, Policy{Last: 1, Hourly: 1, Daily: 1, Weekly: 1, Monthly: 1, Yearly: 1}, time.UTC, kept{
			"2026-11-10 18:00": {"last 1", "hourly 2026-11-10 18:00", "daily 2026-11-10", "weekly 2026-W46", "monthly 2026-11", "yearly 2026"}}},
		{"unlimited (-1) keeps every day's newest and the oldest", backupsAt("2026-12-01 08:00", "2026-12-01 20:00", "2026-12-02 08:00", "2026-12-02 20:00"),
			Policy{Daily: -1}, time.UTC, kept{"2026-12-02 20:00": {"daily 2026-12-02"}, "2026-12-01 20:00": {"daily 2026-12-01"},
				"2026-12-01 08:00": {"oldest daily 2026-12-01"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkPolicy(t, c.list, c.p, c.loc, now, c.want)
		})
	}
}

// checkPolicy applies p and checks the kept backups and their reasons, that every other is
// removed without a reason, and the order (newest first).
func checkPolicy(t *testing.T, list []Candidate, p Policy, loc *time.Location, now time.Time, want kept) {
	t.Helper()
	wantByID := map[string][]string{}
	for k, v := range want {
		if tm, err := time.Parse("2006-01-02 15:04", k); err == nil {
			k = idAt(tm)
		}
		wantByID[k] = v
	}
	got := ApplyPolicy(list, p, loc, now)
	if len(got) != len(list) {
		t.Fatalf("%d decisions for %d backups", len(got), len(list))
	}
	gotKept := map[string][]string{}
	for i, d := range got {
		if d.Keep != (len(d.Reasons) > 0) {
			t.Errorf("%s: keep %v with reasons %q", d.ID, d.Keep, d.Reasons)
		}
		if d.Keep {
			gotKept[d.ID] = d.Reasons
		}
		if i > 0 && !d.Time.IsZero() && d.Time.After(got[i-1].Time) {
			t.Errorf("decisions not newest first: %s after %s", d.ID, got[i-1].ID)
		}
	}
	if !reflect.DeepEqual(gotKept, wantByID) {
		t.Errorf("kept:\n%s\nwant:\n%s", fmtKept(gotKept), fmtKept(wantByID))
	}
}

func fmtKept(m map[string][]string) string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	s := ""
	for _, id := range ids {
		s += fmt.Sprintf("  %s %q\n", id, m[id])
	}
	return s
}

// TestApplyPolicyWithin: --keep-within counts back from the newest backup that is not in
// the future; one dated in the future is kept (it is after the cut) but is not the
// reference.
func TestApplyPolicyWithin(t *testing.T) {
	now := at("2026-12-07 10:00")
	list := backupsAt("2026-12-09 10:00", "2026-12-07 09:00", "2026-11-27 09:00", "2026-11-07 10:00", "2026-11-07 08:00", "2026-11-01 09:00")
	checkPolicy(t, list, Policy{Within: 30 * 24 * time.Hour}, time.UTC, now, kept{
		"2026-12-09 10:00": {"within 30d"}, "2026-12-07 09:00": {"within 30d"}, "2026-11-27 09:00": {"within 30d"},
		"2026-11-07 10:00": {"within 30d"}})
	checkPolicy(t, list, Policy{Within: 36 * time.Hour, Last: 1}, time.UTC, now, kept{
		"2026-12-09 10:00": {"last 1", "within 36h0m0s"}, "2026-12-07 09:00": {"within 36h0m0s"}})
}

// TestApplyPolicyProtectedAndUnknown: a protected backup (one a rollback needs) is kept
// when no rule keeps it, counts in the buckets as any other, and lists its protection
// first; a backup of unknown time is kept and counts for no rule.
func TestApplyPolicyProtectedAndUnknown(t *testing.T) {
	now := at("2027-01-01 00:00")
	list := backupsAt("2026-12-05 10:00", "2026-12-04 10:00", "2026-12-03 10:00", "2026-11-01 10:00")
	list[3].Protected = "needed by rollback" // old: no rule keeps it
	list[0].Protected = "needed by the interrupted upgrade"
	list = append(list, Candidate{ID: "20261206T000000Z", Protected: ""}) // time unknown (its manifest's zero)
	want := kept{
		"2026-12-05 10:00": {"needed by the interrupted upgrade", "last 1", "daily 2026-12-05"},
		"2026-12-04 10:00": {"daily 2026-12-04"},
		"2026-11-01 10:00": {"needed by rollback"},
		"20261206T000000Z": {ReasonUnknownTime},
	}
	checkPolicy(t, list, Policy{Last: 1, Daily: 2}, time.UTC, now, want)
	// every rule 0: the protected ones and the undated one only
	checkPolicy(t, list, Policy{}, time.UTC, now, kept{
		"2026-12-05 10:00": {"needed by the interrupted upgrade"}, "2026-11-01 10:00": {"needed by rollback"}, "20261206T000000Z": {ReasonUnknownTime}})
}

func TestFormatDays(t *testing.T) {
	for d, want := range map[time.Duration]string{30 * 24 * time.Hour: "30d", 36 * time.Hour: "36h0m0s", time.Hour: "1h0m0s", 24 * time.Hour: "1d"} {
		if got := FormatDays(d); got != want {
			t.Errorf("FormatDays(%v) = %q, want %q", d, got, want)
		}
	}
}
