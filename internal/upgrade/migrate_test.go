package upgrade

import (
	"context"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/stack"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/docker-maim/docker-maim/internal/volume/volumetest"
)

// freeMover is a Mover whose targets have free bytes free (-1: unknown).
type freeMover struct {
	volumetest.DirMover
	free int64
}

func (f freeMover) FreeBytes(context.Context, volume.Target) int64 { return f.free }

func pgDB(decision, data, nw string) maim.Database {
	return maim.Database{Service: "db", Engine: maim.DBPostgreSQL, DataVersion: data, NewVersion: nw, DataDir: "/var/lib/postgresql/data", Source: "pgdata", Decision: decision, Recipe: []string{"by hand"}}
}

// TestMigrateDecision: --migrate-db turns only a PostgreSQL major rise of the named service
// into DBMigrate; a downgrade, another service, another engine stay refused.
func TestMigrateDecision(t *testing.T) {
	maria := pgDB(maim.DBRefused, "11.4.2", "10.11.1")
	maria.Engine = maim.DBMariaDB
	for _, tc := range []struct {
		name    string
		db      maim.Database
		migrate []string
		want    string
	}{
		{"15 -> 16 with the flag", pgDB(maim.DBRefused, "15", "16"), []string{"db"}, maim.DBMigrate},
		{"15 -> 17 with the flag", pgDB(maim.DBRefused, "15", "17"), []string{"db"}, maim.DBMigrate},
		{"15 -> 16 without", pgDB(maim.DBRefused, "15", "16"), nil, maim.DBRefused},
		{"another service named", pgDB(maim.DBRefused, "15", "16"), []string{"app"}, maim.DBRefused},
		{"a downgrade", pgDB(maim.DBRefused, "16", "15"), []string{"db"}, maim.DBRefused},
		{"a PG_VERSION that is no version", pgDB(maim.DBRefused, "", "16"), []string{"db"}, maim.DBRefused},
		{"the same major", pgDB(maim.DBSame, "16", "16"), []string{"db"}, maim.DBSame},
		{"MariaDB", maria, []string{"db"}, maim.DBRefused},
	} {
		got := migrateDecision(tc.db, tc.migrate)
		if got.Decision != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got.Decision, tc.want)
		}
		if got.Decision == maim.DBMigrate && (got.Recipe != nil || !strings.Contains(got.Reason, "--migrate-db")) {
			t.Errorf("%s: recipe %v, reason %q", tc.name, got.Recipe, got.Reason)
		}
	}
}

// TestPlanMigrations: the names are checked, a migration is planned with its estimate at
// the stated rate, the image's major-rise finding goes, the others stay; no rise is a note.
func TestPlanMigrations(t *testing.T) {
	newPl := func(migrate []string, dbs ...maim.Database) *planning {
		p := &project.Project{Project: &types.Project{Name: "p", Services: types.Services{
			"db": {Name: "db", ContainerSpec: types.ContainerSpec{Environment: types.NewMappingWithEquals([]string{"POSTGRES_USER=app"})}}, "app": {Name: "app"}}}}
		pl := &planning{p: p, data: p, opts: Options{MigrateDB: migrate}, plan: &Plan{}}
		pl.m = &Manager{Env: stack.Env{Snapshots: &snapshot.Service{Mover: freeMover{free: -1}}}}
		pl.srcs = []project.Source{{Name: "pgdata", Kind: project.KindVolume, VolumeName: "p_pgdata"}}
		pl.plan.Databases = dbs
		pl.plan.Sources = []SourceSize{{Name: "pgdata", Bytes: 400 << 20}}
		pl.plan.running = project.Running{IDs: map[string][]string{"db": {"c1"}}}
		pl.plan.Breaking = []maim.Finding{{Service: "db", Reason: "major version rises 15.18 -> 16.14"}, {Service: "db", Reason: "label says breaking"}}
		return pl
	}
	pl := newPl([]string{"db"}, migrateDecision(pgDB(maim.DBRefused, "15", "16"), []string{"db"}))
	if err := planMigrations(context.Background(), pl); err != nil {
		t.Fatal(err)
	}
	m := pl.plan.Databases[0].Migration
	if m == nil || m.DataBytes != 400<<20 || m.RateBytesPerSecond != migrateRate || m.Estimate.Seconds() != 10 {
		t.Fatalf("migration %+v, want 400 MiB at 40 MiB/s: 10s", m)
	}
	if pl.plan.Downtime != m.Estimate {
		t.Errorf("downtime %v, want the estimate added", pl.plan.Downtime)
	}
	if !strings.Contains(strings.Join(m.Steps, "\n"), "pg_dumpall -U app") {
		t.Errorf("steps %q", m.Steps)
	}
	if len(pl.plan.Breaking) != 1 || pl.plan.Breaking[0].Reason != "label says breaking" {
		t.Errorf("breaking %v, want only the label's finding", pl.plan.Breaking)
	}

	// The new cluster is written beside the old one: a volume with less free than the data
	// directory refuses; one whose free space is unknown (-1) goes ahead.
	pl = newPl([]string{"db"}, migrateDecision(pgDB(maim.DBRefused, "15", "16"), []string{"db"}))
	pl.m.Snapshots.Mover = freeMover{free: 300 << 20}
	if err := planMigrations(context.Background(), pl); err == nil || !strings.Contains(err.Error(), "pgdata has 314.6MB free") {
		t.Errorf("400 MiB of data, 300 MiB free: %v, want the refusal", err)
	}
	pl = newPl([]string{"db"}, migrateDecision(pgDB(maim.DBRefused, "15", "16"), []string{"db"}))
	pl.m.Snapshots.Mover = freeMover{free: 500 << 20}
	if err := planMigrations(context.Background(), pl); err != nil {
		t.Errorf("400 MiB of data, 500 MiB free: %v", err)
	}

	for _, tc := range []struct {
		name    string
		migrate []string
		db      maim.Database
		stopped bool
		wantErr string
		warn    string
	}{
		{"no such service", []string{"nope"}, pgDB(maim.DBSame, "16", "16"), false, `the project has no service "nope"`, ""},
		{"MariaDB", []string{"db"}, func() maim.Database { d := pgDB(maim.DBInPlace, "10.11", "11.4"); d.Engine = maim.DBMariaDB; return d }(), false, "runs mariadb, not PostgreSQL", ""},
		{"no major rise", []string{"db"}, pgDB(maim.DBSame, "16", "16"), false, "", "--migrate-db db: no PostgreSQL major rise (same): nothing to migrate"},
		{"the old server does not run", []string{"db"}, migrateDecision(pgDB(maim.DBRefused, "15", "16"), []string{"db"}), true, "no container of db runs", ""},
	} {
		pl := newPl(tc.migrate, tc.db)
		if tc.stopped {
			pl.plan.running.IDs = nil
		}
		err := planMigrations(context.Background(), pl)
		if (tc.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
		}
		if tc.warn != "" && !strings.Contains(strings.Join(pl.plan.Warnings, "\n"), tc.warn) {
			t.Errorf("%s: warnings %q, want %q", tc.name, pl.plan.Warnings, tc.warn)
		}
	}
}
