package dbdump

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestPlanPostgres(t *testing.T) {
	c, err := Plan("postgres", "postgres:15", []string{"PG_MAJOR=15", "POSTGRES_USER=app", "POSTGRES_PASSWORD=s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Exec(), []string{"pg_dumpall", "-U", "app"}) || !reflect.DeepEqual(c.ExecEnv(), []string{"PGPASSWORD=s3cret"}) {
		t.Errorf("exec %q env %q", c.Exec(), c.ExecEnv())
	}
	if strings.Contains(c.String(), "s3cret") || !strings.Contains(c.String(), "POSTGRES_PASSWORD") {
		t.Errorf("String %q: want where the password comes from, never the password", c.String())
	}
	// --dump (no kind) on an image known by its name only; the default superuser.
	c, err = Plan("", "registry.example/library/postgres:16-alpine", nil)
	if err != nil || !reflect.DeepEqual(c.Argv, []string{"pg_dumpall", "-U", "postgres"}) || len(c.Env) != 0 {
		t.Errorf("plain postgres: %+v %v", c, err)
	}
}

func TestPlanMariaDBAndMySQL(t *testing.T) {
	c, err := Plan("mariadb", "mariadb:11", []string{"MARIADB_VERSION=1:11.4.2+maria~ubu2404", "MARIADB_ROOT_PASSWORD=rootpw"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"mariadb-dump", "--all-databases", "--single-transaction", "--routines", "--events", "--user=root"}
	if !reflect.DeepEqual(c.Exec(), want) || !reflect.DeepEqual(c.ExecEnv(), []string{"MYSQL_PWD=rootpw"}) || strings.Contains(c.String(), "rootpw") {
		t.Errorf("mariadb: exec %q env %q string %q", c.Exec(), c.ExecEnv(), c.String())
	}
	// stack-back.mysql on a MariaDB image: MariaDB's own tool; MySQL's image: mysqldump.
	if c, _ := Plan("mysql", "mariadb:10.11", []string{"MYSQL_ROOT_PASSWORD=x"}); c.Argv[0] != "mariadb-dump" || c.Secret != "MYSQL_ROOT_PASSWORD" {
		t.Errorf("mysql label on mariadb: %+v", c)
	}
	if c, _ := Plan("", "mysql:8.0", []string{"MYSQL_VERSION=8.0.36-1.el8", "MYSQL_ROOT_PASSWORD=x"}); c.Argv[0] != "mysqldump" || c.Engine != "mysql" {
		t.Errorf("mysql: %+v", c)
	}
	if c, err := Plan("", "mariadb:11", []string{"MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1"}); err != nil || len(c.ExecEnv()) != 0 {
		t.Errorf("empty root password: %+v %v", c, err)
	}
	if _, err := Plan("", "mariadb:11", []string{"MARIADB_RANDOM_ROOT_PASSWORD=yes", "MARIADB_USER=u", "MARIADB_PASSWORD=p"}); err == nil || !strings.Contains(err.Error(), "random") {
		t.Errorf("random root password: %v, want refused", err)
	}
	if _, err := Plan("", "mariadb:11", nil); err == nil || !strings.Contains(err.Error(), "no root password") {
		t.Errorf("no root password: %v", err)
	}
}

func TestPlanRefusesWhatIsNoDatabase(t *testing.T) {
	if _, err := Plan("", "nginx:1.27", []string{"NGINX_VERSION=1.27"}); !errors.Is(err, ErrNotDatabase) {
		t.Errorf("nginx: %v", err)
	}
	if _, err := Plan("postgres", "mariadb:11", []string{"MARIADB_ROOT_PASSWORD=x"}); err == nil || !strings.Contains(err.Error(), "runs mariadb") {
		t.Errorf("postgres label on mariadb: %v", err)
	}
	if _, err := Plan("mariadb", "postgres:16", nil); err == nil {
		t.Error("mariadb label on postgres: accepted")
	}
}

// A hostile environment stays data: a user name with shell syntax is one argument (no
// shell runs), a file path with quotes never becomes script text.
func TestPlanHostileEnvironment(t *testing.T) {
	user := `x"; rm -rf / #$(id)` + "`id`"
	c, err := Plan("postgres", "postgres:15", []string{"POSTGRES_USER=" + user, "POSTGRES_PASSWORD=p'w\"$(reboot)"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Exec(), []string{"pg_dumpall", "-U", user}) {
		t.Errorf("exec %q: want the user as one argument and no shell", c.Exec())
	}
	path := `/run/secrets/a"; reboot; echo "`
	c, err = Plan("mariadb", "mariadb:11", []string{"MARIADB_ROOT_PASSWORD_FILE=" + path})
	if err != nil {
		t.Fatal(err)
	}
	ex := c.Exec()
	if ex[0] != "/bin/sh" || strings.Contains(ex[2], "reboot") || !reflect.DeepEqual(ex[4:], c.Argv) {
		t.Errorf("exec %q: the path must not be in the script", ex)
	}
	if !reflect.DeepEqual(c.ExecEnv(), []string{"DOCKER_MAIM_FILE_MYSQL_PWD=" + path}) || c.Secret != "MARIADB_ROOT_PASSWORD_FILE" {
		t.Errorf("env %q secret %q", c.ExecEnv(), c.Secret)
	}
}

// The _FILE variants: a real shell reads each file into its variable (its trailing newline
// stripped, as the official entrypoints' file_env does) and execs the tool with it; a file
// that cannot be read fails before the tool runs.
func TestFileVariantsWithARealShell(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	dir := t.TempDir()
	user, pw := filepath.Join(dir, "user"), filepath.Join(dir, "it's \"pw\"")
	if err := os.WriteFile(user, []byte("app\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pw, []byte("s3 $(cret)\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Plan("postgres", "postgres:15", []string{"POSTGRES_USER_FILE=" + user, "POSTGRES_PASSWORD_FILE=" + pw})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Argv, []string{"pg_dumpall"}) {
		t.Errorf("argv %q: the user comes from PGUSER", c.Argv)
	}
	c.Argv = []string{"sh", "-c", `printf '%s|%s|%s' "$PGUSER" "$PGPASSWORD" "${DOCKER_MAIM_FILE_PGPASSWORD-unset}"`}
	cmd := exec.Command(c.Exec()[0], c.Exec()[1:]...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, c.ExecEnv()...)
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "app|s3 $(cret)|unset" {
		t.Errorf("the shell gave %q (%v), want app|s3 $(cret)|unset", out, err)
	}
	c.FromFile["PGPASSWORD"] = filepath.Join(dir, "missing")
	cmd = exec.Command(c.Exec()[0], c.Exec()[1:]...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, c.ExecEnv()...)
	if out, err := cmd.CombinedOutput(); err == nil || strings.Contains(string(out), "|") {
		t.Errorf("a missing file: %q %v, want a failure before the tool runs", out, err)
	}
}
