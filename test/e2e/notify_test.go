package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// webhook is a generic:// notification target in the test process, on 127.0.0.1 (the
// plugin runs on the host, so loopback reaches it). It records every message's body.
type webhook struct {
	mu     sync.Mutex
	bodies []string
	srv    *httptest.Server
}

// notifySecret is in the webhook's URL as shoutrrr URLs carry a token: never printed.
const notifySecret = "tok3n-0f-the-hook-8d1c5e"

func newWebhook(t *testing.T) *webhook {
	t.Helper()
	wh := &webhook{}
	wh.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if !strings.Contains(r.URL.String(), notifySecret) {
			http.Error(w, "wrong hook", http.StatusNotFound)
			return
		}
		wh.mu.Lock()
		wh.bodies = append(wh.bodies, string(b))
		wh.mu.Unlock()
	}))
	t.Cleanup(wh.srv.Close)
	return wh
}

// url is the shoutrrr URL of the webhook (generic+http: a plain-HTTP webhook).
func (wh *webhook) url() string {
	return "generic+" + wh.srv.URL + "/hooks/" + notifySecret + "?token=" + notifySecret
}

// shown is how docker-maim may show the target: scheme and host.
func (wh *webhook) shown() string { return "generic+" + wh.srv.URL }

// take returns the messages received so far and forgets them.
func (wh *webhook) take() []string {
	wh.mu.Lock()
	defer wh.mu.Unlock()
	out := wh.bodies
	wh.bodies = nil
	return out
}

func noNotifySecret(t *testing.T, r Result) {
	t.Helper()
	if strings.Contains(r.Stdout+r.Stderr, notifySecret) {
		t.Errorf("the output shows the notification URL's token: %s", r)
	}
}

// TestNotifyUpgradeRolledBack: the dry run lists the target (scheme and host only) and
// sends nothing; an upgrade that fails its health gate and rolls back (exit 10 as
// without --notify) sends exactly one message naming the project, what happened, the
// backup and the command to run next.
func TestNotifyUpgradeRolledBack(t *testing.T) {
	t.Parallel()
	wh := newWebhook(t)
	bp := newBotProject(t, "notify-rollback", "BOT_FAIL=crash\nBOT_FAIL_ON=2.0.0\n")
	bp.setEnv("BOT_VERSION", "2.0.0")

	r := mustOK(t, bp.maim(append(append([]string{}, upgradeArgs...), "--dry-run", "--notify", wh.url())...))
	if !strings.Contains(r.Stdout, "Notifications (how it ends): "+wh.shown()+"\n") {
		t.Errorf("the plan does not list the notification target %s: %s", wh.shown(), r)
	}
	noNotifySecret(t, r)
	r = mustOK(t, bp.maim(append(append([]string{}, upgradeArgs...), "--dry-run", "--format", "json", "--notify", wh.url())...))
	m := wantDoc(t, loadSchemas(t), "upgrade.json", "upgrade --dry-run --notify", r.Stdout)
	if plan, _ := m["plan"].(map[string]any); plan == nil || fmt.Sprint(plan["notify"]) != "["+wh.shown()+"]" {
		t.Errorf("the JSON plan's notify: %v", m["plan"])
	}
	noNotifySecret(t, r)
	if got := wh.take(); len(got) != 0 {
		t.Errorf("the dry run sent %q", got)
	}

	r = bp.maim(append(append([]string{}, upgradeArgs...), "--notify", wh.url())...)
	if r.Code != 10 {
		t.Fatalf("want exit 10 (failed and rolled back): %s", r)
	}
	noNotifySecret(t, r)
	id := regexpFind(t, `upgrade failed and was rolled back to backup (\S+): the project runs as before`, r.Stdout)
	got := wh.take()
	if len(got) != 1 {
		t.Fatalf("want exactly one message, got %d: %q\n%s", len(got), got, r)
	}
	t.Logf("the message:\n%s", got[0])
	for _, want := range []string{"upgrade of " + bp.Name + " rolled back: ", "\nBackup: " + id + " ", "\nTried: bot: ", "\nNext: docker maim -p " + bp.Name + " status\n"} {
		if !strings.Contains(got[0], want) {
			t.Errorf("the message lacks %q:\n%s", want, got[0])
		}
	}
	bp.wantBot("1.0.0")
}

// TestNotifyBackup: a successful backup sends nothing unless --notify-on always (here by
// MAIM_NOTIFY); a failed backup sends its failure; an unreachable target is a warning
// and the exit code stays what it is without --notify, on success and on failure.
func TestNotifyBackup(t *testing.T) {
	t.Parallel()
	wh := newWebhook(t)
	bp := newBotProject(t, "notify-backup", "")
	unreachable := "generic+http://127.0.0.1:1/hooks/" + notifySecret // nothing listens on port 1

	// A URL of no known service is a usage error before anything runs, its token unshown.
	r := bp.maim("backup", "--notify", "nosuch://"+notifySecret+"@host/x")
	wantFail(t, r, 125, "--notify nosuch://host")
	noNotifySecret(t, r)
	if rows := bp.backups(); len(rows) != 0 {
		t.Errorf("a backup with an unusable --notify was made: %+v", rows)
	}

	r = mustOK(t, bp.maim("backup", "--notify", wh.url()))
	noNotifySecret(t, r)
	if got := wh.take(); len(got) != 0 {
		t.Errorf("a successful backup sent %q without --notify-on always", got)
	}

	env := []string{"COMPOSE_PROJECT_NAME=" + bp.Name, "MAIM_NOTIFY=" + unreachable + "," + wh.url()}
	r = mustOK(t, maimEnv(t, bp.Dir, env, "backup", "--notify-on", "always"))
	noNotifySecret(t, r)
	id := backupID(t, r)
	got := wh.take()
	if len(got) != 1 || !strings.Contains(got[0], "backup of "+bp.Name+" done\n") || !strings.Contains(got[0], "Backup: "+id+"\n") {
		t.Errorf("--notify-on always: want one message of backup %s, got %q", id, got)
	}
	if !strings.Contains(r.Stderr, "WARNING: the notification to generic+http://127.0.0.1:1 was not sent: ") {
		t.Errorf("the unreachable target is not warned about: %s", r)
	}

	// A backup that fails: its backup dir is a file.
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	plain := bp.maim("backup", "--backup-dir", file)
	if plain.Code == 0 {
		t.Fatalf("a backup into a file succeeded: %s", plain)
	}
	r = bp.maim("backup", "--backup-dir", file, "--notify", unreachable, "--notify", wh.url())
	if r.Code != plain.Code {
		t.Errorf("with an unreachable target the failed backup exits %d, without --notify %d: %s", r.Code, plain.Code, r)
	}
	noNotifySecret(t, r)
	if !strings.Contains(r.Stderr, "WARNING: the notification to generic+http://127.0.0.1:1 was not sent: ") {
		t.Errorf("the unreachable target is not warned about: %s", r)
	}
	got = wh.take()
	if len(got) != 1 || !strings.Contains(got[0], "backup of "+bp.Name+" failed: ") || !strings.Contains(got[0], "Next: docker maim -p "+bp.Name+" status\n") {
		t.Errorf("the failed backup: want one message naming %s, got %q", bp.Name, got)
	}
}
