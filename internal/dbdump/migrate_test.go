package dbdump

import (
	"slices"
	"strings"
	"testing"
)

// TestPostgresClientCommand: psql and pg_isready run as the container's superuser, the
// password through the exec's environment only.
func TestPostgresClientCommand(t *testing.T) {
	c := Postgres([]string{"PG_MAJOR=16", "POSTGRES_USER=app", "POSTGRES_PASSWORD=s3cret"}, "psql", "-d", "postgres")
	if !slices.Equal(c.Argv, []string{"psql", "-U", "app", "-d", "postgres"}) || !slices.Equal(c.Env, []string{"PGPASSWORD=s3cret"}) {
		t.Errorf("psql command %q env %q", c.Argv, c.Env)
	}
	if strings.Contains(strings.Join(c.Exec(), " "), "s3cret") || strings.Contains(c.String(), "s3cret") {
		t.Errorf("the password is on the command line: %q / %s", c.Exec(), c)
	}
	c = Postgres([]string{"POSTGRES_USER_FILE=/run/secrets/u", "POSTGRES_PASSWORD_FILE=/run/secrets/p"}, "pg_isready", "-q")
	if c.Exec()[0] != "/bin/sh" || !slices.Contains(c.ExecEnv(), "DOCKER_MAIM_FILE_PGPASSWORD=/run/secrets/p") || !slices.Equal(c.Argv, []string{"pg_isready", "-q"}) {
		t.Errorf("from files: %q %q %q", c.Argv, c.Exec(), c.ExecEnv())
	}
	for _, tc := range []struct{ env, user, db string }{
		{"POSTGRES_USER=app POSTGRES_DB=appdb", "app", "appdb"},
		{"POSTGRES_USER=app", "app", "app"},
		{"", "postgres", "postgres"},
		{"POSTGRES_USER_FILE=/s POSTGRES_DB=d", "", "d"},
	} {
		if u, d := Superuser(strings.Fields(tc.env)); u != tc.user || d != tc.db {
			t.Errorf("Superuser(%s) = %s, %s; want %s, %s", tc.env, u, d, tc.user, tc.db)
		}
	}
}

// TestLoadErrors: psql's standard error, written in pieces: the superuser's and the
// database's "already exists" pass, any other ERROR counts, the first few are kept.
func TestLoadErrors(t *testing.T) {
	w := &errorLines{expected: ExpectedErrors("app", "appdb")}
	in := "ERROR:  role \"app\" already exists\nERROR:  database \"appdb\" already exists\nNOTICE:  something\n" +
		"psql:<stdin>:42: ERROR:  unrecognized configuration parameter \"force_parallel_mode\"\n" +
		"ERROR:  role \"reader\" already exists\nERROR:  database \"appdb2\" already exists\nERROR:  could not open extension control file"
	for i := 0; i < len(in); i += 7 {
		w.Write([]byte(in[i:min(i+7, len(in))]))
	}
	w.flush()
	want := []string{`ERROR:  unrecognized configuration parameter "force_parallel_mode"`, `ERROR:  role "reader" already exists`, `ERROR:  database "appdb2" already exists`, "ERROR:  could not open extension control file"}
	if w.count != 4 || !slices.Equal(w.kept, want) {
		t.Errorf("count %d kept %q, want 4 %q", w.count, w.kept, want)
	}
	e := (&LoadError{Service: "db", Count: w.count, Errors: w.kept}).Error()
	if !strings.Contains(e, "4 unexpected error(s)") || !strings.Contains(e, "force_parallel_mode") {
		t.Errorf("LoadError: %s", e)
	}

	// A superuser from a file: any role's "already exists" passes, nothing else.
	w = &errorLines{expected: ExpectedErrors("", "appdb")}
	w.Write([]byte("ERROR:  role \"whoever\" already exists\nERROR:  relation \"t\" already exists\n"))
	if w.count != 1 {
		t.Errorf("count %d, want 1 (the relation)", w.count)
	}
	for i := 0; i < 10; i++ {
		w.Write([]byte("ERROR:  x\n"))
	}
	if w.count != 11 || len(w.kept) != maxErrors {
		t.Errorf("count %d kept %d, want 11 and %d", w.count, len(w.kept), maxErrors)
	}
}

// TestLocale: the POSTGRES_INITDB_ARGS that gives a cluster its locale.
func TestLocale(t *testing.T) {
	l := Locale{"UTF8", "en_US.utf8", "C.UTF-8"}
	if got := l.InitdbArgs(); got != "--encoding=UTF8 --lc-collate=en_US.utf8 --lc-ctype=C.UTF-8" {
		t.Errorf("InitdbArgs = %s", got)
	}
}
