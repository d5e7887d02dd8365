package dbdump

import (
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestLoadPlan(t *testing.T) {
	c, err := LoadPlan("postgresql", "postgres:15", []string{"PG_MAJOR=15", "POSTGRES_USER=app", "POSTGRES_PASSWORD=s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", "app", "-d", "postgres"}
	if !reflect.DeepEqual(c.Exec(), want) || !reflect.DeepEqual(c.ExecEnv(), []string{"PGPASSWORD=s3cret"}) || strings.Contains(c.String(), "s3cret") {
		t.Errorf("postgres: exec %q env %q string %q", c.Exec(), c.ExecEnv(), c.String())
	}
	c, err = LoadPlan("mariadb", "mariadb:10.11", []string{"MARIADB_VERSION=1:10.11.9", "MARIADB_ROOT_PASSWORD=rootpw"})
	if err != nil || !reflect.DeepEqual(c.Exec(), []string{"mariadb", "--user=root"}) || !reflect.DeepEqual(c.ExecEnv(), []string{"MYSQL_PWD=rootpw"}) {
		t.Errorf("mariadb: %+v %v", c, err)
	}
	// A MariaDB dump loads into MySQL's client and back: both speak SQL of the same family.
	if c, err := LoadPlan("mariadb", "mysql:8.0", []string{"MYSQL_VERSION=8.0.36", "MYSQL_ROOT_PASSWORD_FILE=/run/secrets/pw"}); err != nil || c.Exec()[0] != "/bin/sh" || c.Argv[0] != "mysql" {
		t.Errorf("mysql with a password file: %+v %v", c, err)
	}
	if _, err := LoadPlan("postgresql", "mariadb:10.11", []string{"MARIADB_ROOT_PASSWORD=x"}); err == nil || !strings.Contains(err.Error(), "runs mariadb") {
		t.Errorf("a postgres dump into mariadb: %v, want refused", err)
	}
	if _, err := LoadPlan("mariadb", "postgres:15", nil); err == nil {
		t.Error("a mariadb dump into postgres: accepted")
	}
}

func TestCreated(t *testing.T) {
	for env, want := range map[string][2]string{
		"":                                  {"postgres", "postgres"},
		"POSTGRES_USER=app":                 {"app", "app"},
		"POSTGRES_USER_FILE=/run/secrets/u": {"", ""},
		"POSTGRES_DB=appdb":                 {"postgres", "appdb"},
		"POSTGRES_DB_FILE=/run/secrets/db":  {"postgres", ""},
	} {
		if r, d := Created([]string{env}); r != want[0] || d != want[1] {
			t.Errorf("Created(%q) = %q, %q, want %q", env, r, d, want)
		}
	}
}

// Only the superuser's own CREATE ROLE line and the entrypoint's database's CREATE
// DATABASE go; their ALTERs, other roles and databases, a line that merely contains the
// statement, and a last line without newline pass byte for byte.
func TestSkipCreated(t *testing.T) {
	in := "SET x = 1;\r\nCREATE ROLE postgres;\nALTER ROLE postgres WITH SUPERUSER PASSWORD 'SCRAM';\nCREATE ROLE app;\n-- CREATE ROLE postgres;\nCREATE ROLE \"we\"\"ird\";\n" +
		"CREATE DATABASE appdb WITH TEMPLATE = template0 ENCODING = 'UTF8';\nALTER DATABASE appdb OWNER TO app;\nCREATE DATABASE appdb2 WITH TEMPLATE = template0;\nSELECT 1;"
	got, err := io.ReadAll(SkipCreated(strings.NewReader(in), "postgres", "appdb"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(strings.Replace(in, "CREATE ROLE postgres;\n", "", 1), "CREATE DATABASE appdb WITH TEMPLATE = template0 ENCODING = 'UTF8';\n", "", 1)
	if string(got) != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	got, _ = io.ReadAll(SkipCreated(strings.NewReader(in), `we"ird`, ""))
	if string(got) != strings.Replace(in, "CREATE ROLE \"we\"\"ird\";\n", "", 1) {
		t.Errorf("quoted: %q", got)
	}
	if r := strings.NewReader(in); SkipCreated(r, "", "postgres") != io.Reader(r) {
		t.Error("role \"\" and database postgres must filter nothing")
	}
}
