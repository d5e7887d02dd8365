package dbdump

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/dbmajor"
	"github.com/docker-maim/docker-maim/internal/svchooks"
)

// LoadPlan builds the command that loads a dump into a freshly initialised server of
// image ref with environment env (the container's), connecting as the dump does (Plan):
// psql as the image's superuser to database postgres with ON_ERROR_STOP, or mariadb
// (mysql for MySQL) as root. Passwords reach the tool as they do for the dump: through the
// exec's environment. engine is the engine the dump was taken of: a dump of another
// engine than the image runs is an error.
func LoadPlan(engine, ref string, env []string) (Command, error) {
	c, err := Plan("", ref, env)
	if err != nil {
		return c, err
	}
	if engine != "" && family(engine) != family(c.Engine) {
		return Command{}, fmt.Errorf("the dump is of %s, but image %s runs %s", engine, ref, c.Engine)
	}
	switch c.Engine {
	case maim.DBPostgreSQL:
		c.Argv = append(append([]string{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"}, c.Argv[1:]...), "-d", "postgres")
	case maim.DBMySQL:
		c.Argv = []string{"mysql", "--user=root"}
	case maim.DBMongoDB:
		c.Argv = mongoLoadArgv(c.Argv)
	default:
		c.Argv = []string{"mariadb", "--user=root"}
	}
	return c, nil
}

// Created are what the official postgres image's entrypoint creates when it initialises
// a cluster, and pg_dumpall's script creates again: the superuser role (POSTGRES_USER,
// default postgres) and the database POSTGRES_DB (default the user's name). A name that
// comes from a file (a _FILE variable) is "" (unknown here).
func Created(env []string) (role, db string) {
	e := dbmajor.Env(env)
	switch {
	case e["POSTGRES_USER"] != "":
		role = e["POSTGRES_USER"]
	case e["POSTGRES_USER_FILE"] == "":
		role = "postgres"
	}
	switch {
	case e["POSTGRES_DB"] != "":
		db = e["POSTGRES_DB"]
	case e["POSTGRES_DB_FILE"] == "":
		db = role
	}
	return role, db
}

// SkipCreated filters a pg_dumpall script read from r: the line that creates role
// (`CREATE ROLE name;`) and the line that creates database db (`CREATE DATABASE name
// WITH ...;`), the names quoted or not, are left out; every other byte passes unchanged.
// The fresh cluster already has both (Created): psql with ON_ERROR_STOP would stop at
// `role "postgres" already exists`. The ALTER statements that follow them (the role's
// password and attributes, the database's owner and settings) still run, as does the
// load of the database's contents; every other error stops the load. "" filters nothing
// of its kind.
func SkipCreated(r io.Reader, role, db string) io.Reader {
	var roles, dbs []string
	if role != "" {
		roles = []string{"CREATE ROLE " + role + ";", "CREATE ROLE " + quoteIdent(role) + ";"}
	}
	if db != "" && db != "postgres" && db != "template1" {
		dbs = []string{"CREATE DATABASE " + db + " ", "CREATE DATABASE " + quoteIdent(db) + " ", "CREATE DATABASE " + db + ";", "CREATE DATABASE " + quoteIdent(db) + ";"}
	}
	if len(roles)+len(dbs) == 0 {
		return r
	}
	skip := func(line string) bool {
		return slices.Contains(roles, line) || slices.ContainsFunc(dbs, func(p string) bool { return strings.HasPrefix(line, p) && strings.HasSuffix(line, ";") })
	}
	pr, pw := io.Pipe()
	go func() {
		br := bufio.NewReaderSize(r, 64<<10)
		var err error
		for err == nil {
			var line []byte
			line, err = br.ReadBytes('\n')
			if skip(string(bytes.TrimRight(line, "\r\n"))) {
				continue
			}
			if len(line) > 0 {
				if _, werr := pw.Write(line); werr != nil {
					err = werr
				}
			}
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// quoteIdent quotes a PostgreSQL identifier as pg_dumpall does for a name that needs it.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Load runs c inside the running container id (of service) with r as the tool's standard
// input, closed once r is read; it returns once the tool ended. nil means r was read to
// its end and the tool exited 0; otherwise a *Failure (the end of its standard error in
// Stderr; what it writes to standard output is dropped).
func Load(ctx context.Context, eng Engine, service, id string, c Command, r io.Reader) error {
	stderr := &svchooks.Tail{Max: maxStderr}
	code, err := Run(ctx, eng, id, c, r, nil, stderr)
	return failure(&Failure{Service: service, Container: id, Command: c, Verb: "load"}, code, err, stderr)
}

// ReadyCommand is the command that tells whether the server c connects to accepts
// connections over TCP on 127.0.0.1 (pg_isready; mariadb-admin or mysqladmin ping, which
// exits 0 also when the server denies the login): the official entrypoints initialise a
// cluster with a temporary server that listens on the socket only, so a check over the
// socket could load into that one, which the entrypoint then stops.
func ReadyCommand(c Command) Command {
	r := c
	switch c.Engine {
	case maim.DBPostgreSQL:
		r.Argv = []string{"pg_isready", "-q", "-h", "127.0.0.1", "-d", "postgres"}
	case maim.DBMySQL:
		r.Argv = []string{"mysqladmin", "--protocol=tcp", "--host=127.0.0.1", "--user=root", "ping"}
	case maim.DBMongoDB:
		r.Argv = mongoReadyArgv(c.Argv, mongoHost)
	default:
		r.Argv = []string{"mariadb-admin", "--protocol=tcp", "--host=127.0.0.1", "--user=root", "ping"}
	}
	return r
}

// WaitReady runs ReadyCommand(c) (MongoDB's over the container's own address:
// readyCommand) in container id every interval until it exits 0 (nil),
// or ctx ends (the last failure, or ctx's error).
func WaitReady(ctx context.Context, eng Engine, service, id string, c Command, interval time.Duration) error {
	r, err := readyCommand(ctx, eng, id, c)
	if err != nil {
		return err
	}
	for {
		err := Load(ctx, eng, service, id, r, strings.NewReader(""))
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the %s server of service %s did not accept connections: %w", c.Engine, service, err)
		case <-time.After(interval):
		}
	}
}
