package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The database major-version check of the plan against a real engine. The database images
// are stand-ins: the stand-in bot (FROM scratch, one static binary that runs and is
// healthy) with only PostgreSQL's environment added (PG_MAJOR, PGDATA). That is honest
// here: the plan reads only the image's environment and the data directory's PG_VERSION,
// through the engine, and no PostgreSQL server ever runs.

const dbMajorCompose = `services:
  db:
    image: ${DB_IMAGE}
    volumes:
      - pgdata:/var/lib/postgresql/data
volumes:
  pgdata:
`

// pgStandIn is the project's stand-in PostgreSQL image of major (tag pgTAG).
func pgStandIn(p *project, tag, major string) string {
	return p.Derive("1.0.0", "pg"+tag, nil, "ENV PG_MAJOR="+major, "ENV PG_VERSION="+major+".0", "ENV PGDATA=/var/lib/postgresql/data")
}

// TestUpgradeDatabaseMajor: service db runs stand-in PostgreSQL 15 on a volume whose data
// dir holds PG_VERSION 15. An upgrade to 16 is refused with exit 12 even with
// --accept-breaking, saying the majors and the way forward (text and JSON, which matches
// the schema; a dry-run lists it); nothing stopped: the same container still runs. 15 -> another 15 image
// upgrades. Then, on data of 16 running 16, going back to a 15 image is refused as a
// downgrade, nothing stopped.
func TestUpgradeDatabaseMajor(t *testing.T) {
	t.Parallel()
	p := newProject(t, "dbmajor", dbMajorCompose)
	pg15, pg151, pg16 := pgStandIn(p, "15", "15"), pgStandIn(p, "15.1", "15"), pgStandIn(p, "16", "16")
	setImage := func(ref string) { p.WriteFile(".env", "DB_IMAGE="+ref+"\n") }
	setImage(pg15)
	compose(t, p, "up", "-d", "--wait")
	pgVersion := filepath.Join(p.volumeDir(p.Name+"_pgdata"), "PG_VERSION")
	if err := os.WriteFile(pgVersion, []byte("15\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	running := func() string {
		t.Helper()
		c, ok := p.containers()["db"]
		if !ok || c.State == nil || !c.State.Running {
			t.Fatalf("service db does not run: %+v", c)
		}
		return c.ID
	}
	id := running()

	// 15 -> 16: refused, nothing stopped, the way forward said.
	setImage(pg16)
	r := p.maim("upgrade", "--accept-breaking", "--stable-period", "3s", "--timeout", "2m")
	wantFail(t, r, 12, "database db:", "written by PostgreSQL 15", "runs PostgreSQL 16", "pg_dumpall", "put service db's image back to "+pg15)
	for _, want := range []string{"database db: postgresql 15 -> 16, /var/lib/postgresql/data on pgdata: refused", "psql -U postgres"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("the refused plan does not say %q:\n%s", want, r.Stdout)
		}
	}
	if got := running(); got != id {
		t.Fatalf("db's container changed from %s to %s: the refusal stopped something", id, got)
	}
	r = p.maim("upgrade", "--format", "json")
	m := wantErrorDoc(t, loadSchemas(t), "upgrade.json", r, 12)
	plan, _ := m["plan"].(map[string]any)
	dbs, _ := plan["databases"].([]any)
	if m["outcome"] != "refused" || len(dbs) != 1 {
		t.Fatalf("JSON refusal: outcome %v, databases %v", m["outcome"], plan["databases"])
	}
	if db := dbs[0].(map[string]any); db["decision"] != "refused" || db["data_version"] != "15" || db["new_version"] != "16" || db["source"] != "pgdata" {
		t.Errorf("JSON database %v, want refused 15 -> 16 on pgdata", db)
	}
	// A dry-run lists the refusal, like a breaking change, and stops nothing either.
	r = mustOK(t, p.maim("upgrade", "--dry-run"))
	if !strings.Contains(r.Stdout, "database db: postgresql 15 -> 16, /var/lib/postgresql/data on pgdata: refused") {
		t.Errorf("the dry-run does not list the refusal:\n%s", r.Stdout)
	}
	if got := running(); got != id {
		t.Fatalf("db's container changed from %s to %s: the JSON refusal or the dry-run stopped something", id, got)
	}

	// 15 -> 15.1: the same major upgrades.
	setImage(pg151)
	r = mustOK(t, p.maim("upgrade", "--stable-period", "3s", "--timeout", "2m"))
	if got := running(); got == id {
		t.Errorf("db was not recreated on %s", pg151)
	}
	if h := p.containers()["db"]; h.Config == nil || h.Config.Image != pg151 {
		t.Errorf("db runs %v, want %s", h.Config, pg151)
	}

	// Data of 16 on 16, then back to a 15 image: refused as a downgrade.
	if err := os.WriteFile(pgVersion, []byte("16\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	setImage(pg16)
	mustOK(t, p.maim("upgrade", "--stable-period", "3s", "--timeout", "2m"))
	id = running()
	setImage(pg15)
	r = p.maim("upgrade", "--accept-breaking", "--stable-period", "3s", "--timeout", "2m")
	wantFail(t, r, 12, "database db:", "a downgrade", "written by PostgreSQL 16", "runs PostgreSQL 15")
	if got := running(); got != id {
		t.Fatalf("db's container changed from %s to %s: the downgrade's refusal stopped something", id, got)
	}
}
