package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// dbRun starts a container of image with docker run's flags and env (docker run -d), named
// after the test, removed when the test ends, failed or not; it returns the name.
func dbRun(t *testing.T, name, image string, flags []string, env ...string) string {
	t.Helper()
	ctr := "maimtest-" + name + "-" + randSuffix()
	args := append([]string{"run", "-d", "--name", ctr}, flags...)
	for _, e := range env {
		args = append(args, "-e", e)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", "-v", ctr).Run() })
	mustOK(t, docker(t, "", nil, append(args, image)...))
	return ctr
}

// dbExit runs image once with env and returns what it did (the container is removed).
func dbExit(t *testing.T, image string, env ...string) Result {
	t.Helper()
	args := []string{"run", "--rm"}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	return docker(t, "", nil, append(args, image)...)
}

// ipOf is a container's address on the default bridge.
func ipOf(t testing.TB, ctr string) string {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", ctr).Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("address of %s: %v %q", ctr, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestDBImagePostgresEntrypoint: each PostgreSQL test image does what the official image does
// with the same environment: it refuses an uninitialised start without a password (exit 1,
// the official message), initialises with POSTGRES_USER, POSTGRES_DB and
// POSTGRES_INITDB_ARGS, answers over the network with scram-sha-256 (a wrong password
// refused), runs the server of its PG_MAJOR as uid 999, and starts with trust when told to,
// also when started as uid 999 (compose's user:) rather than root.
func TestDBImagePostgresEntrypoint(t *testing.T) {
	requireEngine(t)
	images := []string{"maim-test-postgres:15", "maim-test-postgres:16", "maim-test-postgres:17"}
	requireDBImages(t, images...)
	t.Parallel()
	for _, img := range images {
		major := img[strings.LastIndex(img, ":")+1:]
		t.Run(major, func(t *testing.T) {
			t.Parallel()
			r := dbExit(t, img)
			if r.Code != 1 || !strings.Contains(r.Stderr, "superuser password is not specified") {
				t.Errorf("without POSTGRES_PASSWORD: %s", r)
			}
			ctr := dbRun(t, "pg-entry", img, nil, "POSTGRES_PASSWORD=pw-"+major, "POSTGRES_USER=owner",
				"POSTGRES_DB=shop", "POSTGRES_INITDB_ARGS=--data-checksums")
			waitPG(t, ctr, "owner", "shop")
			got := execIn(t, ctr, "", "psql", "-U", "owner", "-d", "shop", "-Atc",
				"SELECT current_setting('server_version_num')::int / 10000 || ' ' || current_setting('data_checksums') || ' ' || current_setting('server_encoding') || ' ' || (SELECT usesuper FROM pg_user WHERE usename = current_user)")
			if strings.TrimSpace(got) != major+" on UTF8 true" {
				t.Errorf("server major, checksums, encoding, superuser: %q, want %q", got, major+" on UTF8 true")
			}
			env := execIn(t, ctr, "", "sh", "-c", `echo "$PG_MAJOR $PGDATA"; stat -c %u /var/lib/postgresql/data /proc/1; cat /proc/1/comm`)
			if f := strings.Fields(env); len(f) != 5 || f[0] != major || f[1] != "/var/lib/postgresql/data" || f[2] != "999" || f[3] != "999" || f[4] != "postgres" {
				t.Errorf("PG_MAJOR PGDATA, owners of PGDATA and of process 1, its name: %q, want %s /var/lib/postgresql/data 999 999 postgres", env, major)
			}
			ip := ipOf(t, ctr)
			for _, c := range []struct {
				pw   string
				code int
			}{{"pw-" + major, 0}, {"wrong", 2}} {
				r := execInE(t, ctr, "", "env", "PGPASSWORD="+c.pw, "psql", "-h", ip, "-U", "owner", "-d", "shop", "-Atc", "SELECT 1")
				if r.Code != c.code || (c.code == 2 && !strings.Contains(r.Stderr, "password authentication failed")) {
					t.Errorf("TCP login with password %q: want exit %d: %s", c.pw, c.code, r)
				}
			}
			// trust, and started as the postgres user itself (the data dir is its own in the image)
			trust := dbRun(t, "pg-trust", img, []string{"--user", "999:999"}, "POSTGRES_HOST_AUTH_METHOD=trust")
			waitPG(t, trust, "postgres", "postgres")
		})
	}
}

// waitPG waits until the server in ctr accepts user on db (pg_isready over the socket: the
// initialisation's single-user run does not listen, so only the real server answers).
func waitPG(t testing.TB, ctr, user, db string) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if exec.Command("docker", "exec", ctr, "pg_isready", "-q", "-U", user, "-d", db).Run() == nil {
			return
		}
		sleepPoll()
	}
	t.Fatalf("%s never accepted connections:\n%s", ctr, logsOf(t, ctr))
}

// TestDBImageMariaDBEntrypoint: the MariaDB test image refuses an uninitialised start without
// a root password, accepts MYSQL_ROOT_PASSWORD like MARIADB_ROOT_PASSWORD, and runs mariadbd
// as uid 999 with the version ENV MARIADB_VERSION names.
func TestDBImageMariaDBEntrypoint(t *testing.T) {
	requireEngine(t)
	requireDBImages(t, mariadbImage)
	t.Parallel()
	r := dbExit(t, mariadbImage)
	if r.Code != 1 || !strings.Contains(r.Stderr, "password option is not specified") {
		t.Errorf("without a root password: %s", r)
	}
	ctr := dbRun(t, "mariadb-entry", mariadbImage, nil, "MYSQL_ROOT_PASSWORD=legacy-pw", "MYSQL_DATABASE=legacy")
	login := []string{"exec", ctr, "mariadb", "--protocol=tcp", "-h127.0.0.1", "-uroot", "-plegacy-pw", "-N", "-e", "SELECT VERSION(), DATABASE()", "legacy"}
	for i := 0; exec.Command("docker", login...).Run() != nil; i++ {
		if i == 300 {
			t.Fatalf("root never logged in with MYSQL_ROOT_PASSWORD:\n%s", logsOf(t, ctr))
		}
		sleepPoll()
	}
	r = mustOK(t, docker(t, "", nil, login...))
	env := execIn(t, ctr, "", "sh", "-c", `echo "$MARIADB_VERSION"; stat -c %u /var/lib/mysql /proc/1; cat /proc/1/comm`)
	f, v := strings.Fields(env), strings.Fields(r.Stdout)
	if len(f) != 4 || len(v) != 2 || !strings.Contains(f[0], strings.SplitN(v[0], "-", 2)[0]) || f[1] != "999" || f[2] != "999" || f[3] != "mariadbd" || v[1] != "legacy" {
		t.Errorf("MARIADB_VERSION, owners of the data dir and of process 1, its name: %q; the server's version and database: %q", env, r.Stdout)
	}
}
