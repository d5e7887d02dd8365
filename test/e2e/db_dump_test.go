package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/testrig"
	"github.com/klauspost/compress/zstd"
)

// dumpEntry is a manifest's dumps[] member as documented (docs/json.md).
type dumpEntry struct {
	Service     string `json:"service"`
	Engine      string `json:"engine"`
	Command     string `json:"command"`
	Archive     string `json:"archive"`
	SHA256      string `json:"sha256"`
	ArchiveSize int64  `json:"archive_size"`
	Bytes       int64  `json:"bytes"`
}

// manifestDumps reads the dumps of backup id's manifest, and the manifest's bytes.
func manifestDumps(t testing.TB, p *project, id string) ([]dumpEntry, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.backupPath(id), "manifest.json"))
	must(t, err)
	var m struct {
		Dumps []dumpEntry `json:"dumps"`
	}
	must(t, json.Unmarshal(b, &m))
	return m.Dumps, string(b)
}

// readDump checks the dump's archive against the manifest (size, sha256, uncompressed
// bytes) and returns the SQL it holds.
func readDump(t testing.TB, p *project, id string, d dumpEntry) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.backupPath(id), d.Archive))
	must(t, err)
	sum := sha256.Sum256(b)
	if int64(len(b)) != d.ArchiveSize || hex.EncodeToString(sum[:]) != d.SHA256 {
		t.Fatalf("%s: %d bytes sha256 %x; manifest says %d, %s", d.Archive, len(b), sum, d.ArchiveSize, d.SHA256)
	}
	zr, err := zstd.NewReader(bytes.NewReader(b))
	must(t, err)
	defer zr.Close()
	sql, err := io.ReadAll(zr)
	must(t, err)
	if int64(len(sql)) != d.Bytes {
		t.Fatalf("%s: %d bytes of SQL, manifest says %d", d.Archive, len(sql), d.Bytes)
	}
	return string(sql)
}

// startedAt is when container ctr last started, as the engine reports it.
func startedAt(t testing.TB, ctr string) string {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.StartedAt}}", ctr).Output()
	must(t, err)
	return strings.TrimSpace(string(out))
}

// TestDBDumpPostgres: `backup --dump db` of a real PostgreSQL 15 while the app writes puts a
// pg_dumpall of it into the backup, hashed in the manifest and listed by backup and backups;
// verify passes, and fails (exit 3) once a byte of the dump is flipped. The dump, loaded into
// a fresh server, gives the same tables, sequence, role and indexes, and a prefix of the
// events the app was writing (one consistent snapshot). The password is never shown or
// recorded.
func TestDBDumpPostgres(t *testing.T) {
	requireEngine(t)
	requireDBImages(t, pgImage15)
	t.Parallel()
	p := newProject(t, "db-dump-pg", pgHotCompose)
	compose(t, p, "up", "-d", "--wait", "db")
	db, app := p.Name+"-db-1", p.Name+"-app-1"
	psqlIn(t, db, pgSchema)
	before := psqlIn(t, db, pgFingerprint)
	compose(t, p, "up", "-d", "app")
	waitAcks(t, app, 1, 20)

	r := mustOK(t, p.maim("backup", "--dump", "db", "--format", "json"))
	var res struct {
		ID    string `json:"id"`
		Dumps []struct {
			Service, Engine, Archive string
			Bytes                    int64
		} `json:"dumps"`
	}
	must(t, json.Unmarshal([]byte(r.Stdout), &res))
	if len(res.Dumps) != 1 || res.Dumps[0].Service != "db" || res.Dumps[0].Engine != "postgresql" || res.Dumps[0].Archive != "dump-db.sql.zst" {
		t.Fatalf("backup's dumps: %+v, want db's postgresql dump-db.sql.zst", res.Dumps)
	}
	dumps, raw := manifestDumps(t, p, res.ID)
	if len(dumps) != 1 || !strings.HasPrefix(dumps[0].Command, "pg_dumpall -U app") {
		t.Fatalf("manifest dumps: %+v", dumps)
	}
	if strings.Contains(r.Stdout+r.Stderr+raw, "app-s3cret") {
		t.Fatalf("the password is in docker-maim's output or the manifest:\n%s\n%s", r, raw)
	}
	sql := readDump(t, p, res.ID, dumps[0])
	if !strings.Contains(sql, "PostgreSQL database cluster dump") || !strings.Contains(sql, "CREATE TABLE public.ledger") {
		t.Fatalf("the dump is no pg_dumpall of the cluster: %.400s", sql)
	}
	mustOK(t, p.maim("verify", res.ID))
	var list struct {
		Backups []struct {
			ID    string   `json:"id"`
			Dumps []string `json:"dumps"`
		} `json:"backups"`
	}
	must(t, json.Unmarshal([]byte(mustOK(t, p.maim("backups", "--format", "json")).Stdout), &list))
	if rows := list.Backups; len(rows) != 1 || strings.Join(rows[0].Dumps, ",") != "db" {
		t.Errorf("backups lists %+v, want one backup with the dump of db", list.Backups)
	}

	// The dump loads into a fresh server and gives the same data.
	compose(t, p, "stop", "app")
	fresh := p.Name + "-fresh"
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", "-v", fresh).Run() })
	mustOK(t, docker(t, "", nil, "run", "-d", "--name", fresh, "-e", "POSTGRES_USER=app", "-e", "POSTGRES_PASSWORD=other",
		"--health-cmd", "pg_isready -U app -d app", "--health-interval", "1s", pgImage15))
	waitHealthy(t, fresh)
	execIn(t, fresh, sql, "psql", "-U", "app", "-d", "app", "-q")
	if got := psqlIn(t, fresh, pgFingerprint); got != before {
		t.Errorf("the loaded dump's tables, sequence, role or indexes differ:\n%s\nbefore:\n%s", got, before)
	}
	loaded := strings.Split(strings.TrimSpace(psqlIn(t, fresh, pgEventsRows)), "\n")
	all := strings.Split(strings.TrimSpace(psqlIn(t, db, pgEventsRows)), "\n")
	if len(loaded) == 0 || len(loaded) > len(all) || strings.Join(all[:len(loaded)], "\n") != strings.Join(loaded, "\n") {
		t.Errorf("the dump's %d events are not a prefix of the %d the database holds", len(loaded), len(all))
	}

	// A flipped byte in the dump: verify fails.
	f := filepath.Join(p.backupPath(res.ID), dumps[0].Archive)
	b, err := os.ReadFile(f)
	must(t, err)
	b[len(b)/2] ^= 0x40
	must(t, os.WriteFile(f, b, 0o600))
	v := p.maim("verify", res.ID)
	if v.Code != 3 || !strings.Contains(v.Stderr, "dump-db.sql.zst") {
		t.Errorf("verify of a backup whose dump has a flipped byte: want exit 3 naming the dump: %s", v)
	}
}

// pgLabelCompose is a PostgreSQL 15 service that asks for its dump with stack-back's label.
const pgLabelCompose = `services:
  db:
    image: maim-test-postgres:15
    labels:
      stack-back.postgres: "true"
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: label-s3cret
    volumes:
      - pgdata:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "app"]
      interval: 1s
      timeout: 3s
      retries: 60
volumes:
  pgdata: {}
`

// TestDBDumpLabelAndFailure: stack-back.postgres turns the dump on without a flag; once the
// service's POSTGRES_USER names a role the cluster lacks, the dump fails: the backup is
// refused (exit 12) with pg_dumpall's own message, nothing was stopped, no backup is left.
func TestDBDumpLabelAndFailure(t *testing.T) {
	requireEngine(t)
	requireDBImages(t, pgImage15)
	t.Parallel()
	p := newProject(t, "db-dump-label", pgLabelCompose)
	compose(t, p, "up", "-d", "--wait")
	db := p.Name + "-db-1"
	execIn(t, db, "", "psql", "-U", "app", "-d", "app", "-v", "ON_ERROR_STOP=1", "-c", "CREATE TABLE t (v text); INSERT INTO t VALUES ('labelled');")
	id := p.backup()
	dumps, _ := manifestDumps(t, p, id)
	if len(dumps) != 1 || dumps[0].Service != "db" {
		t.Fatalf("stack-back.postgres: dumps %+v, want db's", dumps)
	}
	if sql := readDump(t, p, id, dumps[0]); !strings.Contains(sql, "labelled") {
		t.Errorf("the label's dump lacks the table's row: %.400s", sql)
	}

	// The service's user is now a role the cluster lacks (the data dir keeps app).
	p.WriteCompose(strings.ReplaceAll(pgLabelCompose, "POSTGRES_USER: app", "POSTGRES_USER: ghost"))
	compose(t, p, "up", "-d", "--wait")
	started := startedAt(t, db)
	r := p.maim("backup")
	t.Log(r.Stderr)
	wantFail(t, r, 12, "nothing was stopped", `role "ghost" does not exist`)
	if strings.Contains(r.Stdout+r.Stderr, "label-s3cret") {
		t.Errorf("the password is in docker-maim's output: %s", r)
	}
	if got := startedAt(t, db); got != started {
		t.Errorf("the database was restarted (started %s, now %s): a failing dump must stop nothing", started, got)
	}
	ents, err := os.ReadDir(filepath.Join(p.BackupDir, p.Name))
	must(t, err)
	if n := countDirs(ents); n != 1 {
		t.Errorf("%d backups in the backup dir, want only the first: the failed one is dropped", n)
	}
}

// TestDBDumpMariaDB: `backup --dump db` of a real MariaDB dumps every database with
// mariadb-dump as root, the root password through the exec's environment (never shown);
// x-maim's dump key turns it on as well; a root password the server does not accept
// refuses the backup with the tool's message.
func TestDBDumpMariaDB(t *testing.T) {
	requireEngine(t)
	requireDBImages(t, mariadbImage)
	t.Parallel()
	p := newProject(t, "db-dump-maria", mariadbCompose)
	compose(t, p, "up", "-d", "--wait")
	db := p.Name + "-db-1"
	mariadbSQL(t, db, mariadbSchema)
	r := mustOK(t, p.maim("backup", "--dump", "db"))
	id := backupID(t, r)
	dumps, raw := manifestDumps(t, p, id)
	if len(dumps) != 1 || dumps[0].Engine != "mariadb" || !strings.HasPrefix(dumps[0].Command, "mariadb-dump --all-databases --single-transaction") {
		t.Fatalf("dumps %+v", dumps)
	}
	if strings.Contains(r.Stdout+r.Stderr+raw, "root-pw") {
		t.Fatalf("the root password is in docker-maim's output or the manifest:\n%s\n%s", r, raw)
	}
	sql := readDump(t, p, id, dumps[0])
	if !strings.Contains(sql, "CREATE TABLE `items`") || !strings.Contains(sql, "sku-4999") {
		t.Errorf("the dump lacks shop.items: %.400s", sql)
	}
	mustOK(t, p.maim("verify", id))

	// x-maim's dump key asks for it too (mysql on MariaDB's image: MariaDB's own tool).
	p.WriteCompose(strings.Replace(mariadbCompose, "    image: maim-test-mariadb:10.11\n", "    image: maim-test-mariadb:10.11\n    x-maim:\n      dump: mysql\n", 1))
	id = p.backup()
	if dumps, _ := manifestDumps(t, p, id); len(dumps) != 1 || !strings.HasPrefix(dumps[0].Command, "mariadb-dump ") {
		t.Errorf("x-maim dump: mysql: dumps %+v, want db's, by mariadb-dump", dumps)
	}

	p.WriteCompose(strings.ReplaceAll(mariadbCompose, "MARIADB_ROOT_PASSWORD: root-pw", "MARIADB_ROOT_PASSWORD: not-the-pw"))
	compose(t, p, "up", "-d", "--wait")
	started := startedAt(t, db)
	f := p.maim("backup", "--dump", "db")
	t.Log(f.Stderr)
	wantFail(t, f, 12, "nothing was stopped", "Access denied for user 'root'")
	if strings.Contains(f.Stdout+f.Stderr, "not-the-pw") {
		t.Errorf("the password is in docker-maim's output: %s", f)
	}
	if got := startedAt(t, db); got != started {
		t.Errorf("the database was restarted: a failing dump must stop nothing")
	}
}

// pgUpgradeCompose is a PostgreSQL 15 service (its image under the loopback registry's
// name, never pushed) whose stack-back label asks for a dump.
const pgUpgradeCompose = `services:
  db:
    image: ${DB_IMAGE}
    labels:
      stack-back.postgres: "true"
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: upgrade-s3cret
    volumes:
      - pgdata:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "app"]
      interval: 1s
      timeout: 3s
      retries: 60
volumes:
  pgdata: {}
`

// TestDBDumpUpgrade: the upgrade's plan lists stack-back's dump as taken before anything
// stops, and the upgrade's backup holds it, taken from the old container.
func TestDBDumpUpgrade(t *testing.T) {
	requireEngine(t)
	requireDBImages(t, pgImage15)
	t.Parallel()
	p := newProject(t, "db-dump-up", pgUpgradeCompose)
	ref := testrig.Registry() + "/" + p.Name + "/pg:15"
	p.TrackImage(ref)
	mustOK(t, docker(t, "", nil, "tag", pgImage15, ref))
	p.WriteFile(".env", "DB_IMAGE="+ref+"\n")
	compose(t, p, "up", "-d", "--wait")
	db := p.Name + "-db-1"
	execIn(t, db, "", "psql", "-U", "app", "-d", "app", "-v", "ON_ERROR_STOP=1", "-c", "CREATE TABLE t (v text); INSERT INTO t VALUES ('before the upgrade');")

	dry := mustOK(t, p.maim("upgrade", "--force", "--dry-run"))
	if !strings.Contains(dry.Stdout, "db: logical postgres dump (stack-back.postgres): taken in its running container before anything stops") {
		t.Errorf("the plan does not list the dump:\n%s", dry.Stdout)
	}
	up := mustOK(t, p.maim("upgrade", "--force", "--stable-period", "1s", "--timeout", "2m", "--format", "json"))
	var res struct {
		BackupID string `json:"backup_id"`
	}
	must(t, json.Unmarshal([]byte(up.Stdout), &res))
	dumps, raw := manifestDumps(t, p, res.BackupID)
	if len(dumps) != 1 || dumps[0].Service != "db" {
		t.Fatalf("the upgrade's backup dumps: %+v", dumps)
	}
	if sql := readDump(t, p, res.BackupID, dumps[0]); !strings.Contains(sql, "before the upgrade") {
		t.Errorf("the upgrade's dump lacks the row: %.400s", sql)
	}
	if strings.Contains(up.Stdout+up.Stderr+raw, "upgrade-s3cret") {
		t.Errorf("the password is in docker-maim's output or the manifest")
	}
	mustOK(t, p.maim("verify", res.BackupID))

	// A dump that fails refuses the upgrade like a failing pre-command: exit 12, nothing
	// stopped, no backup left.
	p.WriteCompose(strings.ReplaceAll(pgUpgradeCompose, "POSTGRES_USER: app", "POSTGRES_USER: ghost"))
	compose(t, p, "up", "-d", "--wait")
	started := startedAt(t, db)
	f := p.maim("upgrade", "--force", "--stable-period", "1s", "--timeout", "2m")
	t.Log(f.Stderr)
	wantFail(t, f, 12, `role "ghost" does not exist`)
	if got := startedAt(t, db); got != started {
		t.Errorf("the database was restarted by a refused upgrade")
	}
	if ents, _ := os.ReadDir(filepath.Join(p.BackupDir, p.Name)); countDirs(ents) != 1 {
		t.Errorf("%d backups, want only the first upgrade's: the refused one's begun backup is dropped", countDirs(ents))
	}
}

func countDirs(ents []os.DirEntry) int {
	n := 0
	for _, e := range ents {
		if e.IsDir() {
			n++
		}
	}
	return n
}
