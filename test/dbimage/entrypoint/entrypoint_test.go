package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestQuoting(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{quoteIdent(`my"db`), `"my""db"`},
		{quoteName("my`db"), "`my``db`"},
		{sqlString(`it's a \ test`), `'it\'s a \\ test'`},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}

// TestFileEnv: NAME, else the file NAME_FILE names (trailing newlines cut), else the default;
// both set is refused, as the official file_env does.
func TestFileEnv(t *testing.T) {
	f := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(f, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("X_PASSWORD_FILE", f)
	if v, err := fileEnv("X_PASSWORD", "def"); err != nil || v != "from-file" {
		t.Errorf("from the file: %q %v", v, err)
	}
	t.Setenv("X_PASSWORD", "direct")
	if _, err := fileEnv("X_PASSWORD", "def"); err == nil || !strings.Contains(err.Error(), "exclusive") {
		t.Errorf("both set: %v, want refused", err)
	}
	t.Setenv("X_PASSWORD_FILE", "")
	if v, _ := fileEnv("X_PASSWORD", "def"); v != "direct" {
		t.Errorf("direct: %q", v)
	}
	if v, _ := fileEnv("X_UNSET", "def"); v != "def" {
		t.Errorf("default: %q", v)
	}
	t.Setenv("MYSQL_DATABASE", "legacy")
	if v, _ := firstEnv("", "MARIADB_DATABASE", "MYSQL_DATABASE"); v != "legacy" {
		t.Errorf("MYSQL_ fallback: %q", v)
	}
}

// TestPGEnv: a password is needed unless the host auth method is trust; POSTGRES_DB defaults
// to the user's name.
func TestPGEnv(t *testing.T) {
	t.Setenv("POSTGRES_USER", "owner")
	t.Setenv("POSTGRES_PASSWORD", "")
	t.Setenv("POSTGRES_HOST_AUTH_METHOD", "")
	if _, err := pgEnv(); err == nil {
		t.Error("no password, scram: want refused")
	}
	t.Setenv("POSTGRES_HOST_AUTH_METHOD", "trust")
	s, err := pgEnv()
	if err != nil || s.db != "owner" || s.auth != "trust" {
		t.Errorf("trust: %+v %v", s, err)
	}
}

// TestMariaDBSetupSQL: root for localhost and the root host, the database, the user with its
// grant, every value quoted.
func TestMariaDBSetupSQL(t *testing.T) {
	sql := mariadbSetupSQL(mariadbSettings{rootPassword: "r'pw", rootHost: "%", database: "shop", user: "u", password: "p"})
	for _, want := range []string{
		`SET PASSWORD FOR 'root'@'localhost'= PASSWORD('r\'pw');`,
		`CREATE USER 'root'@'%' IDENTIFIED BY 'r\'pw';`,
		"CREATE DATABASE IF NOT EXISTS `shop`;",
		`CREATE USER 'u'@'%' IDENTIFIED BY 'p';`,
		"GRANT ALL ON `shop`.* TO 'u'@'%';",
	} {
		if !strings.Contains(sql, want) {
			t.Errorf("setup SQL lacks %s:\n%s", want, sql)
		}
	}
}
