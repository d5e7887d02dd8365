package e2e

import (
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/volume"
)

// TestIncrestPlanCountsTheIncrement: once a backup holds the project's data volume, the
// upgrade's plan counts the next backup by what its increment can hold (a few KB changed
// of 8 MiB), not the volume's full size: in the JSON plan (estimated_backup_bytes, with
// full_backup_bytes and the volume's increment_of), with the volume measured on the host
// path and inside a helper container (measure --since-stdin), and in the plan's text.
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
	// The volume's increment measured on the host path, then inside a helper container
	// (the host path disabled: the base's index goes on the helper's stdin).
	for _, env := range [][]string{nil, {volume.EnvNoHostPath + "=1"}} {
		r := maimEnv(t, bp.Dir, append([]string{"COMPOSE_PROJECT_NAME=" + bp.Name}, env...), "upgrade", "--dry-run", "--accept-breaking", "--format", "json")
		mustOK(t, r)
		planCountsIncrement(t, s, bp, b1, env, r.Stdout)
	}

	r := mustOK(t, bp.maim("upgrade", "--dry-run", "--accept-breaking"))
	if !strings.Contains(r.Stdout, "(increments of backup "+b1+"; ") || !strings.Contains(r.Stdout, "in full)") {
		t.Errorf("the plan's text does not count the increment over %s:\n%s", b1, r.Stdout)
	}
	t.Logf("the plan's data sources:\n%s", r.Stdout[strings.Index(r.Stdout, "Data sources"):])
}

// planCountsIncrement checks the JSON plan of upgrade --dry-run (run with env): the backup
// counted by the increment over b1 of the data volume (8 MiB, a few KB changed).
func planCountsIncrement(t *testing.T, s schemaSet, bp *botProject, b1 string, env []string, out string) {
	t.Helper()
	m := wantDoc(t, s, "upgrade.json", "upgrade --dry-run", out)
	plan, _ := m["plan"].(map[string]any)
	if plan == nil {
		t.Fatalf("%v: no plan: %s", env, out)
	}
	est, full := jsonInt(plan["estimated_backup_bytes"]), jsonInt(plan["full_backup_bytes"])
	if est <= 4000 || est > 1<<20 || full < 8<<20 {
		t.Errorf("%v: estimated_backup_bytes %v, full_backup_bytes %v: want the increment (a few KB) of 8 MiB", env, est, full)
	}
	var vol map[string]any
	srcs, _ := plan["sources"].([]any)
	for _, x := range srcs {
		if src, _ := x.(map[string]any); src != nil && src["kind"] == "volume" && strings.Contains(bp.vol, src["name"].(string)) {
			vol = src
		}
	}
	if vol == nil || vol["increment_of"] != b1 || jsonInt(vol["bytes"]) < 8<<20 {
		t.Errorf("%v: the data volume in the plan: %v; want an increment over %s of its full 8 MiB", env, vol, b1)
	} else if inc := jsonInt(vol["increment_bytes"]); inc < 4000 || inc > 1<<20 {
		t.Errorf("%v: the volume's increment_bytes %v, want about the 4 KB changed", env, inc)
	}
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
