package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pgHotCompose is an immich-like project on the real PostgreSQL 15 test image: the database
// with a named volume and a healthcheck, and an app that depends on it and inserts rows
// into events without pause, over TCP with scram-sha-256, ten a connection, each insert its
// own transaction, printing "ack <id> <n>" for each the server acknowledged. Stopped
// (SIGTERM) it ends the loop after the connection under way; started again it prints
// "writer start" first.
const pgHotCompose = `services:
  db:
    image: maim-test-postgres:15
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: app-s3cret
      POSTGRES_DB: appdb
    volumes:
      - pgdata:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "app", "-d", "appdb"]
      interval: 1s
      timeout: 3s
      retries: 60
  app:
    image: maim-test-postgres:15
    depends_on:
      db:
        condition: service_healthy
    environment:
      PGHOST: db
      PGUSER: app
      PGPASSWORD: app-s3cret
      PGDATABASE: appdb
    entrypoint: ["sh", "-c"]
    command:
      - |
        trap 'stop=1' TERM INT
        echo "writer start"
        n=$$(psql -Atq -c "SELECT coalesce(max(n), 0) FROM events") || exit 1
        while [ -z "$$stop" ]; do
          batch=
          for i in 1 2 3 4 5 6 7 8 9 10; do
            n=$$((n + 1))
            batch="$$batch
        INSERT INTO events (customer_id, kind, n, payload) VALUES ($$n % 500 + 1, 'tick', $$n, 'row $$n') RETURNING 'ack ' || id || ' ' || n;"
          done
          if ! echo "$$batch" | psql -Atq -v ON_ERROR_STOP=1; then
            sleep 0.2
            n=$$(psql -Atq -c "SELECT coalesce(max(n), 0) FROM events") || n=$$((n - 10))
          fi
        done
volumes:
  pgdata: {}
`

// pgSchema is a real schema: tables with primary keys, a unique and a compound index and a
// foreign key, a sequence of its own, a role with a password and grants, and 200,000 rows of
// ledger (about 30 MB on disk with its index) so that the hot pass has something to copy.
const pgSchema = `
CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text NOT NULL);
INSERT INTO customers (email, name) SELECT 'c' || i || '@example.org', 'Customer ' || i FROM generate_series(1, 500) i;
CREATE TABLE events (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers (id),
  kind text NOT NULL, n bigint NOT NULL UNIQUE, payload text NOT NULL, at timestamptz NOT NULL DEFAULT now());
CREATE INDEX events_customer_at ON events (customer_id, at);
CREATE TABLE ledger (id bigint PRIMARY KEY, account int NOT NULL, amount numeric(12, 2) NOT NULL, memo text);
INSERT INTO ledger SELECT i, i % 977, (i * 7919 % 100000) / 100.0, md5(i::text) FROM generate_series(1, 200000) i;
CREATE INDEX ledger_account ON ledger (account);
CREATE SEQUENCE invoice_no START 1000;
SELECT nextval('invoice_no') FROM generate_series(1, 7);
CREATE ROLE reader LOGIN PASSWORD 'reader-pw';
GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader;
`

// pgFingerprint is what the restore must give back exactly: the digest of each table that
// nothing writes after the schema is made, the sequence, and the role.
const pgFingerprint = `
SELECT 'customers ' || md5(string_agg(c::text, E'\n' ORDER BY id)) FROM customers c;
SELECT 'ledger ' || count(*) || ' ' || md5(string_agg(l::text, E'\n' ORDER BY id)) FROM ledger l;
SELECT 'invoice_no ' || last_value FROM invoice_no;
SELECT 'reader ' || rolname || ' ' || rolcanlogin FROM pg_roles WHERE rolname = 'reader';
SELECT 'indexes ' || string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public';
`

// pgEventsRows lists events as "id|customer_id|kind|n|payload", by id.
const pgEventsRows = `SELECT id || '|' || customer_id || '|' || kind || '|' || n || '|' || payload FROM events ORDER BY id;`

// psqlIn runs SQL with the container's psql as the superuser over the local socket.
func psqlIn(t testing.TB, ctr, sql string) string {
	t.Helper()
	return execIn(t, ctr, sql, "psql", "-U", "app", "-d", "appdb", "-v", "ON_ERROR_STOP=1", "-Atq")
}

var ackLine = regexp.MustCompile(`(?m)^ack (\d+) (\d+)$`)

// writerRuns splits the app's log into its runs (each begins with "writer start") and returns
// the rows each run was acknowledged, as pgEventsRows prints them.
func writerRuns(t testing.TB, log string) [][]string {
	t.Helper()
	var runs [][]string
	for _, part := range strings.Split(log, "writer start\n")[1:] {
		var rows []string
		for _, m := range ackLine.FindAllStringSubmatch(part, -1) {
			n, _ := strconv.Atoi(m[2])
			rows = append(rows, fmt.Sprintf("%s|%d|tick|%d|row %d", m[1], n%500+1, n, n))
		}
		runs = append(runs, rows)
	}
	return runs
}

// TestDBPostgresHotBackupRestore: a real PostgreSQL 15 written to without pause is backed up
// by the default two-pass backup while the writes go on; then the database is damaged and
// written to again, and the restore gives back exactly what was committed when the services
// stopped: the app stops before the database (reverse dependency order), so that is every row
// the app was acknowledged in its first run and no other, and the untouched tables, the
// sequence, the role and the indexes are identical. The restored server starts without crash
// recovery (a cleanly shut down cluster, as a cold backup of it would be), passes pg_amcheck
// with heap and index checks, and the role logs in over the network with its password.
func TestDBPostgresHotBackupRestore(t *testing.T) {
	requireEngine(t)
	requireDBImages(t, pgImage15)
	t.Parallel()
	p := newProject(t, "db-pg-hot", pgHotCompose)
	compose(t, p, "up", "-d", "--wait", "db")
	db, app := p.Name+"-db-1", p.Name+"-app-1"
	psqlIn(t, db, pgSchema)
	before := psqlIn(t, db, pgFingerprint)
	compose(t, p, "up", "-d", "app")
	acked := waitAcks(t, app, 1, 20)

	r := mustOK(t, p.maim("backup", "--format", "json"))
	var res struct {
		ID      string `json:"id"`
		TwoPass bool   `json:"two_pass"`
	}
	must(t, json.Unmarshal([]byte(r.Stdout), &res))
	if !res.TwoPass {
		t.Fatalf("backup %s: want the two-pass hot backup", r.Stdout)
	}
	src := p.manifest(res.ID).source(t, "pgdata")
	if src.Delta == nil || src.Delta.Files == 0 {
		t.Fatalf("pgdata: %+v: want a delta holding what the writes changed during the hot pass", src)
	}
	runs := waitRuns(t, app, 2, 5) // the app was started again and writes again
	cut := runs[0]
	t.Logf("the writer was acknowledged %d rows before the backup began, %d until the stop", acked, len(cut))
	if len(cut) <= acked {
		t.Fatalf("the writer was acknowledged %d rows before the backup began and %d in all until the stop: no write during the hot pass", acked, len(cut))
	}

	// After the backup: more rows, a dropped table, a changed sequence and role.
	compose(t, p, "stop", "app")
	psqlIn(t, db, "DROP TABLE ledger; SELECT setval('invoice_no', 5); ALTER ROLE reader PASSWORD 'other'; DELETE FROM events WHERE id % 3 = 0;")
	mustOK(t, p.maim("restore", res.ID))
	waitHealthy(t, db)

	if got := psqlIn(t, db, pgFingerprint); got != before {
		t.Errorf("restored tables, sequence, role or indexes differ:\n%s\nbefore the backup:\n%s", got, before)
	}
	wantCut(t, strings.Split(strings.TrimSpace(psqlIn(t, db, pgEventsRows)), "\n"), cut)
	if l := lastLineWith(logsOf(t, db), "database system was "); !strings.Contains(l, "database system was shut down at") {
		t.Errorf("the restored server's start: %q, want a cleanly shut down cluster (no crash recovery)", l)
	}
	if out := execInE(t, db, "", "pg_amcheck", "-U", "app", "-d", "appdb", "--install-missing", "--heapallindexed", "--rootdescend"); out.Code != 0 {
		t.Errorf("pg_amcheck of the restored database: %s", out)
	}
	counts := psqlIn(t, db, "SELECT (SELECT count(*) FROM customers) || ' ' || (SELECT count(*) FROM ledger);")
	if strings.TrimSpace(counts) != "500 200000" {
		t.Errorf("restored row counts %q, want 500 200000", counts)
	}
	// The role's password is the backup's: scram-sha-256 over the network, from another container.
	login := dockerIn(t, "", nil, "", "run", "--rm", "--network", p.Name+"_default", "-e", "PGPASSWORD=reader-pw",
		"--entrypoint", "psql", pgImage15, "-h", "db", "-U", "reader", "-d", "appdb", "-Atc", "SELECT count(*) FROM customers")
	if login.Code != 0 || strings.TrimSpace(login.Stdout) != "500" {
		t.Errorf("reader's login over TCP with the backed-up password: %s", login)
	}
}

// waitAcks waits (polling the app's log) until its current run was acknowledged at least
// min rows, and returns how many it was; it fails after about tries seconds.
func waitAcks(t testing.TB, app string, min, tries int) int {
	t.Helper()
	runs := waitRuns(t, app, 1, tries)
	for i := 0; len(runs[len(runs)-1]) < min && i < tries*5; i++ {
		sleepPoll()
		runs = writerRuns(t, logsOf(t, app))
	}
	n := len(runs[len(runs)-1])
	if n < min {
		t.Fatalf("%s: %d rows acknowledged, want %d", app, n, min)
	}
	return n
}

// waitRuns waits until the app's log shows n runs, the last with at least one acknowledged row.
func waitRuns(t testing.TB, app string, n, tries int) [][]string {
	t.Helper()
	var runs [][]string
	for i := 0; i < tries*5; i++ {
		runs = writerRuns(t, logsOf(t, app))
		if len(runs) >= n && len(runs[len(runs)-1]) > 0 {
			return runs
		}
		sleepPoll()
	}
	t.Fatalf("%s: %d writer runs, want %d with a row acknowledged in the last\n%s", app, len(runs), n, logsOf(t, app))
	return nil
}

// logsOf is a container's log, stdout and stderr (not logged: the waits poll it).
func logsOf(t testing.TB, ctr string) string {
	t.Helper()
	out, err := exec.Command("docker", "logs", ctr).CombinedOutput()
	if err != nil {
		t.Fatalf("docker logs %s: %v\n%s", ctr, err, out)
	}
	return string(out)
}

// sleepPoll is the pause between two looks at the engine's state.
func sleepPoll() { time.Sleep(200 * time.Millisecond) }

func lastOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

// wantCut: the restored events are exactly the rows the writer was acknowledged before the
// stop, in order, plus at most the one insert that was under way when the stop came (the
// server committed it, the writer was stopped before it read the answer): the next n, with
// a later id.
func wantCut(t testing.TB, got, acked []string) {
	t.Helper()
	extra := len(got) - len(acked)
	ok := extra == 0 || extra == 1
	for i := 0; ok && i < len(acked); i++ {
		ok = got[i] == acked[i]
	}
	if ok && extra == 1 {
		var lastID, lastN, id, n int64
		fmt.Sscanf(lastOf(acked), "%d|", &lastID)
		if f := strings.Split(lastOf(acked), "|"); len(f) == 5 {
			lastN, _ = strconv.ParseInt(f[3], 10, 64)
		}
		fmt.Sscanf(got[len(got)-1], "%d|", &id)
		n = lastN + 1
		ok = id > lastID && got[len(got)-1] == fmt.Sprintf("%d|%d|tick|%d|row %d", id, n%500+1, n, n)
	}
	if !ok {
		t.Errorf("restored events: %d rows (last %q), want exactly the %d the writer was acknowledged before the stop (last %q), and at most the insert under way then",
			len(got), lastOf(got), len(acked), lastOf(acked))
	} else {
		t.Logf("restored events: the %d acknowledged rows, and %d insert that was under way at the stop", len(acked), extra)
	}
}
