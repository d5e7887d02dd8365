package plantext

import (
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/api"
)

// The estimate line names the increments' base and the full size; a plan of full
// backups only shows the size; a source counted whole says why.
func TestEstimateLine(t *testing.T) {
	p := &api.Plan{BackupBytes: 12_300_000, FullBackupBytes: 21_500_000_000, FreeBytes: 19_000_000_000,
		Sources: []api.SourceSize{
			{Name: "data", Bytes: 21_400_000_000, IncrementOf: "20261207-1200", IncrementBytes: 12_200_000},
			{Name: "db", Bytes: 100_000_000, Whole: "--full"},
		}}
	want := "estimated backup: up to 12.3MB (increments of backup 20261207-1200; 21.5GB in full), free in the backup dir: 19GB"
	if got := EstimateLine(p); got != want {
		t.Errorf("EstimateLine = %q, want %q", got, want)
	}
	if got := SourceSizeText(p.Sources[0]); got != "21.4GB (increment over 20261207-1200: up to 12.2MB)" {
		t.Errorf("increment: %q", got)
	}
	if got := SourceSizeText(p.Sources[1]); !strings.Contains(got, "counted whole: --full") {
		t.Errorf("whole: %q", got)
	}
	full := &api.Plan{BackupBytes: 1_000_000, FullBackupBytes: 1_000_000, FreeBytes: 2_000_000}
	if got := EstimateLine(full); got != "estimated backup: 1MB, free in the backup dir: 2MB" {
		t.Errorf("full backups: %q", got)
	}
}
