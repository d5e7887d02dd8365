// Package dbdump owns the logical dumps of databases taken beside a backup's file
// archives: which official database image a running container runs and with which
// credentials its own dump tool connects (read from the container's environment, the
// official images' variables and their _FILE variants: Plan, pure), and running that tool
// inside the running container through the engine's exec API, its standard output
// streamed to a writer and its standard error kept for the message (Take). Passwords never
// go on a command line: they reach the tool through the exec's environment (PGPASSWORD,
// MYSQL_PWD), or are read from the secret file by a shell inside the container. It decides
// nothing about when a dump is taken: the backup verb (internal/app) does, before
// anything stops.
package dbdump

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/dbmajor"
)

// Command is how one dump is taken inside a container.
type Command struct {
	// Engine is the database: api.DBPostgreSQL, api.DBMariaDB or api.DBMySQL.
	Engine string
	// Argv is the dump tool and its arguments (no secret among them).
	Argv []string
	// Env are KEY=VALUE set for the tool only (may hold a password: never shown).
	Env []string
	// FromFile are variables the tool reads (PGUSER, PGPASSWORD, MYSQL_PWD) whose value is
	// the content of a file inside the container (an official image's _FILE variable),
	// by variable; a shell inside the container reads them.
	FromFile map[string]string
	// Secret names where the password comes from ("" without one), for the plan.
	Secret string
	// Then is shell text of this package's own (its constant variable names only, no
	// value) that the shell runs after reading FromFile and before it execs Argv: MongoDB's
	// tools get their password as a --config file on descriptor 3 (mongo.go).
	Then string
}

// Exec is the command the engine runs: Argv itself, or, when values come from files, a
// /bin/sh inside the container that reads each file into its variable and execs Argv.
// The script is built from this package's constant variable names only; the files' paths
// reach it through the environment (ExecEnv), never as script text.
func (c Command) Exec() []string {
	if len(c.FromFile) == 0 && c.Then == "" {
		return c.Argv
	}
	var b strings.Builder
	for _, v := range sortedKeys(c.FromFile) {
		fmt.Fprintf(&b, `%s="$(cat -- "$%s")" || exit 1; export %s; unset %s; `, v, fileVar(v), v, fileVar(v))
	}
	b.WriteString(c.Then)
	b.WriteString(`exec "$@"`)
	return append([]string{"/bin/sh", "-c", b.String(), "maim-dump"}, c.Argv...)
}

// ExecEnv is the environment of the exec: Env and the paths of FromFile.
func (c Command) ExecEnv() []string {
	env := append([]string(nil), c.Env...)
	for _, v := range sortedKeys(c.FromFile) {
		env = append(env, fileVar(v)+"="+c.FromFile[v])
	}
	return env
}

// String is the command for the plan and messages: the tool and its arguments, and where
// the password comes from (never its value).
func (c Command) String() string {
	s := strings.Join(c.Argv, " ")
	if c.Secret != "" {
		s += " (password from " + c.Secret + ", through the exec's environment)"
	}
	return s
}

func fileVar(v string) string { return "DOCKER_MAIM_FILE_" + v }

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ErrNotDatabase is the error of a dump asked of a container that runs no database
// docker-maim knows.
var ErrNotDatabase = errors.New("not an official postgres, mariadb, mysql or mongo image")

// Plan builds the dump command for a container of image ref with environment env (the
// container's: image and service environment merged, as the engine reports it). kind is
// what was asked for ("postgres", "mysql", "mariadb" from stack-back's labels or the
// x-maim key, "mongo" from the x-maim key; "" for `backup --dump`): the image's own environment decides the tool (a
// stack-back.mysql label on a MariaDB image dumps with mariadb-dump); a postgres label on a
// MariaDB image is an error.
func Plan(kind, ref string, env []string) (Command, error) {
	k := dbmajor.Detect(dbmajor.Image{Ref: ref, Env: env})
	if k.Engine == "" {
		return Command{}, fmt.Errorf("image %s: %w (no PG_MAJOR, MARIADB_VERSION, MYSQL_VERSION or MONGO_VERSION in its environment, and its name is none of them)", ref, ErrNotDatabase)
	}
	if kind != "" && family(kind) != family(k.Engine) {
		return Command{}, fmt.Errorf("a %s dump is asked for, but image %s runs %s", kind, ref, k.Engine)
	}
	e := dbmajor.Env(env)
	switch k.Engine {
	case maim.DBPostgreSQL:
		return postgres(e), nil
	case maim.DBMongoDB:
		return mongo(e)
	}
	return mysql(k.Engine, e)
}

// postgres is pg_dumpall over the local socket as the image's superuser (POSTGRES_USER,
// default postgres), the password (which the official image's local trust does not ask
// for, but a changed pg_hba.conf may) in PGPASSWORD.
func postgres(e map[string]string) Command {
	c := Command{Engine: maim.DBPostgreSQL, Argv: []string{"pg_dumpall"}, FromFile: map[string]string{}}
	switch {
	case e["POSTGRES_USER"] != "":
		c.Argv = append(c.Argv, "-U", e["POSTGRES_USER"])
	case e["POSTGRES_USER_FILE"] != "":
		c.FromFile["PGUSER"] = e["POSTGRES_USER_FILE"]
	default:
		c.Argv = append(c.Argv, "-U", "postgres")
	}
	switch {
	case e["POSTGRES_PASSWORD"] != "":
		c.Env, c.Secret = []string{"PGPASSWORD=" + e["POSTGRES_PASSWORD"]}, "POSTGRES_PASSWORD"
	case e["POSTGRES_PASSWORD_FILE"] != "":
		c.FromFile["PGPASSWORD"], c.Secret = e["POSTGRES_PASSWORD_FILE"], "POSTGRES_PASSWORD_FILE"
	}
	if len(c.FromFile) == 0 {
		c.FromFile = nil
	}
	return c
}

// mysql is mariadb-dump (MariaDB) or mysqldump (MySQL) of every database as root over the
// local socket, root's password (MARIADB_ROOT_PASSWORD or MYSQL_ROOT_PASSWORD, or their
// _FILE) in MYSQL_PWD. A random root password (MARIADB_RANDOM_ROOT_PASSWORD) is unknown:
// an error, as is an image whose environment names no root password at all.
func mysql(engine string, e map[string]string) (Command, error) {
	tool := "mariadb-dump"
	if engine == maim.DBMySQL {
		tool = "mysqldump"
	}
	c := Command{Engine: engine, Argv: []string{tool, "--all-databases", "--single-transaction", "--routines", "--events", "--user=root"}}
	for _, v := range []string{"MARIADB_ROOT_PASSWORD", "MYSQL_ROOT_PASSWORD"} {
		if e[v] != "" {
			c.Env, c.Secret = []string{"MYSQL_PWD=" + e[v]}, v
			return c, nil
		}
		if e[v+"_FILE"] != "" {
			c.FromFile, c.Secret = map[string]string{"MYSQL_PWD": e[v+"_FILE"]}, v+"_FILE"
			return c, nil
		}
	}
	for _, v := range []string{"MARIADB_ALLOW_EMPTY_ROOT_PASSWORD", "MYSQL_ALLOW_EMPTY_PASSWORD"} {
		if on(e[v]) {
			return c, nil
		}
	}
	for _, v := range []string{"MARIADB_RANDOM_ROOT_PASSWORD", "MYSQL_RANDOM_ROOT_PASSWORD"} {
		if on(e[v]) {
			return Command{}, fmt.Errorf("root's password is random (%s): docker-maim cannot know it; set MARIADB_ROOT_PASSWORD or its _FILE, or dump with a pre-backup command (x-maim pre_backup)", v)
		}
	}
	return Command{}, errors.New("the container's environment names no root password (MARIADB_ROOT_PASSWORD, MYSQL_ROOT_PASSWORD or their _FILE): set one, or dump with a pre-backup command (x-maim pre_backup)")
}

// on reads the official images' yes-variables: any non-empty value but "no"/"0"/"false".
func on(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "no", "false":
		return false
	}
	return true
}
