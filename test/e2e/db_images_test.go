package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/testrig"
)

// The test database images (scripts/db-images.sh): real servers built FROM scratch, kept
// between runs. test/dbimage/README.md says what each holds.
const (
	pgImage15      = "maim-test-postgres:15"
	mariadbImage   = "maim-test-mariadb:10.11"
	dbImagesScript = "scripts/db-images.sh"
)

var dbImages struct {
	mu    sync.Mutex
	ready map[string]bool
}

// requireDBImages makes sure images exist and are up to date by running
// scripts/db-images.sh (which builds only what is missing or stale: one `docker image
// inspect` each when nothing is). When the script fails the test fails in CI or with
// MAIM_REQUIRE_DB_IMAGES set, and is skipped, saying why, elsewhere (it needs npm and
// Debian's apt to build them the first time).
func requireDBImages(t *testing.T, images ...string) {
	t.Helper()
	dbImages.mu.Lock()
	defer dbImages.mu.Unlock()
	var todo []string
	for _, img := range images {
		if !dbImages.ready[img] {
			todo = append(todo, img)
		}
	}
	if len(todo) == 0 {
		return
	}
	root, err := testrig.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{dbImagesScript}, todo...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if testrig.InCI() || os.Getenv("MAIM_REQUIRE_DB_IMAGES") != "" {
			t.Fatalf("%s %s: %v\n%s", dbImagesScript, strings.Join(todo, " "), err, out)
		}
		t.Skipf("SKIPPED: the test database images could not be built (%s %s: %v; set MAIM_REQUIRE_DB_IMAGES=1 to fail instead)\n%s",
			dbImagesScript, strings.Join(todo, " "), err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
	if dbImages.ready == nil {
		dbImages.ready = map[string]bool{}
	}
	for _, img := range todo {
		dbImages.ready[img] = true
	}
}

// execIn runs args in container ctr (docker exec -i) with stdin and returns its stdout; it
// fails the test when the command fails, showing the container's state and log.
func execIn(t testing.TB, ctr, stdin string, args ...string) string {
	t.Helper()
	r := execInE(t, ctr, stdin, args...)
	if r.Code != 0 {
		logs, _ := exec.Command("docker", "logs", "-n", "40", ctr).CombinedOutput()
		ps, _ := exec.Command("docker", "ps", "-a", "--filter", "name="+ctr, "--format", "{{.ID}} {{.Status}} {{.CreatedAt}}").CombinedOutput()
		t.Fatalf("in %s: %s\n--- the container (%s), its log's end:\n%s", ctr, r, strings.TrimSpace(string(ps)), logs)
	}
	return r.Stdout
}

// execInE is execIn returning what the command did, failed or not.
func execInE(t testing.TB, ctr, stdin string, args ...string) Result {
	t.Helper()
	return dockerIn(t, "", nil, stdin, append([]string{"exec", "-i", ctr}, args...)...)
}

// lastLineWith is the last line of s containing sub ("" if none).
func lastLineWith(s, sub string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], sub) {
			return lines[i]
		}
	}
	return ""
}

// waitHealthy waits until the engine reports container ctr healthy (its healthcheck passed
// since it last started); it fails the test after about two minutes.
func waitHealthy(t testing.TB, ctr string) {
	t.Helper()
	var state string
	for i := 0; i < 600; i++ {
		out, err := exec.Command("docker", "inspect", "-f", "{{.State.Status}} {{.State.Health.Status}}", ctr).Output()
		state = strings.TrimSpace(string(out))
		if err == nil && state == "running healthy" {
			return
		}
		sleepPoll()
	}
	t.Fatalf("%s did not become healthy: %q\n%s", ctr, state, logsOf(t, ctr))
}
