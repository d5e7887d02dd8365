package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// postgres is docker-library/postgres's docker-entrypoint.sh for `postgres ARGS...`: as root it
// makes PGDATA and /var/run/postgresql the postgres user's and re-executes itself as that user;
// as that user, on a PGDATA without PG_VERSION it runs initdb (POSTGRES_USER, POSTGRES_PASSWORD,
// POSTGRES_INITDB_ARGS), opens host connections with POSTGRES_HOST_AUTH_METHOD
// (scram-sha-256), listen_addresses '*' and the socket in /var/run/postgresql (where the
// official build keeps it; npm's build has /tmp), creates POSTGRES_DB, then execs postgres.
func postgres(args []string) error {
	pgdata := os.Getenv("PGDATA")
	if pgdata == "" {
		return errors.New("PGDATA is not set")
	}
	if os.Getuid() == 0 {
		pg, err := lookup("postgres")
		if err != nil {
			return err
		}
		if err := os.MkdirAll(pgdata, 0o700); err != nil {
			return err
		}
		if err := chownTree(pgdata, pg); err != nil {
			return err
		}
		_ = os.Chmod(pgdata, 0o700)
		if err := os.MkdirAll("/var/run/postgresql", 0o3777); err == nil {
			_ = os.Chown("/var/run/postgresql", pg.uid, pg.gid)
			_ = os.Chmod("/var/run/postgresql", 0o3777)
		}
		return becomeUser(pg)
	}
	if _, err := os.Stat(filepath.Join(pgdata, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := pgInit(pgdata); err != nil {
			return err
		}
		fmt.Print("\nPostgreSQL init process complete; ready for start up.\n\n")
	} else {
		fmt.Print("\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n")
	}
	return execve(args)
}

// pgSettings are the POSTGRES_* variables the initialisation reads.
type pgSettings struct {
	user, password, db, initdbArgs, auth string
}

func pgEnv() (pgSettings, error) {
	var s pgSettings
	var err error
	if s.user, err = fileEnv("POSTGRES_USER", "postgres"); err != nil {
		return s, err
	}
	if s.password, err = fileEnv("POSTGRES_PASSWORD", ""); err != nil {
		return s, err
	}
	if s.db, err = fileEnv("POSTGRES_DB", s.user); err != nil {
		return s, err
	}
	if s.initdbArgs, err = fileEnv("POSTGRES_INITDB_ARGS", ""); err != nil {
		return s, err
	}
	s.auth = os.Getenv("POSTGRES_HOST_AUTH_METHOD")
	if s.auth == "" {
		s.auth = "scram-sha-256"
	}
	if s.password == "" && s.auth != "trust" {
		return s, errors.New(`Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
       connections without a password. This is *not* recommended.`)
	}
	return s, nil
}

// pgInit initialises an empty PGDATA as the official image does.
func pgInit(pgdata string) error {
	s, err := pgEnv()
	if err != nil {
		return err
	}
	initdb := []string{"initdb", "--username=" + s.user}
	if s.password != "" {
		pw, err := os.CreateTemp("", "pwfile")
		if err != nil {
			return err
		}
		defer os.Remove(pw.Name())
		if _, err := fmt.Fprintln(pw, s.password); err != nil {
			return err
		}
		pw.Close()
		initdb = append(initdb, "--pwfile="+pw.Name())
	}
	// Word splitting as the shell does for "$POSTGRES_INITDB_ARGS" (no quotes inside).
	initdb = append(initdb, strings.Fields(s.initdbArgs)...)
	initdb = append(initdb, "-D", pgdata)
	if err := run("", initdb...); err != nil {
		return err
	}
	if err := appendFile(filepath.Join(pgdata, "postgresql.conf"), "\nlisten_addresses = '*'\nunix_socket_directories = '/var/run/postgresql'\n"); err != nil {
		return err
	}
	if err := appendFile(filepath.Join(pgdata, "pg_hba.conf"), "\nhost all all all "+s.auth+"\n"); err != nil {
		return err
	}
	if s.db == "postgres" {
		return nil
	}
	// Single-user mode needs no client program (the 16 and 17 images have none): one
	// command a line, as the bootstrap superuser, before any server listens.
	sql := fmt.Sprintf("CREATE DATABASE %s;\n", quoteIdent(s.db))
	return run(sql, "postgres", "--single", "-D", pgdata, "-c", "listen_addresses=", "postgres")
}

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
