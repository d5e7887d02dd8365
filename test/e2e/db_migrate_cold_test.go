package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/testrig"
)

// The dump --migrate-db moves a database by is taken once every other service stopped
// (phase dump-db): every write acknowledged before the stop reaches the new major; a dump
// that fails after the stop, and a kill -9 while the dump is taken, leave everything as it
// ran before.

// pgWriterMigrateCompose is pgMigrateCompose with pgHotCompose's writer as the app: it
// inserts rows into events without pause, five a connection, each insert its own
// transaction, and appends "ack <id> <n>" to ./acks/log for each the server acknowledged
// ("writer start" when it starts). Stopped (SIGTERM) it ends after the connection under
// way, so no acknowledged insert goes unrecorded.
const pgWriterMigrateCompose = `services:
` + pgDBService + `  app:
    image: ${APP_IMAGE}
    depends_on:
      db:
        condition: service_healthy
    environment:
      PGHOST: db
      PGUSER: app
      PGPASSWORD: app-s3cret
      PGDATABASE: appdb
    volumes:
      - ./acks:/acks
    entrypoint: ["sh", "-c"]
    command:
      - |
        trap 'stop=1' TERM INT
        echo "writer start" >> /acks/log
        n=$$(psql -Atq -c "SELECT coalesce(max(n), 0) FROM events") || exit 1
        while [ -z "$$stop" ]; do
          batch=
          for i in 1 2 3 4 5; do
            n=$$((n + 1))
            batch="$$batch
        INSERT INTO events (customer_id, kind, n, payload) VALUES ($$n % 500 + 1, 'tick', $$n, 'row $$n') RETURNING 'ack ' || id || ' ' || n;"
          done
          if ! echo "$$batch" | psql -Atq -v ON_ERROR_STOP=1 >> /acks/log; then
            sleep 0.2
            n=$$(psql -Atq -c "SELECT coalesce(max(n), 0) FROM events") || n=$$((n - 5))
          fi
        done
volumes:
  pgdata: {}
`

// pushPostgres tags the test images 15 and 16 as the project's own registry references and
// pushes them (the upgrade pulls its targets).
func pushPostgres(t *testing.T, p *project) (ref15, ref16 string) {
	t.Helper()
	ref15, ref16 = testrig.Registry()+"/"+p.Name+"/pg:15", testrig.Registry()+"/"+p.Name+"/pg:16"
	for img, ref := range map[string]string{pgImage15: ref15, pgImage16: ref16} {
		p.TrackImage(ref)
		mustOK(t, docker(t, "", nil, "tag", img, ref))
		mustOK(t, docker(t, "", nil, "push", "-q", ref))
	}
	return ref15, ref16
}

// ackRuns are the writer's runs as ./acks/log records them.
func ackRuns(t testing.TB, p *project) [][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.Dir, "acks", "log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return writerRuns(t, string(b))
}

// waitAckRuns waits until ./acks/log shows n runs, the last acknowledged at least min rows.
func waitAckRuns(t testing.TB, p *project, n, min int) [][]string {
	t.Helper()
	var runs [][]string
	for i := 0; i < 300; i++ {
		if runs = ackRuns(t, p); len(runs) >= n && len(runs[len(runs)-1]) >= min {
			return runs
		}
		sleepPoll()
	}
	t.Fatalf("the writer's log shows %d runs, want %d with %d rows acknowledged in the last", len(runs), n, min)
	return nil
}

// TestDBMigratePostgresKeepsEveryWrite: an app inserts rows without pause while
// `upgrade --migrate-db db` moves its database 15 -> 16 (the default two-pass backup, so
// the writes go on through pass one). The upgrade stops the app with the database still
// running, then dumps: on 16 the events are exactly the rows the writer was acknowledged
// before it was stopped (their count and last id), and those of its run on 16 after; nothing
// else. The writer was acknowledged rows during the upgrade before the stop: a dump taken
// before the stop would miss them.
func TestDBMigratePostgresKeepsEveryWrite(t *testing.T) {
	requireEngine(t)
	requireDBImages(t, pgImage15, pgImage16)
	t.Parallel()
	p := newProject(t, "db-migrate-writes", pgWriterMigrateCompose)
	ref15, ref16 := pushPostgres(t, p)
	p.WriteFile(".env", "DB_IMAGE="+ref15+"\nAPP_IMAGE="+ref15+"\n")
	compose(t, p, "up", "-d", "--wait", "db")
	db := p.Name + "-db-1"
	psqlIn(t, db, pgSchema)
	before := psqlIn(t, db, pgFingerprint)
	compose(t, p, "up", "-d", "app")
	acked := len(waitAckRuns(t, p, 1, 20)[0])

	p.WriteFile(".env", "DB_IMAGE="+ref16+"\nAPP_IMAGE="+ref15+"\n")
	up := p.maim("upgrade", "--migrate-db", "db", "--stable-period", "1s", "--timeout", "3m")
	t.Log(up.Stderr)
	mustOK(t, up)
	stopped := strings.Index(up.Stderr, "stopping app (db kept running)")
	dumping := strings.Index(up.Stderr, "dumping db for its move to PostgreSQL 16")
	if stopped < 0 || dumping < stopped {
		t.Errorf("the upgrade did not stop the app (keeping db running) before the dump: stop at %d, dump at %d", stopped, dumping)
	}
	waitHealthy(t, db)
	if v := pgVersionOf(t, p); v != "16" {
		t.Fatalf("PG_VERSION after the migration: %q, want 16", v)
	}

	runs := waitAckRuns(t, p, 2, 5) // the writer runs again, on 16
	compose(t, p, "stop", "app")
	runs = ackRuns(t, p)
	if len(runs) != 2 {
		t.Fatalf("the writer ran %d times, want 2 (before the upgrade, on 16)", len(runs))
	}
	first := runs[0]
	t.Logf("the writer was acknowledged %d rows before the upgrade began, %d until it was stopped, %d on 16", acked, len(first), len(runs[1]))
	if len(first) <= acked {
		t.Fatalf("no row was acknowledged during the upgrade before the stop (%d before, %d at the stop): the test shows nothing", acked, len(first))
	}
	var lastID int
	fmt.Sscanf(lastOf(first), "%d|", &lastID)
	if got, want := strings.TrimSpace(psqlIn(t, db, fmt.Sprintf("SELECT count(*) || ' ' || max(id) FROM events WHERE id <= %d", lastID))), fmt.Sprintf("%d %d", len(first), lastID); got != want {
		t.Errorf("on 16 the events up to the writer's last acknowledged id: count and max id %q, want %q (every row acknowledged before the stop)", got, want)
	}
	got := strings.Split(strings.TrimSpace(psqlIn(t, db, pgEventsRows)), "\n")
	want := append(append([]string{}, first...), runs[1]...)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events on 16: %d rows (last %q), want exactly the %d acknowledged (last %q)", len(got), lastOf(got), len(want), lastOf(want))
	}
	if got := psqlIn(t, db, pgFingerprint); got != before {
		t.Errorf("tables, sequence, role or indexes differ on 16:\n%s\nbefore:\n%s", got, before)
	}
}

// TestDBMigrateDumpFailsAfterStop: held once the app stopped and before the dump (failpoint
// upgrade:dumping), the database is still running and the app is not; the old server then
// goes away (docker stop), so the dump fails after the stop: the upgrade rolls back by itself
// (exit 10) with nothing changed, no backup kept, every container running as before on its
// old image, the data directory on 15 and every table the same.
func TestDBMigrateDumpFailsAfterStop(t *testing.T) {
	t.Parallel()
	p, app, ref16 := newMigrateProject(t, "db-migrate-dumpfail")
	db := p.Name + "-db-1"
	before := tableCopies(t, db)
	ctrs := p.containers()
	p.WriteFile(".env", "DB_IMAGE="+ref16+"\nAPP_IMAGE="+app+"\n")

	fp := filepath.Join(t.TempDir(), "failpoint")
	run := p.maimStart([]string{"MAIM_FAILPOINT=upgrade:dumping:wait", "MAIM_FAILPOINT_FILE=" + fp},
		"upgrade", "--migrate-db", "db", "--stable-period", "1s", "--timeout", "2m", "--format", "json")
	waitFailpoint(t, run, fp, 3*time.Minute)
	if got := runningOf(t, p); fmt.Sprint(got) != "map[db:1]" {
		t.Errorf("running once the upgrade stopped what runs but for the database: %v, want map[db:1]", got)
	}
	if op, ph := p.journalPhase(); op != "upgrade" || ph != "backing-up" {
		t.Errorf("journal at the dump: %s %s, want upgrade backing-up", op, ph)
	}
	mustOK(t, docker(t, "", nil, "stop", db))
	must(t, os.Remove(fp))
	up := run.wait(t, 5*time.Minute)
	t.Log(up.Stderr)
	if up.Code != 10 {
		t.Fatalf("want exit 10 (rolled back): %s", up)
	}
	var res struct {
		Outcome  string `json:"outcome"`
		BackupID string `json:"backup_id"`
		Error    any    `json:"error"`
	}
	must(t, json.Unmarshal([]byte(up.Stdout), &res))
	if res.Outcome != "rolled-back" || res.BackupID != "" || !strings.Contains(fmt.Sprint(res.Error), "--migrate-db db: the postgresql dump of service db") {
		t.Errorf("outcome %q, backup %q, error %q: want rolled-back, no backup, the dump's failure", res.Outcome, res.BackupID, res.Error)
	}
	waitHealthy(t, db)
	for svc, c := range p.containers() {
		if c.ID != ctrs[svc].ID || c.Image != ctrs[svc].Image || c.State == nil || !c.State.Running {
			t.Errorf("%s after the rollback: container %.12s on %.19s, running %v; want its old %.12s on %.19s, running", svc, c.ID, c.Image, c.State != nil && c.State.Running, ctrs[svc].ID, ctrs[svc].Image)
		}
	}
	wantBackOn15(t, p, db, before, "backups after an upgrade that failed before its backup completed")
}

// TestDBMigrateKilledInDump: kill -9 while phase dump-db works, once the app stopped
// (upgrade:dumping) and once the dump is in the begun backup with its server still running
// (upgrade:dumped). status reports the upgrade interrupted in backing-up; `rollback` resolves
// it: every container runs again as before, on 15 with every table the same, no backup kept;
// then the upgrade runs again to the end.
func TestDBMigrateKilledInDump(t *testing.T) {
	t.Parallel()
	runConcurrently(t, 2, []string{"dumping", "dumped"}, func(t *testing.T, fp string) {
		p, app, ref16 := newMigrateProject(t, "db-migrate-kill-"+fp)
		db := p.Name + "-db-1"
		before := tableCopies(t, db)
		ctrs := p.containers()
		p.WriteFile(".env", "DB_IMAGE="+ref16+"\nAPP_IMAGE="+app+"\n")
		args := []string{"upgrade", "--migrate-db", "db", "--stable-period", "1s", "--timeout", "2m"}
		wantKilled(t, p.maimWith([]string{"MAIM_FAILPOINT=upgrade:" + fp}, args...))
		if got := runningOf(t, p); fmt.Sprint(got) != "map[db:1]" {
			t.Errorf("running after the kill: %v, want map[db:1] (the app stopped, the database not yet)", got)
		}
		wantInterrupted(t, p, "upgrade", "backing-up")

		r := mustOK(t, p.maim(rollbackArgs...))
		t.Log(r.Stderr)
		if !strings.Contains(r.Stdout, "resolved the interrupted upgrade in phase backing-up") {
			t.Errorf("rollback does not say what it resolved: %s", r)
		}
		waitHealthy(t, db)
		for svc, c := range p.containers() {
			if c.ID != ctrs[svc].ID || c.State == nil || !c.State.Running {
				t.Errorf("%s after the rollback: container %.12s, running %v; want its old %.12s, running", svc, c.ID, c.State != nil && c.State.Running, ctrs[svc].ID)
			}
		}
		wantBackOn15(t, p, db, before, "backups after the resolved kill")

		// The rollback pointed .env at what runs again (15); the user's edit once more.
		p.WriteFile(".env", "DB_IMAGE="+ref16+"\nAPP_IMAGE="+app+"\n")
		up := p.maim(args...)
		t.Log(up.Stderr)
		mustOK(t, up)
		waitHealthy(t, db)
		if v := pgVersionOf(t, p); v != "16" {
			t.Fatalf("PG_VERSION after the upgrade run again: %q, want 16", v)
		}
		wantSameTables(t, before, tableCopies(t, db))
	})
}

// TestDBMigrateBrokenDumpRefuses: the dump is taken after the stop, but whether it can be
// is checked before: with pg_dumpall gone from the old container, `upgrade --migrate-db db`
// refuses (exit 12) naming the failed schema-only dump, and nothing stopped or restarted,
// no backup kept, no journal left.
func TestDBMigrateBrokenDumpRefuses(t *testing.T) {
	t.Parallel()
	p, app, ref16 := newMigrateProject(t, "db-migrate-nodump")
	db := p.Name + "-db-1"
	execIn(t, db, "", "sh", "-c", "mv /usr/lib/postgresql/15/bin/pg_dumpall /usr/lib/postgresql/15/bin/pg_dumpall.gone")
	started := map[string]string{}
	for svc, c := range p.containers() {
		started[svc] = c.State.StartedAt
	}
	p.WriteFile(".env", "DB_IMAGE="+ref16+"\nAPP_IMAGE="+app+"\n")
	wantFail(t, p.maim("upgrade", "--migrate-db", "db", "--stable-period", "1s", "--timeout", "2m"), 12,
		"--migrate-db db", "pg_dumpall -U app --schema-only")
	for svc, c := range p.containers() {
		if c.State == nil || !c.State.Running || c.State.StartedAt != started[svc] {
			t.Errorf("%s after the refusal: running %v, started %s; want it running since %s", svc, c.State != nil && c.State.Running, c.State.StartedAt, started[svc])
		}
	}
	if rows := p.backups(); len(rows) != 0 {
		t.Errorf("backups after a refusal: %+v, want none", rows)
	}
	p.wantNoJournal()
}
