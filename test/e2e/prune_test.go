package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPruneKeepsUnreadableAndLastUpgrade: `prune --keep 1` (the lowest keep it accepts)
// leaves a backup written by a newer docker-maim (manifest format_version 99) and the last
// upgrade's backup with its image pin, says why it kept each, and removes the rest. Today's
// code removed both: an unreadable backup whatever --keep says, and the upgrade backup as
// one older than the newest.
func TestPruneKeepsUnreadableAndLastUpgrade(t *testing.T) {
	t.Parallel()
	bp := newBotProject(t, "prunerules", "")
	b0 := bp.backup("--full")

	// A backup from a newer docker-maim: b0's archives under a manifest this build cannot read.
	newer := b0 + "-9"
	must(t, os.CopyFS(bp.backupPath(newer), os.DirFS(bp.backupPath(b0))))
	raw, err := os.ReadFile(filepath.Join(bp.backupPath(newer), "manifest.json"))
	must(t, err)
	var man map[string]any
	must(t, json.Unmarshal(raw, &man))
	man["format_version"], man["id"] = 99, newer
	raw, err = json.Marshal(man)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(bp.backupPath(newer), "manifest.json"), raw, 0o600))

	bp.setEnv("BOT_VERSION", "2.0.0")
	u1 := upgraded(t, bp.maim(append(upgradeArgs, "--full")...), bp.Name, bp.repo+":1.0.0", bp.repo+":2.0.0")
	pin := "docker-maim/pin:" + bp.Name + ".bot." + u1
	if bp.imageID(pin) != bp.v1ID {
		t.Fatalf("pin %s is not the v1 image %s", pin, bp.v1ID)
	}
	b2 := bp.backup("--full") // whole: no base kept for it (incremental backups: TestIncrementalBackups)
	b3 := bp.backup("--full")

	// The JSON dry run names the rule that keeps each backup.
	r := mustOK(t, bp.maim("prune", "--keep", "1", "--dry-run", "--format", "json"))
	var res struct {
		Removed []struct{ ID string } `json:"removed"`
		Kept    []struct{ ID, Rule, Why string }
	}
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("prune --format json: %v\n%s", err, r)
	}
	rules := map[string]string{}
	for _, k := range res.Kept {
		rules[k.ID] = k.Rule
		if k.Why == "" {
			t.Errorf("kept %s without saying why: %s", k.ID, r.Stdout)
		}
	}
	want := map[string]string{b3: "newest", u1: "last-upgrade", newer: "unreadable"}
	if len(rules) != len(want) || len(res.Removed) != 2 {
		t.Errorf("prune --keep 1 --dry-run: kept %v, want %v; removed %v", rules, want, res.Removed)
	}
	for id, rule := range want {
		if rules[id] != rule {
			t.Errorf("backup %s kept by %q, want %q\n%s", id, rules[id], rule, r.Stdout)
		}
	}

	r = mustOK(t, bp.maim("prune", "--keep", "1"))
	for _, line := range []string{"removed " + b0 + " ", "removed " + b2 + " ", "kept " + newer + ": its manifest cannot be read", "kept " + u1 + ": the last upgrade's backup"} {
		if !strings.Contains(r.Stdout, line) {
			t.Errorf("prune output does not say %q:\n%s", line, r.Stdout)
		}
	}
	for id, present := range map[string]bool{b0: false, newer: true, u1: true, b2: false, b3: true} {
		if _, err := os.Stat(bp.backupPath(id)); (err == nil) != present {
			t.Errorf("backup %s present=%v after prune --keep 1, want %v", id, err == nil, present)
		}
	}
	if got := bp.manifest(newer).FormatVersion; got != 99 {
		t.Errorf("the newer backup's manifest was rewritten: format_version %d", got)
	}
	if bp.imageID(pin) != bp.v1ID {
		t.Errorf("prune removed the pin %s of the last upgrade's backup", pin)
	}
	bp.wantUpChangesNothing()

	// --include-unreadable removes the unreadable one; the last upgrade's backup stays.
	r = mustOK(t, bp.maim("prune", "--keep", "1", "--include-unreadable"))
	if _, err := os.Stat(bp.backupPath(newer)); err == nil {
		t.Errorf("prune --include-unreadable left %s:\n%s", newer, r.Stdout)
	}
	if _, err := os.Stat(bp.backupPath(u1)); err != nil {
		t.Errorf("prune --include-unreadable removed the last upgrade's backup %s:\n%s", u1, r.Stdout)
	}
}
