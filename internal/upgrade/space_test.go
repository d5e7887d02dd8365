package upgrade

import (
	"context"
	"os"
	"strings"
	"testing"

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
