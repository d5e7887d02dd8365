package e2e

import (
	"strings"
	"testing"
)

// mariadbCompose is the real MariaDB 10.11 test image with the official image's variables and
// a named volume. The healthcheck goes over TCP, which the entrypoint's temporary server
// (no networking) does not answer: healthy means the real server runs.
const mariadbCompose = `services:
  db:
    image: maim-test-mariadb:10.11
    environment:
      MARIADB_ROOT_PASSWORD: root-pw
      MARIADB_DATABASE: shop
      MARIADB_USER: shop
      MARIADB_PASSWORD: shop-pw
    volumes:
      - dbdata:/var/lib/mysql
    healthcheck:
      test: ["CMD", "mariadb", "--protocol=tcp", "-h127.0.0.1", "-ushop", "-pshop-pw", "-e", "SELECT 1", "shop"]
      interval: 1s
      timeout: 3s
      retries: 60
volumes:
  dbdata: {}
`

const mariadbSchema = `
CREATE TABLE items (id int PRIMARY KEY AUTO_INCREMENT, sku varchar(32) NOT NULL UNIQUE, qty int NOT NULL, note text) ENGINE=InnoDB;
INSERT INTO items (sku, qty, note) SELECT CONCAT('sku-', seq), seq % 97, REPEAT(MD5(seq), 4) FROM seq_1_to_5000;
CREATE TABLE audit (at datetime NOT NULL, what varchar(64) NOT NULL) ENGINE=Aria;
INSERT INTO audit VALUES ('2026-01-02 03:04:05', 'created'), ('2026-01-02 03:04:06', 'filled');
`

// mariadbState is what the restore must give back: the tables' checksums and row counts, the
// users.
const mariadbState = `
CHECKSUM TABLE items, audit EXTENDED;
SELECT COUNT(*), MAX(id), SUM(qty) FROM items;
SELECT user, host FROM mysql.user ORDER BY user, host;
`

// mariadbSQL runs SQL as root with the container's mariadb client over its socket.
func mariadbSQL(t testing.TB, ctr, sql string) string {
	t.Helper()
	return execIn(t, ctr, sql, "mariadb", "-uroot", "-proot-pw", "--batch", "--skip-column-names", "shop")
}

// TestDBMariaDBBackupRestore: a real MariaDB made by the image's entrypoint from the official
// variables (the user and database exist, the root password works) is backed up, emptied,
// and restored: the tables (InnoDB and Aria) and users are back exactly, and mariadb-check
// finds nothing wrong.
func TestDBMariaDBBackupRestore(t *testing.T) {
	requireEngine(t)
	requireDBImages(t, mariadbImage)
	t.Parallel()
	p := newProject(t, "db-mariadb", mariadbCompose)
	compose(t, p, "up", "-d", "--wait")
	db := p.Name + "-db-1"
	// The user MARIADB_USER names owns MARIADB_DATABASE.
	execIn(t, db, mariadbSchema, "mariadb", "-ushop", "-pshop-pw", "shop")
	before := mariadbSQL(t, db, mariadbState)
	if !strings.Contains(before, "5000\t5000\t") || !strings.Contains(before, "shop\t%") {
		t.Fatalf("the schema did not come out as made:\n%s", before)
	}

	id := p.backup()
	waitHealthy(t, db) // the backup started it again; it need not be ready yet
	mariadbSQL(t, db, "DELETE FROM items WHERE id % 2 = 0; DROP TABLE audit; DROP USER 'shop'@'%';")
	mustOK(t, p.maim("restore", id))
	waitHealthy(t, db)

	if got := mariadbSQL(t, db, mariadbState); got != before {
		t.Errorf("restored tables or users differ:\n%s\nbefore the backup:\n%s", got, before)
	}
	if r := execInE(t, db, "", "mariadb-check", "-uroot", "-proot-pw", "--all-databases", "--extended"); r.Code != 0 || strings.Contains(r.Stdout, "error") {
		t.Errorf("mariadb-check of the restored server: %s", r)
	}
	if r := execInE(t, db, "", "mariadb", "--protocol=tcp", "-h127.0.0.1", "-ushop", "-pshop-pw", "-e", "SELECT COUNT(*) FROM items", "shop"); r.Code != 0 {
		t.Errorf("the restored user's login: %s", r)
	}
}
