package plantext

import (
	"bytes"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/api"
)

// TestPlanShowsDatabases: the text plan has one database line per database service
// (engine, the data's version -> the new one, data dir and source, decision), its reason,
// and a refused one's way forward numbered step by step.
func TestPlanShowsDatabases(t *testing.T) {
	var b bytes.Buffer
	Plan(&b, &api.Plan{Project: "shop", Databases: []api.Database{
		{Service: "db", Engine: api.DBPostgreSQL, DataVersion: "15", NewVersion: "16", DataDir: "/var/lib/postgresql/data", Source: "pgdata",
			Decision: api.DBRefused, Reason: "PostgreSQL 16 cannot open it", Recipe: []string{"put the image back", "pg_dumpall"}},
		{Service: "cache-db", Engine: api.DBPostgreSQL, NewVersion: "16", DataDir: "/var/lib/postgresql/data", Source: "cache",
			Decision: api.DBFresh, Reason: "no PG_VERSION"},
	}}, "")
	out := b.String()
	for _, want := range []string{
		"\nDatabases (the data directory's version against the new image's):\n",
		"  database db: postgresql 15 -> 16, /var/lib/postgresql/data on pgdata: refused\n    PostgreSQL 16 cannot open it\n    1. put the image back\n    2. pg_dumpall\n",
		"  database cache-db: postgresql - -> 16, /var/lib/postgresql/data on cache: fresh\n    no PG_VERSION\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan does not say %q:\n%s", want, out)
		}
	}
	b.Reset()
	Plan(&b, &api.Plan{Project: "shop"}, "")
	if strings.Contains(b.String(), "Databases") {
		t.Errorf("a plan without databases shows the section:\n%s", b.String())
	}
}

// TestPlanShowsMigration: a database --migrate-db moves shows its steps, numbered.
func TestPlanShowsMigration(t *testing.T) {
	var b bytes.Buffer
	Plan(&b, &api.Plan{Project: "shop", Databases: []api.Database{
		{Service: "db", Engine: api.DBPostgreSQL, DataVersion: "15", NewVersion: "16", DataDir: "/var/lib/postgresql/data", Source: "pgdata",
			Decision: api.DBMigrate, Reason: "--migrate-db: moved by a dump and a load",
			Migration: &api.DBMigration{Steps: []string{"dump", "load"}, DataBytes: 1, RateBytesPerSecond: 1}},
	}}, "")
	want := "  database db: postgresql 15 -> 16, /var/lib/postgresql/data on pgdata: migrate\n    --migrate-db: moved by a dump and a load\n    1. dump\n    2. load\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("the plan does not say %q:\n%s", want, b.String())
	}
}

// TestPlanSaysWhenAMigratedDumpIsTaken: a label's dump of a database --migrate-db moves is
// the migration's, taken after the other services stop; another database's label dump is
// taken before anything stops.
func TestPlanSaysWhenAMigratedDumpIsTaken(t *testing.T) {
	var b bytes.Buffer
	Plan(&b, &api.Plan{Project: "shop",
		Databases: []api.Database{{Service: "db", Engine: api.DBPostgreSQL, DataVersion: "15", NewVersion: "16",
			Decision: api.DBMigrate, Migration: &api.DBMigration{Steps: []string{"dump"}}}},
		ServiceHooks: &api.ServiceHooks{Dumps: []api.DumpRequest{
			{Service: "db", Kind: "postgres", From: "stack-back.postgres", Supported: true},
			{Service: "other", Kind: "postgres", From: "stack-back.postgres", Supported: true},
		}}}, "")
	for _, want := range []string{
		"  db: logical postgres dump (stack-back.postgres): the --migrate-db dump, taken once the other services stopped\n",
		"  other: logical postgres dump (stack-back.postgres): taken in its running container before anything stops\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the plan does not say %q:\n%s", want, b.String())
		}
	}
}
