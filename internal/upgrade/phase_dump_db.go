package upgrade

import (
	"context"
	"fmt"
	"io"
	"strings"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/dbdump"
	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/stack"
)

// dumpDBPhase takes the dump each --migrate-db database moves by as a careful user does:
// with every other service stopped (phase stop keeps the migrated databases running:
// dbKeep), so it holds every write acknowledged before the stop. pg_dumpall runs in the old
// server's container, its output streamed at once into the upgrade's backup (hashed, in
// the manifest) and into the side cluster preMigrate started (psql, then ANALYZE:
// dbdump.TakeAndLoad); then the old server stops, so the backup's pass two reads its data
// directory cold, and the side server stops cleanly (its container kept until phase reset
// swaps it in). It changes none of the user's data (backing-up, recorded by stop): a
// failure, or a kill -9 that `rollback` resolves (failpoints upgrade:dumping,
// upgrade:streaming, after the first MiB, and upgrade:dumped), drops the begun backup and
// the side clusters (dbside.Cleanup) and starts what ran again.
var dumpDBPhase = phase[*txn]{
	Name:    "dump-db",
	Journal: PhaseBackingUp,
	Skip:    withoutMigrations,
	Describe: func(t *txn) string {
		var parts []string
		for _, db := range t.plan.migrations() {
			parts = append(parts, fmt.Sprintf("%s: with every other service stopped, pg_dumpall -U %s in the running PostgreSQL %s container, streamed at once into the backup as dump-%s.sql.* and into the side PostgreSQL %s cluster (psql, then ANALYZE; every write acknowledged before the stop is in it); then stop %s and the side server",
				db.Service, dbUser(t.planned(), db.Service), db.DataVersion, db.Service, db.NewVersion, db.Service))
		}
		return strings.Join(parts, "; ") + "; a failure starts what ran again, nothing changed"
	},
	Run: func(ctx context.Context, t *txn) error {
		journal.Failpoint("upgrade:dumping")
		for _, db := range t.plan.migrations() {
			if err := t.dumpCold(ctx, db); err != nil {
				return fmt.Errorf("--migrate-db %s: %w", db.Service, err)
			}
		}
		journal.Failpoint("upgrade:dumped")
		kept, _ := stack.Split(t.plan.running, dbKeep(t))
		if kept.Empty() {
			return nil
		}
		t.m.logf("stopping %s (dumped)", kept.Describe())
		if err := t.p.Stop(ctx, t.m.Engine, kept); err != nil {
			return fmt.Errorf("stopping: %w", err)
		}
		for _, db := range t.plan.migrations() {
			if err := t.sides.By[db.Service].Stop(ctx, t.sides.Eng, sideGrace); err != nil {
				return err
			}
		}
		return nil
	},
}

// dbKeep are the services phase stop leaves running for dump-db: the migrated databases.
func dbKeep(t *txn) []string {
	var out []string
	for _, db := range t.plan.migrations() {
		out = append(out, db.Service)
	}
	return out
}

// dumpCold dumps db from its old server, running still, into the upgrade's backup (t.hot:
// planned before anything stopped, at the latest by preMigrate) and its side cluster.
func (t *txn) dumpCold(ctx context.Context, db maim.Database) error {
	id, cmd, ref, err := t.oldServer(ctx, db)
	if err != nil {
		return err
	}
	side := t.sides.By[db.Service]
	t.m.logf("dumping %s for its move to PostgreSQL %s (--migrate-db), everything else stopped, streamed into the backup and the side cluster: %s", db.Service, db.NewVersion, cmd)
	_, err = t.m.Snapshots.AddDump(ctx, t.p, t.hot, backup.Dump{Service: db.Service, Engine: cmd.Engine, Command: cmd.String(), Image: ref},
		func(w io.Writer) error {
			return dbdump.TakeAndLoad(ctx, t.m.Engine, db.Service, id, cmd, w, side.ID, side.Env, func() { journal.Failpoint("upgrade:streaming") })
		})
	if err == nil {
		t.m.logf("%s: the side PostgreSQL %s cluster holds the dump, analyzed", db.Service, db.NewVersion)
	}
	return err
}
