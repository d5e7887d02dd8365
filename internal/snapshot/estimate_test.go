//go:build linux || darwin

package snapshot

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/fsaccess"
	"github.com/docker-maim/docker-maim/internal/project"
)

// TestEstimateBackupCountsTheIncrement: with a real tree and the real index its last backup
// kept, the estimate of the next backup counts exactly the content of the files changed
// since (what that backup then archives), about nothing for an unchanged tree, and the
// full size without a base (no backup yet, --full).
func TestEstimateBackupCountsTheIncrement(t *testing.T) {
	r := newIncRig(t)
	ctx := context.Background()
	writeFiles(t, r.data, map[string]int{"a.bin": 300 << 10, "sub/b.bin": 700 << 10, "keep.bin": 5000, "big/x.bin": 2 << 20})
	estimate := func(opts BackupOptions) SourceEstimate {
		t.Helper()
		full, err := fsaccess.Measure(ctx, r.data, nil)
		if err != nil {
			t.Fatal(err)
		}
		e := r.s.EstimateBackup(ctx, r.p, []project.Source{r.src}, opts, map[string]int64{r.src.Name: full})[r.src.Name]
		if e.Base == "" && e.Bytes != full {
			t.Fatalf("counted whole: %+v, want the full %d bytes", e, full)
		}
		return e
	}
	if e := estimate(BackupOptions{}); e.Base != "" || e.Whole != "" {
		t.Fatalf("no backup yet: %+v, want the full size and no reason", e)
	}
	// Wait out the index's margin: files untouched since must count as untouched.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(3*time.Second + 50*time.Millisecond)))
	b1 := r.backup(false, BackupOptions{})

	e := estimate(BackupOptions{})
	if e.Base != b1.Name || e.Changed != 0 || e.Bytes <= 0 || e.Bytes > 16<<10 {
		t.Fatalf("unchanged tree: %+v, want an increment over %s of a few KB of metadata", e, b1.Name)
	}
	if w := estimate(BackupOptions{Full: true}); w.Base != "" || w.Whole != "--full" {
		t.Fatalf("--full: %+v, want the full size", w)
	}

	writeFiles(t, r.data, map[string]int{"sub/b.bin": 1234, "new/d.bin": 77})
	must(t, os.Remove(filepath.Join(r.data, "keep.bin")))
	e = estimate(BackupOptions{})
	if e.Base != b1.Name || e.Changed != 1234+77 || e.Bytes < e.Changed {
		t.Fatalf("changed tree: %+v, want exactly %d changed bytes over %s", e, 1234+77, b1.Name)
	}
	b2 := r.backup(false, BackupOptions{})
	if b2.Base == nil || b2.Base.ID != b1.Name || b2.Bytes != e.Changed {
		t.Fatalf("the backup archived %d content bytes over %+v; the estimate said %d over %s", b2.Bytes, b2.Base, e.Changed, b1.Name)
	}
}
