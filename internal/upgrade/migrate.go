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
	"github.com/docker-maim/docker-maim/internal/dbside"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/docker/go-units"
	"github.com/moby/moby/client"
)

// PostgreSQL major upgrades (--migrate-db SERVICE). The decision is dbmajor.go's
// (migrateDecision); this file plans the move (planner step migrate-db: the names checked,
// the steps and the time they take) and carries out its checks before anything stops
// (preMigrate: the old server reached by a schema-only pg_dumpall; the side cluster of the
// new image started in a side directory of the data source, its locale checked against
// the old cluster's: migrate_side.go). The dump is taken once every other service
// stopped, from the old server still running, and streamed at once into the backup and
// into the side cluster (phase dump-db, phase_dump_db.go): it holds every write
// acknowledged before the stop, as a careful user's does (stop the app, dump into a fresh
// server). The backup's pass two reads the old data directory stopped, without the side
// directory; once it is verified, phase reset moves the side directory's entries into
// place (phase_reset.go), and phase migrate-db starts the service on its new image
// (phase_migrate.go). The rollback restores the old data directory from the backup, which
// removes the side directory too.
//
// Exact: this equals the slow path (dump into the backup, stop, back up, empty, initdb,
// load the archived dump): the bytes loaded are the bytes archived (one stream, tee'd;
// the archive hashed as it is written and verified before the swap), the side cluster is
// initialised by the same image from the same environment and mount as the service's
// container, and the old server is stopped before pass two reads its data directory.

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

// resetNames are the sources the --reset-data phases verify and empty or swap: --reset-data's
// and the data sources of the databases migrated (phase reset swaps their new cluster in).
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
			if err := pl.checkSideSpace(ctx, *db); err != nil {
				return err
			}
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

// checkSideSpace refuses a data source without room for the new cluster, written beside
// the old one before that goes (about the data directory's size again), when its free
// space can be told (volume.EngineMover.FreeBytes: on this host).
func (pl *planning) checkSideSpace(ctx context.Context, db maim.Database) error {
	fm, ok := pl.m.Snapshots.Mover.(interface {
		FreeBytes(context.Context, volume.Target) int64
	})
	i := slices.IndexFunc(pl.srcs, func(s project.Source) bool { return s.Name == db.Source })
	if !ok || i < 0 {
		return nil
	}
	t, ok := snapshot.TargetOf(pl.srcs[i], "")
	if free := fm.FreeBytes(ctx, t); ok && free >= 0 && free < db.Migration.DataBytes {
		return fmt.Errorf("--migrate-db %s: %s has %s free, and the new cluster is written beside the old one before that goes: about %s (the data directory's size) needed", db.Service, db.Source, units.HumanSize(float64(free)), units.HumanSize(float64(db.Migration.DataBytes)))
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
			fmt.Sprintf("before anything stops: pg_dumpall -U %s --schema-only in the running PostgreSQL %s container (the server answers, the dump tool works; refused if not)", user, old),
			fmt.Sprintf("before anything stops: start a side container of %s's new image (PostgreSQL %s) with the service's environment and %s mounted where the service mounts it, PGDATA in a fresh side directory %s* of it: its entrypoint initialises the new cluster (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, POSTGRES_INITDB_ARGS) while %s %s runs; its encoding and locale must be the old cluster's (refused if not, the side cluster removed)", db.Service, nw, db.Source, dbside.DirPrefix, db.Service, old),
			fmt.Sprintf("once every other service stopped (%s keeps running): pg_dumpall -U %s in the PostgreSQL %s container, streamed at once into the backup as dump-%s.sql.* (hashed, kept) and into psql in the side cluster (only the superuser's and POSTGRES_DB's \"already exists\" accepted), then ANALYZE there: every write acknowledged before the stop is in it; then stop %s and the side server", db.Service, user, old, db.Service, db.Service),
			fmt.Sprintf("the backup of %s (the old data directory byte for byte, without the side directory), read back and verified; then the side directory's entries renamed into place (no copy), everything else of %s removed", db.Source, db.Source),
			fmt.Sprintf("dump and load of about %s expected to take about %s (at an assumed %d MiB/s of data directory, half the rate measured on 2 CPUs), all of it downtime; %s needs about as much again free while both clusters are on it (checked when its free space can be read on this host)", units.HumanSize(float64(bytes)), est, migrateRate>>20, db.Source),
			fmt.Sprintf("start %s on its new image (it finds its cluster: no initdb) and wait until it accepts connections; recreate every service (the ones depending on it start on the loaded database)", db.Service),
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
// server (a schema-only pg_dumpall: the server answers, the dump tool works), and starts
// its side cluster (startSide, migrate_side.go): the new image initialises the new cluster
// in a side directory of the data source while the old server runs; its encoding and
// locale must be the old cluster's. The dump is phase dump-db's; the backup it goes into
// is planned here unless preDumps did, the side directories left out of it (Omit). A
// failure refuses the upgrade (exit 12), nothing stopped, the side clusters and the begun
// backup dropped.
func (t *txn) preMigrate(ctx context.Context) error {
	migs := t.plan.migrations()
	if len(migs) == 0 {
		return nil
	}
	refuse := func(err error) error {
		if t.hot != nil {
			t.hot.Abort()
			t.hot = nil
		}
		t.dropSides(ctx) // before refuseBeforeStop removes the images it pulled
		return t.refuseBeforeStop(ctx, err)
	}
	sides, err := dbside.NewSides(t.m.Engine, t.m.Snapshots.Mover, t.m.logf)
	if err != nil {
		return refuse(err)
	}
	t.sides = sides
	if err := sides.Clean(ctx, t.p.Name); err != nil {
		return refuse(err)
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
	for _, db := range migs {
		t.hot.Omit(db.Source, t.sides.By[db.Service].Dir)
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
	probe := cmd
	probe.Argv = append(slices.Clone(cmd.Argv), "--schema-only")
	t.m.logf("checking that %s can be dumped (the dump itself is taken once everything else stopped): %s", db.Service, probe)
	if err := dbdump.Take(ctx, t.m.Engine, db.Service, id, probe, io.Discard); err != nil {
		return err
	}
	side, err := t.startSide(ctx, db)
	if err != nil {
		return err
	}
	got, err := dbdump.ClusterLocale(ctx, t.m.Engine, side.ID, side.Env)
	if err != nil {
		return fmt.Errorf("reading the new cluster's encoding and locale: %w", err)
	}
	if !dbdump.SameLocale(old, got) {
		return fmt.Errorf("the PostgreSQL %s cluster has %s, the new PostgreSQL %s image initialised %s (from LANG, LC_ALL, POSTGRES_INITDB_ARGS): set POSTGRES_INITDB_ARGS: \"%s\" on service %s and run again", db.DataVersion, old, db.NewVersion, got, old.InitdbArgs(), db.Service)
	}
	return nil
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
