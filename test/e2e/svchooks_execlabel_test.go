package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/testrig"
)

// execLabelCompose: db and app each have an offen archive-pre command in a different
// exec-label group; backup runs an image named offen/docker-volume-backup (the shell image
// under that name) with EXEC_LABEL=database, as an offen user's compose file has it.
const execLabelCompose = `services:
  db:
    image: %[1]s:1.0.0
    volumes: [dbdata:/data]
    labels:
      docker-volume-backup.exec-label: database
      docker-volume-backup.archive-pre: "echo db > /data/pre"
  app:
    image: %[1]s:1.0.0
    volumes: [appdata:/data]
    labels:
      docker-volume-backup.exec-label: web
      docker-volume-backup.archive-pre: "echo app > /data/pre"
  backup:
    image: %[2]s
    environment:
      EXEC_LABEL: database
volumes: {dbdata: {}, appdata: {}}
`

// TestExecLabelRunsOnlyItsGroup: offen's EXEC_LABEL on the project's offen service: `backup`
// runs db's archive-pre (exec-label database) and not app's (exec-label web), and the
// dry-run of an upgrade lists app's as not run, with why.
func TestExecLabelRunsOnlyItsGroup(t *testing.T) {
	t.Parallel()
	p := newShellProject(t, "svchooks-execlabel", "")
	repo := testrig.Registry() + "/" + p.Name + "/sh"
	offen := testrig.Registry() + "/" + p.Name + "/offen/docker-volume-backup:v2"
	p.TrackImage(offen)
	mustOK(t, docker(t, "", nil, "tag", repo+":1.0.0", offen))
	p.WriteCompose(fmt.Sprintf(execLabelCompose, repo, offen))
	compose(t, p, "up", "-d")

	dry := mustOK(t, p.maim("upgrade", "--force", "--dry-run"))
	if !strings.Contains(dry.Stdout, `app: label "docker-volume-backup.archive-pre" is not run: its docker-volume-backup.exec-label "web" is not the EXEC_LABEL of "database" (service backup)`) {
		t.Errorf("the plan does not say app's archive-pre is not run:\n%s", dry.Stdout)
	}
	mustOK(t, p.maim("backup"))
	if out, code := p.execOut("db", "cat /data/pre"); code != 0 || out != "db" {
		t.Errorf("db's archive-pre (its group) did not run: %q (exit %d)", out, code)
	}
	if out, code := p.execOut("app", "cat /data/pre"); code == 0 {
		t.Errorf("app's archive-pre (another group) ran: %q", out)
	}
}
