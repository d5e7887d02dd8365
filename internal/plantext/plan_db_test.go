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
