package upgrade

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/backup"
)

// freeRepo is a local repository that reports a set amount of free space.
type freeRepo struct {
	backup.LocalDir
	free int64
}

func (f freeRepo) FreeBytes() int64 { return f.free }

// TestPlanReservesRoomForTheBackup: the plan refuses, before anything stops, a backup dir
// with less room than the data, a margin, and (two-pass, the default while services run)
// the delta the stopped pass writes; --one-pass needs no room for a delta.
func TestPlanReservesRoomForTheBackup(t *testing.T) {
	// What the plan measures of the rig's data (a 40 MiB sparse file and its directory).
	measure := func(t *testing.T, r *txRig) int64 {
		// Sparse: its size counts, nothing is written.
		if err := os.Truncate(r.data, 40<<20); err != nil {
			t.Fatal(err)
		}
		res, err := r.m.Upgrade(context.Background(), r.p, Options{DryRun: true, Health: fastHealth})
		if err != nil || res.Plan.BackupBytes < 40<<20 {
			t.Fatalf("Upgrade = %+v, %v", res, err)
		}
		return res.Plan.BackupBytes
	}
	data := measure(t, newTxRig(t))
	delta := data / deltaShare
	for _, tc := range []struct {
		name    string
		free    int64
		onePass bool
		refused bool
	}{
		{"two-pass, room for base and delta", data + 64<<20 + delta, false, false},
		{"two-pass, no room for the delta", data + 64<<20 + delta - 1, false, true},
		{"one-pass, room for the data", data + 64<<20, true, false},
		{"one-pass, no room", data + 64<<20 - 1, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTxRig(t)
			if got := measure(t, r); got != data {
				t.Fatalf("the rig measures %d bytes, the first one %d", got, data)
			}
			local := r.store.Repo.(backup.LocalDir)
			r.store.Repo = freeRepo{LocalDir: local, free: tc.free}
			r.m.Store, r.m.Snapshots.Store = r.store, r.store
			res, err := r.m.Upgrade(context.Background(), r.p, Options{DryRun: true, OnePass: tc.onePass, Health: fastHealth})
			if tc.refused {
				if err == nil || !strings.Contains(err.Error(), "not enough space for the backup") {
					t.Fatalf("Upgrade = %+v, %v; want a refusal for space", res, err)
				}
				return
			}
			if err != nil || res.Outcome != OutcomeDryRun {
				t.Fatalf("Upgrade = %+v, %v", res, err)
			}
			if res.Plan.BackupBytes != data {
				t.Errorf("BackupBytes %d, want %d", res.Plan.BackupBytes, data)
			}
		})
	}
}

// TestPlanCountsTheIncrement: once a backup of the data exists, the next upgrade's backup
// is an increment over it, and the plan counts what that increment can hold, not the
// data's full size: a backup dir with room for the increment but not for a full backup
// is accepted, with the base and the full size in the plan; --full is refused there.
func TestPlanCountsTheIncrement(t *testing.T) {
	r := newTxRig(t)
	big := filepath.Join(filepath.Dir(r.data), "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Truncate(big, 40<<20); err != nil { // sparse: its size counts, nothing is written
		t.Fatal(err)
	}
	// Wait out the index's margin: files untouched since the first backup must count as
	// untouched in the next.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(3*time.Second + 50*time.Millisecond)))
	first, err := r.m.Upgrade(context.Background(), r.p, Options{Health: fastHealth})
	if err != nil || first.Outcome != OutcomeUpgraded {
		t.Fatalf("first upgrade = %+v, %v", first, err)
	}
	// A newer image to upgrade to, and a backup dir with room for an increment only.
	r.eng.pullTo["bot:latest"] = "sha256:newer"
	r.eng.images["sha256:newer"] = true
	local := r.store.Repo.(backup.LocalDir)
	r.store.Repo = freeRepo{LocalDir: local, free: 64<<20 + 1<<20}
	r.m.Store, r.m.Snapshots.Store = r.store, r.store

	res, err := r.m.Upgrade(context.Background(), r.p, Options{DryRun: true, Health: fastHealth})
	if err != nil || res.Outcome != OutcomeDryRun {
		t.Fatalf("dry run with room for the increment = %+v, %v", res, err)
	}
	plan := res.Plan
	if plan.FullBackupBytes < 40<<20 || plan.BackupBytes <= 0 || plan.BackupBytes > 64<<10 {
		t.Fatalf("plan: backup %d bytes of %d in full; want a few KB of 40 MiB", plan.BackupBytes, plan.FullBackupBytes)
	}
	var based int
	for _, s := range plan.Sources {
		if s.IncrementOf != "" {
			based++
			if s.IncrementOf != first.BackupID || s.IncrementBytes != s.Estimate() {
				t.Errorf("source %+v: want an increment over %s", s, first.BackupID)
			}
		}
	}
	if based != 1 {
		t.Errorf("%d sources as increments, want the data dir: %+v", based, plan.Sources)
	}

	res, err = r.m.Upgrade(context.Background(), r.p, Options{DryRun: true, Full: true, Health: fastHealth})
	if err == nil || !strings.Contains(err.Error(), "not enough space for the backup") {
		t.Fatalf("--full without room for a full backup = %+v, %v; want a refusal for space", res, err)
	}
}
