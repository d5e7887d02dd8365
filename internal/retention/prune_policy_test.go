package retention

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"

	"github.com/docker-maim/docker-maim/internal/journal"
)

// inZone makes the Policy's buckets those of loc for the test.
func inZone(t *testing.T, loc *time.Location) {
	before := bucketZone
	bucketZone = loc
	t.Cleanup(func() { bucketZone = before })
}

// keptReasons maps each kept backup to its rule and reasons.
func keptReasons(res *maim.PruneResult) map[string][]string {
	out := map[string][]string{}
	for _, k := range res.Kept {
		out[k.ID] = append([]string{k.Rule + ":"}, k.Reasons...)
	}
	return out
}

// TestPrunePolicyKeepsBucketsAndWhatRollbackNeeds: a month of daily backups (with a safety
// backup and a broken one) pruned with --keep-daily 3 --keep-weekly 2: the buckets' newest
// stay with their reasons, the interrupted upgrade's backup and the last upgrade's (one
// also a daily, one that no rule keeps) stay, --keep counts nothing unless given, the
// incomplete one goes, and the dry run says what the real run then does.
func TestPrunePolicyKeepsBucketsAndWhatRollbackNeeds(t *testing.T) {
	inZone(t, time.UTC)
	r := newPruneRig(t)
	day := func(d int) time.Time { return time.Date(2026, 11, d, 12, 0, 0, 0, time.UTC) } // d > 30: December
	ids := map[int]string{}
	for d := 1; d <= 35; d++ {
		reason := "manual"
		switch d {
		case 34:
			reason = "upgrade" // no history: rollback's default target is the newest upgrade backup
		case 20:
			reason = "pre-rollback"
		}
		ids[d] = r.completeAs(day(d), reason)
	}
	broken := r.incomplete(day(35).Add(time.Hour))
	if err := r.m.Journals("demo").Save(&journal.Journal{Op: "upgrade", Phase: journal.PhaseHealth, BackupID: ids[2]}); err != nil {
		t.Fatal(err)
	}
	opts := maim.PruneOptions{Policy: maim.KeepPolicy{Daily: 3, Weekly: 2}}
	want := map[string][]string{
		ids[35]: {"policy:", "daily 2026-12-05", "weekly 2026-W49"}, // Sat 5 Dec: W49 runs Mon 30 Nov .. Sun 6 Dec
		ids[34]: {"last-upgrade:", "needed by rollback", "daily 2026-12-04"},
		ids[33]: {"policy:", "daily 2026-12-03"},
		ids[29]: {"policy:", "weekly 2026-W48"},
		ids[2]:  {"journal:", "needed by the interrupted upgrade"},
	}
	plan, err := Prune(context.Background(), r.m, "demo", func() maim.PruneOptions { o := opts; o.DryRun = true; return o }())
	if err != nil {
		t.Fatal(err)
	}
	if got := keptReasons(plan); !reflect.DeepEqual(got, want) {
		t.Fatalf("kept %v,\nwant %v", got, want)
	}
	done, err := Prune(context.Background(), r.m, "demo", opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(prunedIDs(done), prunedIDs(plan)) || !reflect.DeepEqual(keptReasons(done), want) {
		t.Errorf("the run removed %v, the dry run said %v", prunedIDs(done), prunedIDs(plan))
	}
	if len(done.Removed) != 35+1-len(want) || done.Removed[0].ID != broken || done.Removed[1].ID != ids[20] {
		t.Errorf("removed %v, want the incomplete one, then the safety backup, then the rest", prunedIDs(done))
	}
	left := r.ids()
	wantLeft := []string{ids[2], ids[29], ids[33], ids[34], ids[35]}
	if !reflect.DeepEqual(left, wantLeft) {
		t.Errorf("left %v, want %v", left, wantLeft)
	}
	for _, k := range done.Kept {
		if k.Time.IsZero() || k.Why == "" {
			t.Errorf("kept %+v without its time or why", k)
		}
	}
	if k := done.Kept[1]; k.ID != ids[34] || !strings.Contains(k.Why, "rollback") || !strings.Contains(k.Why, "also kept by daily 2026-12-04") {
		t.Errorf("the last upgrade's backup, also a daily, says %+v", k)
	}
	if k := done.Kept[0]; !strings.Contains(k.Why, "--keep-daily 3 --keep-weekly 2") {
		t.Errorf("a policy's keep does not name the flags: %q", k.Why)
	}
	if p := done.Removed[2]; !p.Time.Equal(day(32)) {
		t.Errorf("removed %+v, want the time of %s", p, ids[32])
	}
}

// TestPrunePolicyWithKeepAndOlderThan: --keep with a Policy keeps the newest besides the
// buckets; --older-than still spares the young; with a Policy, Keep 0 keeps none by count.
func TestPrunePolicyWithKeepAndOlderThan(t *testing.T) {
	inZone(t, time.UTC)
	r := newPruneRig(t)
	now := time.Now().UTC()
	var ids []string // oldest first: one a day, the newest an hour ago
	for d := 9; d >= 0; d-- {
		ids = append(ids, r.complete(now.Add(-time.Duration(d)*24*time.Hour-time.Hour)))
	}
	got, err := Prune(context.Background(), r.m, "demo", maim.PruneOptions{Policy: maim.KeepPolicy{Last: 1}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if rules := keptRules(got); !reflect.DeepEqual(rules, map[string]string{ids[9]: KeptPolicy}) {
		t.Errorf("--keep-last 1: kept %v", rules)
	}
	got, err = Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: 3, Policy: maim.KeepPolicy{Last: 1}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if rules := keptRules(got); !reflect.DeepEqual(rules, map[string]string{ids[9]: KeptPolicy, ids[8]: KeptNewest, ids[7]: KeptNewest, ids[6]: KeptNewest}) {
		t.Errorf("--keep 3 --keep-last 1: kept %v", rules)
	}
	got, err = Prune(context.Background(), r.m, "demo", maim.PruneOptions{Policy: maim.KeepPolicy{Within: 3 * 24 * time.Hour}, OlderThan: 5 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// ids[6] is exactly 3 days older than the newest: restic's cut is strict, so it is not
	// within; it and ids[5] (4 days and an hour old) are younger than --older-than.
	within, young := ids[7:], ids[5:7]
	rules := keptRules(got)
	for _, id := range within {
		if rules[id] != KeptPolicy {
			t.Errorf("%s (within 3d of the newest) kept by %q", id, rules[id])
		}
	}
	for _, id := range young {
		if rules[id] != KeptYoung {
			t.Errorf("%s (younger than --older-than) kept by %q", id, rules[id])
		}
	}
	if left := r.ids(); !slices.Equal(left, ids[5:]) {
		t.Errorf("left %v, want %v", left, ids[5:])
	}
}

// TestPrunePolicyLeavesOtherUsersAndUnrecorded: another user's backups and unrecorded ones
// take no bucket (they are not this user's to decide on), unless --include-unrecorded.
func TestPrunePolicyLeavesOtherUsersAndUnrecorded(t *testing.T) {
	inZone(t, time.UTC)
	e := newEnginesRig(t)
	mine := e.a.complete(old)
	root := e.rootA.complete(old.Add(time.Hour))
	legacy := e.legacy.complete(old.Add(2 * time.Hour))
	got, err := Prune(context.Background(), e.a.m, "demo", maim.PruneOptions{Policy: maim.KeepPolicy{Daily: 1}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{mine: KeptPolicy, root: KeptOtherUser, legacy: KeptUnrecorded}
	if rules := keptRules(got); !reflect.DeepEqual(rules, want) {
		t.Errorf("kept %v, want %v", rules, want)
	}
	got, err = Prune(context.Background(), e.a.m, "demo", maim.PruneOptions{Policy: maim.KeepPolicy{Daily: 1}, IncludeUnrecorded: true, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if rules := keptRules(got); rules[legacy] != KeptPolicy || rules[mine] != "" || !slices.Equal(prunedIDs(got), []string{mine}) {
		t.Errorf("--include-unrecorded: kept %v, removed %v; want the unrecorded (newest) as the daily", rules, prunedIDs(got))
	}
}
