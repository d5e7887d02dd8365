package e2e

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/dbside"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/moby/moby/client"
)

// The side cluster of --migrate-db (internal/dbside): started before anything stops in a
// side directory of the data source, loaded by the streamed dump, swapped into place once
// the backup is verified. A kill -9 in the stream or at the swap, then `rollback`, leaves
// no side container and no side directory; the upgrade's backup never holds the side
// directory; a locale the side cluster got wrong refuses with nothing stopped.

// sideContainers are the side containers of p (by their labels), running or not.
func sideContainers(t *testing.T, p *project) []string {
	t.Helper()
	res, err := p.Client.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: make(client.Filters).
		Add("label", volume.LabelHelper+"="+dbside.LabelValue).Add("label", dbside.LabelProject+"="+p.Name)})
	must(t, err)
	var out []string
	for _, c := range res.Items {
		out = append(out, c.ID)
	}
	return out
}

// topEntries are the names at the top of p's pgdata volume.
func topEntries(t *testing.T, p *project) []string {
	t.Helper()
	es, err := os.ReadDir(p.volumeDir(p.Name + "_pgdata"))
	must(t, err)
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// wantNoSide: no side container of p, no side directory in its volume.
func wantNoSide(t *testing.T, p *project) {
	t.Helper()
	if ids := sideContainers(t, p); len(ids) != 0 {
		t.Errorf("side containers left: %v", ids)
	}
	for _, e := range topEntries(t, p) {
		if strings.HasPrefix(e, dbside.DirPrefix) {
			t.Errorf("side directory %s left in the data volume", e)
		}
	}
}

// TestDBMigrateKilledInStream: kill -9 while the dump streams into the backup and the
// side cluster (failpoint upgrade:streaming, after its first MiB: the events table is
// grown so the dump is larger than that); the side container runs then. `rollback`
// removes it and its side directory and starts what ran: the volume holds exactly the
// entries it held before, every table the same, no backup kept.
func TestDBMigrateKilledInStream(t *testing.T) {
	t.Parallel()
	p, app, ref16 := newMigrateProject(t, "db-migrate-kill-stream")
	db := p.Name + "-db-1"
	psqlIn(t, db, `INSERT INTO events (customer_id, kind, n, payload) SELECT i % 500 + 1, 'bulk', i, repeat('x', 200) FROM generate_series(1001, 20000) i;`)
	before, top := tableCopies(t, db), topEntries(t, p)
	p.WriteFile(".env", "DB_IMAGE="+ref16+"\nAPP_IMAGE="+app+"\n")
	wantKilled(t, p.maimWith([]string{"MAIM_FAILPOINT=upgrade:streaming"}, "upgrade", "--migrate-db", "db", "--stable-period", "1s", "--timeout", "2m"))
	if len(sideContainers(t, p)) != 1 {
		t.Errorf("side containers after the kill in the stream: %v, want the one the upgrade started", sideContainers(t, p))
	}
	wantInterrupted(t, p, "upgrade", "backing-up")
	r := mustOK(t, p.maim(rollbackArgs...))
	t.Log(r.Stderr)
	if !strings.Contains(r.Stderr, "removed 1 side cluster(s)") {
		t.Errorf("the rollback does not say it removed the side cluster:\n%s", r.Stderr)
	}
	waitHealthy(t, db)
	wantNoSide(t, p)
	if got := topEntries(t, p); fmt.Sprint(got) != fmt.Sprint(top) {
		t.Errorf("the volume's entries after the rollback: %v, want %v", got, top)
	}
	wantBackOn15(t, p, db, before, "backups after the resolved kill")
}

// TestDBMigrateKilledAtSwap: kill -9 right before the swap (upgrade:swapping: the backup
// verified, the side cluster loaded and stopped) and right after it (upgrade:swapped: the
// new cluster in place, its side container not yet removed). `rollback` restores the
// upgrade's backup: the data directory is the old one byte for byte (the backup holds no
// side directory), no side container left, 15 runs every table as before.
func TestDBMigrateKilledAtSwap(t *testing.T) {
	t.Parallel()
	runConcurrently(t, 2, []string{"swapping", "swapped"}, func(t *testing.T, fp string) {
		p, app, ref16 := newMigrateProject(t, "db-migrate-kill-"+fp)
		db := p.Name + "-db-1"
		before := tableCopies(t, db)
		p.WriteFile(".env", "DB_IMAGE="+ref16+"\nAPP_IMAGE="+app+"\n")
		wantKilled(t, p.maimWith([]string{"MAIM_FAILPOINT=upgrade:" + fp}, "upgrade", "--migrate-db", "db", "--one-pass", "--compression", "none", "--stable-period", "1s", "--timeout", "2m"))
		wantInterrupted(t, p, "upgrade", "resetting")
		rows := p.backups()
		if len(rows) != 1 {
			t.Fatalf("backups after the kill at the swap: %+v, want the upgrade's", rows)
		}
		for k := range backedUpListing(t, p, rows[0].ID, "pgdata", 0) {
			if strings.HasPrefix(k, dbside.DirPrefix) {
				t.Fatalf("the upgrade's backup holds the side directory: %s", k)
			}
		}
		r := mustOK(t, p.maim(rollbackArgs...))
		t.Log(r.Stderr)
		waitHealthy(t, db)
		if v := pgVersionOf(t, p); v != "15" {
			t.Fatalf("PG_VERSION after the rollback: %q, want 15", v)
		}
		wantDataAsBackedUp(t, p, rows[0].ID)
		wantNoSide(t, p)
		wantSameTables(t, before, tableCopies(t, db))
		p.wantNoJournal()
	})
}

// TestDBMigrateSideLocaleRefuses: the service asks the new image for another locale than
// the old cluster's (POSTGRES_INITDB_ARGS --locale=C): the side cluster, initialised before
// anything stops, reports it, and the upgrade refuses (exit 12) naming the fix; nothing
// stopped or restarted, no backup, no journal, no side container or directory.
func TestDBMigrateSideLocaleRefuses(t *testing.T) {
	t.Parallel()
	p, app, ref16 := newMigrateProject(t, "db-migrate-side-locale")
	started := map[string]string{}
	for svc, c := range p.containers() {
		started[svc] = c.State.StartedAt
	}
	p.WriteFile("compose.yaml", strings.Replace(pgMigrateCompose, "POSTGRES_DB: appdb\n", "POSTGRES_DB: appdb\n      POSTGRES_INITDB_ARGS: --locale=C --encoding=SQL_ASCII\n", 1))
	p.WriteFile(".env", "DB_IMAGE="+ref16+"\nAPP_IMAGE="+app+"\n")
	wantFail(t, p.maim("upgrade", "--migrate-db", "db", "--stable-period", "1s", "--timeout", "2m"), 12,
		"--migrate-db db", "the new PostgreSQL 16 image initialised encoding SQL_ASCII", "POSTGRES_INITDB_ARGS: \"--encoding=UTF8")
	for svc, c := range p.containers() {
		if c.State == nil || !c.State.Running || c.State.StartedAt != started[svc] {
			t.Errorf("%s after the refusal: running %v, started %s; want it running since %s", svc, c.State != nil && c.State.Running, c.State.StartedAt, started[svc])
		}
	}
	if rows := p.backups(); len(rows) != 0 {
		t.Errorf("backups after a refusal: %+v, want none", rows)
	}
	p.wantNoJournal()
	wantNoSide(t, p)
}
