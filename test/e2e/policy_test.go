package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// policyCompose: the stand-in bot with a data volume backed up always and a media volume
// whose x-maim key says never (%s is the bot image).
const policyCompose = `services:
  bot:
    image: %s
    volumes: [botdata:/bot/data, media:/media]
volumes:
  botdata: {}
  media:
    x-maim:
      backup: never
`

// TestSourcePolicyNever: a volume whose policy is never is listed as not protected in the
// upgrade's plan, left out of the upgrade's backup (the manifest says why), and left as
// it is by the rollback, which says so; the data volume beside it is rolled back. A
// manual backup still takes it, unless --exclude-source names it; --source-policy
// media=always puts it back into the upgrade's plan.
func TestSourcePolicyNever(t *testing.T) {
	t.Parallel()
	p := newProject(t, "policy-never", "")
	p.WriteCompose(fmt.Sprintf(policyCompose, p.Bot("1.0.0")))
	compose(t, p, "up", "-d", "--wait")
	data, media := p.Name+"_botdata", p.Name+"_media"
	p.putTar(data, map[string]string{"before.txt": "data before\n"})
	p.putTar(media, map[string]string{"before.txt": "media before\n"})

	dry := mustOK(t, p.maim("upgrade", "--force", "--dry-run"))
	if !strings.Contains(dry.Stdout, "media") || !strings.Contains(dry.Stdout, "not protected") || !strings.Contains(dry.Stdout, "backup: never") {
		t.Errorf("the plan does not list media as not protected: %s", dry)
	}
	dry = mustOK(t, p.maim("upgrade", "--force", "--dry-run", "--source-policy", "media=always"))
	if strings.Contains(dry.Stdout, "not protected") {
		t.Errorf("--source-policy media=always: the plan still leaves media out: %s", dry)
	}
	wantFail(t, p.maim("upgrade", "--force", "--dry-run", "--source-policy", "nosuch=never"), 12, "nosuch", "no such data source")

	up := mustOK(t, p.maim("upgrade", "--force", "--stable-period", "1s", "--timeout", "2m"))
	id := regexpFind(t, `backup (\S+);`, up.Stdout)
	raw, err := os.ReadFile(filepath.Join(p.BackupDir, p.Name, id, "manifest.json"))
	must(t, err)
	m := p.manifest(id)
	if m.has("media") || !m.has("botdata") {
		t.Errorf("upgrade backup %s: sources %+v, want botdata and not media", id, m.Sources)
	}
	if !strings.Contains(string(raw), `"left_out"`) || !strings.Contains(string(raw), "backup policy never") {
		t.Errorf("the manifest does not say media was left out: %s", raw)
	}

	p.putTar(data, map[string]string{"after.txt": "data after\n"})
	p.putTar(media, map[string]string{"after.txt": "media after\n"})
	rb := mustOK(t, p.maim("rollback", "--stable-period", "1s", "--timeout", "2m"))
	if !strings.Contains(rb.Stdout+rb.Stderr, "media: not in this backup") {
		t.Errorf("the rollback does not say it left media alone: %s", rb)
	}
	if _, err := os.Stat(filepath.Join(p.readVolume(data), "after.txt")); err == nil {
		t.Error("botdata was not rolled back: after.txt is still there")
	}
	mediaDir := p.readVolume(media)
	for _, f := range []string{"before.txt", "after.txt"} {
		if _, err := os.Stat(filepath.Join(mediaDir, f)); err != nil {
			t.Errorf("media was touched by the rollback: %s: %v", f, err)
		}
	}

	// A manual backup takes media all the same; --exclude-source leaves it out.
	if m := p.manifest(p.backup()); !m.has("media") {
		t.Error("a manual backup left the never source media out")
	}
	ex := mustOK(t, p.maim("backup", "--exclude-source", "media"))
	if m := p.manifest(backupID(t, ex)); m.has("media") || !m.has("botdata") {
		t.Errorf("backup --exclude-source media: sources %+v", m.Sources)
	}
	if !strings.Contains(ex.Stdout, "not backed up: media: left out by --exclude-source") {
		t.Errorf("backup --exclude-source does not say so: %s", ex)
	}
}
