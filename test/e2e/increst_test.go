package e2e

import (
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestIncrestPlanCountsTheIncrement: once a backup holds the project's data volume, the
// upgrade's plan counts the next backup by what its increment can hold (a few KB changed
// of 8 MiB), not the volume's full size: in the JSON plan (estimated_backup_bytes, with
// full_backup_bytes and the volume's increment_of) and in the plan's text.
func TestIncrestPlanCountsTheIncrement(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	s := loadSchemas(t)
	bp := newBotProject(t, "increst", "")
	vol := bp.volumeDir(bp.vol)
	big := make([]byte, 8<<20) // incompressible, so a full count cannot hide in compression
	_, err := rand.Read(big)
	must(t, err)
	writeTree(t, vol, map[string]string{"big.bin": string(big)})
	// Files written within the ctime margin of a backup's start count as changed: let the
	// file system clock move past it so the increment holds only the changes below.
	time.Sleep(3500 * time.Millisecond)
	b1 := bp.backup()
	writeTree(t, vol, map[string]string{"small.txt": strings.Repeat("k", 4000)})

	bp.setEnv("BOT_VERSION", "2.0.0")
	r := mustOK(t, bp.maim("upgrade", "--dry-run", "--accept-breaking", "--format", "json"))
	m := wantDoc(t, s, "upgrade.json", "upgrade --dry-run", r.Stdout)
	plan, _ := m["plan"].(map[string]any)
	if plan == nil {
		t.Fatalf("no plan: %s", r.Stdout)
	}
	est, full := jsonInt(plan["estimated_backup_bytes"]), jsonInt(plan["full_backup_bytes"])
	if est <= 4000 || est > 1<<20 || full < 8<<20 {
		t.Errorf("estimated_backup_bytes %v, full_backup_bytes %v: want the increment (a few KB) of %d MiB", est, full, 8)
	}
	var volume map[string]any
	srcs, _ := plan["sources"].([]any)
	for _, x := range srcs {
		if src, _ := x.(map[string]any); src != nil && src["kind"] == "volume" && strings.Contains(bp.vol, src["name"].(string)) {
			volume = src
		}
	}
	if volume == nil || volume["increment_of"] != b1 || jsonInt(volume["bytes"]) < 8<<20 {
		t.Errorf("the data volume in the plan: %v; want an increment over %s of its full 8 MiB", volume, b1)
	} else if inc := jsonInt(volume["increment_bytes"]); inc < 4000 || inc > 1<<20 {
		t.Errorf("the volume's increment_bytes %v, want about the 4 KB changed", inc)
	}

	r = mustOK(t, bp.maim("upgrade", "--dry-run", "--accept-breaking"))
	if !strings.Contains(r.Stdout, "(increments of backup "+b1+"; ") || !strings.Contains(r.Stdout, "in full)") {
		t.Errorf("the plan's text does not count the increment over %s:\n%s", b1, r.Stdout)
	}
	t.Logf("the plan's data sources:\n%s", r.Stdout[strings.Index(r.Stdout, "Data sources"):])
}

// jsonInt is a JSON number as the documents decode it (-1 when it is not one).
func jsonInt(v any) int64 {
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			return i
		}
	}
	return -1
}
