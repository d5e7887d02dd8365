package upgrade

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/dbdump"
	"github.com/docker-maim/docker-maim/internal/dbmajor"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker/go-units"
	"github.com/moby/moby/client"
)

// PostgreSQL major upgrades (--migrate-db SERVICE). The decision is dbmajor.go's
// (migrateDecision); this file plans the move (planner step migrate-db: the names checked,
// the steps and the time they take) and carries out its checks before anything stops
// (preMigrate: the old cluster's locale read and checked against what the new image will
// initialise, the old server reached by a schema-only pg_dumpall). The dump itself is taken
// once every other service stopped, from the old server still running, which then stops
// (phase dump-db, phase_dump_db.go): it holds every write acknowledged before the stop, as
// a careful user's does (stop the app, dump, move). After the backup the data source is
// emptied by the --reset-data phases (resetNames), and phase migrate-db, before recreate,
// starts the service alone on its new image (a fresh cluster) and loads the dump
// (phase_migrate.go). The rollback restores the old data directory from the backup.

// migrateRate is the rate assumed for a dump and its load together, in bytes of data
// directory a second. Measured on the test images (pg_dumpall 15 piped into psql on a
// fresh 16, then ANALYZE, 2 shared CPUs): a 1,000,000-row table with two indexes, 338 MB
// of data directory (its WAL included, which the dump does not carry) in 4.0 s, about
// 85 MB/s. The estimate assumes half of that, 40 MiB/s: a data directory of mostly
// indexes, which the load rebuilds, goes slower; the plan says which rate it assumes.
const migrateRate = 40 << 20

// migrations are the databases the upgrade moves by a dump and a load.
func (plan *Plan) migrations() []maim.Database {
	var out []maim.Database
	for _, db := range plan.Databases {
		if db.Decision == maim.DBMigrate {
			out = append(out, db)
		}
	}
	return out
}

// resetNames are the sources the --reset-data phases verify and empty: --reset-data's and
// the data sources of the databases migrated (their new cluster starts empty).
func (t *txn) resetNames() []string {
	names := slices.Clone(t.opts.ResetData)
	for _, db := range t.plan.migrations() {
		if !slices.Contains(names, db.Source) {
			names = append(names, db.Source)
		}
	}
	return names
}

// planMigrations checks each --migrate-db name (a service of the project that runs
// PostgreSQL: else refused) and plans the move of each database whose decision is
// DBMigrate (its image's "major version rises" finding is then no breaking change: the
// flag is the user's explicit action); a PostgreSQL service with no major rise is a note,
// nothing to do. It runs after the sizes (the estimate needs them).
func planMigrations(ctx context.Context, pl *planning) error {
	plan := pl.plan
	for _, svc := range pl.opts.MigrateDB {
		if _, ok := pl.p.Services[svc]; !ok {
			return fmt.Errorf("--migrate-db %s: the project has no service %q", svc, svc)
		}
		i := slices.IndexFunc(plan.Databases, func(d maim.Database) bool { return d.Service == svc })
		switch {
		case i < 0 && !pl.runsPostgres(ctx, svc):
			return fmt.Errorf("--migrate-db %s: service %s runs no PostgreSQL image (no PG_MAJOR in its environment, not named postgres): only PostgreSQL major upgrades are migrated", svc, svc)
		case i < 0:
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("--migrate-db %s: its image does not change: nothing to migrate", svc))
		case plan.Databases[i].Engine != maim.DBPostgreSQL:
			return fmt.Errorf("--migrate-db %s: service %s runs %s, not PostgreSQL: only PostgreSQL major upgrades are migrated", svc, svc, plan.Databases[i].Engine)
		case plan.Databases[i].Decision == maim.DBMigrate:
			if len(plan.running.IDs[svc]) == 0 {
				return fmt.Errorf("--migrate-db %s: no container of %s runs, and the dump is taken by the old server while it runs: start it (docker compose -p %s up -d %s) and run again", svc, svc, pl.p.Name, svc)
			}
			db := &plan.Databases[i]
			db.Migration = migrationOf(*db, plan.sizeMap()[db.Source], dbUser(pl.p, svc))
			plan.Downtime += db.Migration.Estimate
			// The image's major version rise is what --migrate-db carries out: no breaking
			// change of its own (any other finding of the service stands).
			plan.Breaking = slices.DeleteFunc(plan.Breaking, func(f maim.Finding) bool {
				return f.Service == svc && strings.HasPrefix(f.Reason, "major version rises ")
			})
		case plan.Databases[i].Decision != maim.DBRefused: // a refused one (a downgrade) is the policy's
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("--migrate-db %s: no PostgreSQL major rise (%s): nothing to migrate", svc, plan.Databases[i].Decision))
		}
	}
	return nil
}

// migrationOf is the plan of moving db (its data source of size bytes, superuser user).
func migrationOf(db maim.Database, bytes int64, user string) *maim.DBMigration {
	est := time.Duration(float64(bytes) / migrateRate * float64(time.Second)).Round(time.Second)
	old, nw := db.DataVersion, db.NewVersion
	return &maim.DBMigration{
		DataBytes: bytes, RateBytesPerSecond: migrateRate, Estimate: est,
		Steps: []string{
			fmt.Sprintf("before anything stops: read the encoding and locale of the PostgreSQL %s cluster and check that the new image initialises the same (from LANG, LC_ALL, POSTGRES_INITDB_ARGS; refused if not)", old),
			fmt.Sprintf("before anything stops: pg_dumpall -U %s --schema-only in the running PostgreSQL %s container (the server answers, the dump tool works; refused if not)", user, old),
			fmt.Sprintf("once every other service stopped (%s keeps running): pg_dumpall -U %s in the PostgreSQL %s container, streamed into the backup as dump-%s.sql.* (hashed, kept): every write acknowledged before the stop is in it; then stop %s", db.Service, user, old, db.Service, db.Service),
			fmt.Sprintf("after the backup (the data directory byte for byte): read back and verify the archive of %s, then empty it", db.Source),
			fmt.Sprintf("start %s alone on its new image: PostgreSQL %s initialises a fresh cluster from the service's POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB and POSTGRES_INITDB_ARGS", db.Service, nw),
			"wait until it accepts connections (pg_isready over TCP in the container), check its encoding and locale, load the dump with psql -v ON_ERROR_STOP=0 (only the superuser's and POSTGRES_DB's \"already exists\" are accepted), ANALYZE every database",
			fmt.Sprintf("dump and load of about %s expected to take about %s (at an assumed %d MiB/s of data directory, half the rate measured on 2 CPUs), all of it downtime", units.HumanSize(float64(bytes)), est, migrateRate>>20),
			"recreate every service (the ones depending on it start on the loaded database)",
			fmt.Sprintf("the health gate; any failure rolls back to the old image and the old data directory of PostgreSQL %s from the backup", old),
		},
	}
}

// runsPostgres tells whether service svc's new image (else its old one) runs PostgreSQL.
func (pl *planning) runsPostgres(ctx context.Context, svc string) bool {
	for _, c := range pl.plan.Changes {
		if c.Service != svc {
			continue
		}
		for _, id := range []string{c.NewID, c.OldID} {
			if id == "" {
				continue
			}
			if info, err := InspectImage(ctx, pl.m.Engine, id); err == nil {
				ref := c.NewRef
				if id == c.OldID {
					ref = c.OldRef
				}
				return dbdump.IsPostgres(ref, info.Env)
			}
		}
	}
	return false
}

// dbUser is service svc's POSTGRES_USER in project p (default postgres), for the plan.
func dbUser(p *project.Project, svc string) string {
	if u := project.EnvMap(p.Services[svc].Environment)["POSTGRES_USER"]; u != "" {
		return u
	}
	return "postgres"
}

// preMigrate runs, before anything stops, the checks of each migration that need the old
// server: its locale compared with the one the new image will initialise, and a schema-only
// pg_dumpall (the server answers, the dump tool works). The dump is phase dump-db's; the
// backup it goes into is planned here unless preDumps did. A failure refuses the upgrade
// (exit 12), nothing stopped, the begun backup dropped.
func (t *txn) preMigrate(ctx context.Context) error {
	migs := t.plan.migrations()
	if len(migs) == 0 {
		return nil
	}
	t.oldLocales = map[string]dbdump.Locale{}
	refuse := func(err error) error {
		if t.hot != nil {
			t.hot.Abort()
			t.hot = nil
		}
		return t.refuseBeforeStop(ctx, err)
	}
	for _, db := range migs {
		if err := t.preMigrateOne(ctx, db); err != nil {
			return refuse(fmt.Errorf("--migrate-db %s: %w", db.Service, err))
		}
	}
	if t.hot == nil {
		pl, err := t.m.Snapshots.PlanBackup(ctx, t.p, t.backupOptions())
		if err != nil {
			return refuse(fmt.Errorf("backup: %w", err))
		}
		t.hot = pl
	}
	return nil
}

// oldServer is the container of db's old server (the first of its running containers, by
// ID), the dump command its image and environment call for, and its image reference.
func (t *txn) oldServer(ctx context.Context, db maim.Database) (id string, cmd dbdump.Command, ref string, err error) {
	ids := slices.Clone(t.plan.running.IDs[db.Service])
	sort.Strings(ids)
	if len(ids) == 0 {
		return "", dbdump.Command{}, "", fmt.Errorf("no container of %s ran: the dump needs the old server", db.Service)
	}
	cmd, ref, err = dbdump.ForContainer(ctx, t.m.Engine, "postgres", ids[0])
	return ids[0], cmd, ref, err
}

func (t *txn) preMigrateOne(ctx context.Context, db maim.Database) error {
	id, cmd, _, err := t.oldServer(ctx, db)
	if err != nil {
		return err
	}
	ci, err := t.m.Engine.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	old, err := dbdump.ClusterLocale(ctx, t.m.Engine, id, ci.Container.Config.Env)
	if err != nil {
		return fmt.Errorf("reading the old cluster's encoding and locale: %w", err)
	}
	newEnv, err := t.newServiceEnv(ctx, db.Service)
	if err != nil {
		return err
	}
	if want, ok := dbdump.InitdbLocale(newEnv); ok && !dbdump.SameLocale(old, want) {
		return fmt.Errorf("the PostgreSQL %s cluster has %s, the new image would initialise %s (from LANG, LC_ALL, POSTGRES_INITDB_ARGS): set POSTGRES_INITDB_ARGS: \"%s\" on service %s and run again", db.DataVersion, old, want, old.InitdbArgs(), db.Service)
	}
	t.oldLocales[db.Service] = old
	probe := cmd
	probe.Argv = append(slices.Clone(cmd.Argv), "--schema-only")
	t.m.logf("checking that %s can be dumped (the dump itself is taken once everything else stopped): %s", db.Service, probe)
	return dbdump.Take(ctx, t.m.Engine, db.Service, id, probe, io.Discard)
}

// migrated tells whether service svc is a database the upgrade migrates: its dump is
// phase dump-db's, taken stopped, whatever a label asks for (preDumps leaves it).
func (t *txn) migrated(svc string) bool {
	return slices.ContainsFunc(t.plan.migrations(), func(db maim.Database) bool { return db.Service == svc })
}

// newServiceEnv is the environment svc's new container will have: its new image's, with
// the service's own over it.
func (t *txn) newServiceEnv(ctx context.Context, svc string) (map[string]string, error) {
	env := map[string]string{}
	for _, c := range t.plan.Changes {
		if c.Service == svc && c.NewID != "" {
			info, err := InspectImage(ctx, t.m.Engine, c.NewID)
			if err != nil {
				return nil, err
			}
			env = dbmajor.Env(info.Env)
		}
	}
	for k, v := range project.EnvMap(t.planned().Services[svc].Environment) {
		env[k] = v
	}
	return env, nil
}
