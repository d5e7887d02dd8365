package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
	"github.com/klauspost/compress/zstd"
)

// pgFromDumpCompose is a PostgreSQL 15 service with its data in a named volume, and a web
// service that depends on it (started again after the load).
const pgFromDumpCompose = `services:
  db:
    image: maim-test-postgres:15
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: fd-s3cret
      POSTGRES_DB: appdb
    volumes:
      - pgdata:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "app", "-d", "appdb"]
      interval: 1s
      timeout: 3s
      retries: 60
volumes:
  pgdata: {}
`

// pgCopies is every table's rows as COPY writes them, in key order.
const pgCopies = `
COPY (SELECT * FROM customers ORDER BY id) TO STDOUT;
COPY (SELECT * FROM ledger ORDER BY id) TO STDOUT;
COPY (SELECT id, customer_id, kind, n, payload FROM events ORDER BY id) TO STDOUT;
`

// rewriteDump replaces backup id's dump of service with sql (compressed with zstd) and
// makes the manifest's hash and sizes say so: a dump that passes the check but fails to load.
func rewriteDump(t *testing.T, p *project, id string, d dumpEntry, sql string) {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	must(t, err)
	_, err = io.WriteString(zw, sql)
	must(t, err)
	must(t, zw.Close())
	dir := p.backupPath(id)
	must(t, os.WriteFile(filepath.Join(dir, d.Archive), buf.Bytes(), 0o600))
	sum := sha256.Sum256(buf.Bytes())
	man, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	must(t, err)
	s := strings.Replace(string(man), d.SHA256, hex.EncodeToString(sum[:]), 1)
	s = strings.Replace(s, `"archive_size": `+strconv.FormatInt(d.ArchiveSize, 10), `"archive_size": `+strconv.Itoa(buf.Len()), 1)
	s = strings.Replace(s, `"bytes": `+strconv.FormatInt(d.Bytes, 10), `"bytes": `+strconv.Itoa(len(sql)), 1)
	must(t, os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(s), 0o600))
}

// TestDBFromDumpPostgres: `restore ID --from-dump db` loads backup ID's pg_dumpall into an
// emptied data dir: after a table is dropped and rows are added, every table's COPY output,
// the sequence, the indexes and the role are those of the dump, and the role logs in over
// TCP with its password. A flipped byte in the dump refuses the restore (exit 3) and leaves
// the volume's files exactly as they were; a dump that fails to load (an error in its SQL)
// puts the old data back byte for byte (the volume's tree, compared while stopped).
func TestDBFromDumpPostgres(t *testing.T) {
	requireEngine(t)
	requireDBImages(t, pgImage15)
	t.Parallel()
	p := newProject(t, "db-fromdump-pg", pgFromDumpCompose)
	compose(t, p, "up", "-d", "--wait")
	db := p.Name + "-db-1"
	psqlIn(t, db, pgSchema)
	psqlIn(t, db, "INSERT INTO events (customer_id, kind, n, payload) SELECT i % 500 + 1, 'tick', i, 'row ' || i FROM generate_series(1, 300) i;")
	before, copies := psqlIn(t, db, pgFingerprint), psqlIn(t, db, pgCopies)

	id := backupID(t, mustOK(t, p.maim("backup", "--dump", "db")))
	dumps, _ := manifestDumps(t, p, id)
	if len(dumps) != 1 {
		t.Fatalf("dumps %+v", dumps)
	}
	waitHealthy(t, db) // the backup started it again; it need not be ready yet
	psqlIn(t, db, "DROP TABLE ledger; INSERT INTO customers (email, name) VALUES ('late@example.org', 'Late'); SELECT nextval('invoice_no');")

	// The dry run lists the emptying and the load, and changes nothing.
	started := startedAt(t, db)
	dry := mustOK(t, p.maim("restore", id, "--from-dump", "db", "--dry-run"))
	for _, want := range []string{"empty pgdata (volume " + p.Name + "_pgdata)", "load the dump: psql -X -q -v ON_ERROR_STOP=1 -U app -d postgres"} {
		if !strings.Contains(dry.Stdout, want) {
			t.Errorf("the dry run does not say %q:\n%s", want, dry.Stdout)
		}
	}
	if startedAt(t, db) != started || strings.Contains(psqlIn(t, db, "SELECT to_regclass('ledger') IS NULL;"), "f") {
		t.Errorf("the dry run restarted db or brought ledger back")
	}

	r := mustOK(t, p.maim("restore", id, "--from-dump", "db", "--stable-period", "1s", "--timeout", "3m"))
	t.Log(r.Stderr)
	if strings.Contains(r.Stdout+r.Stderr+dry.Stdout, "fd-s3cret") {
		t.Errorf("the password is in docker-maim's output: %s", r)
	}
	waitHealthy(t, db)
	if got := psqlIn(t, db, pgFingerprint); got != before {
		t.Errorf("after --from-dump:\n%s\nthe dump's:\n%s", got, before)
	}
	if got := psqlIn(t, db, pgCopies); got != copies {
		t.Errorf("the tables' COPY output differs from the dump's (%d bytes, want %d)", len(got), len(copies))
	}
	execIn(t, db, "", "env", "PGPASSWORD=reader-pw", "psql", "-h", "127.0.0.1", "-U", "reader", "-d", "appdb", "-v", "ON_ERROR_STOP=1", "-Atqc", "SELECT count(*) FROM customers")

	// From here the database is stopped: its volume's files stay still to compare.
	compose(t, p, "stop", "db")
	vol := p.volumeDir(p.Name + "_pgdata")
	tree := treediff.Of(t, vol)

	// A flipped byte: refused before anything is touched.
	f := filepath.Join(p.backupPath(id), dumps[0].Archive)
	good, err := os.ReadFile(f)
	must(t, err)
	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 0x40
	must(t, os.WriteFile(f, bad, 0o600))
	wantFail(t, p.maim("restore", id, "--from-dump", "db"), 3, dumps[0].Archive)
	treediff.AssertSame(t, tree, treediff.Of(t, vol), treediff.Options{})
	must(t, os.WriteFile(f, good, 0o600))

	// A dump that passes the check but fails to load: the old data comes back exactly.
	sql := readDump(t, p, id, dumps[0])
	rewriteDump(t, p, id, dumps[0], strings.Replace(sql, "CREATE TABLE public.ledger", "SELECT maim_no_such_function();\nCREATE TABLE public.ledger", 1))
	fail := p.maim("restore", id, "--from-dump", "db", "--timeout", "3m")
	t.Log(fail.Stderr)
	if fail.Code == 0 || !strings.Contains(fail.Stderr, "put back from safety backup") || !strings.Contains(fail.Stderr, "maim_no_such_function() does not exist") {
		t.Fatalf("a dump that fails to load: want a failure that put the data back, with psql's message: %s", fail)
	}
	treediff.AssertSame(t, tree, treediff.Of(t, vol), treediff.Options{})
	if st := containerState(t, db); st != "exited" {
		t.Errorf("db is %s after the failed load, want stopped as before", st)
	}
	compose(t, p, "up", "-d", "--wait", "db")
	if got := psqlIn(t, db, pgFingerprint); got != before {
		t.Errorf("after the put-back:\n%s\nwant:\n%s", got, before)
	}
}

// TestDBFromDumpMariaDB: the smoke test of MariaDB: rows deleted after `backup --dump db`
// come back with `restore --from-dump db` (the tables' checksums and the users equal).
func TestDBFromDumpMariaDB(t *testing.T) {
	requireEngine(t)
	requireDBImages(t, mariadbImage)
	t.Parallel()
	p := newProject(t, "db-fromdump-maria", mariadbCompose)
	compose(t, p, "up", "-d", "--wait")
	db := p.Name + "-db-1"
	execIn(t, db, mariadbSchema, "mariadb", "-ushop", "-pshop-pw", "shop")
	before := mariadbSQL(t, db, mariadbState)
	id := backupID(t, mustOK(t, p.maim("backup", "--dump", "db")))
	waitHealthy(t, db)
	mariadbSQL(t, db, "DELETE FROM items WHERE id % 2 = 0; DROP TABLE audit;")
	r := mustOK(t, p.maim("restore", id, "--from-dump", "db", "--stable-period", "1s", "--timeout", "3m"))
	t.Log(r.Stderr)
	if strings.Contains(r.Stdout+r.Stderr, "root-pw") {
		t.Errorf("the root password is in docker-maim's output: %s", r)
	}
	waitHealthy(t, db)
	if got := mariadbSQL(t, db, mariadbState); got != before {
		t.Errorf("after --from-dump:\n%s\nthe dump's:\n%s", got, before)
	}
}

// containerState is the engine's State.Status of ctr (running, exited, ...).
func containerState(t testing.TB, ctr string) string {
	t.Helper()
	return strings.TrimSpace(mustOK(t, docker(t, "", nil, "inspect", "-f", "{{.State.Status}}", ctr)).Stdout)
}
