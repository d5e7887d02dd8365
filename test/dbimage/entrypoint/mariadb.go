package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// mariadbDatadir and mariadbSocket are the official image's.
const (
	mariadbDatadir = "/var/lib/mysql"
	mariadbSocket  = "/run/mysqld/mysqld.sock"
)

// mariadb is MariaDB's docker-entrypoint.sh for `mariadbd ARGS...`: as root it makes the data
// and socket directories the mysql user's and re-executes itself as that user; as that user,
// on a data directory without the mysql schema it runs mariadb-install-db, starts a temporary
// server without networking, sets the root password (MARIADB_ROOT_PASSWORD or
// MYSQL_ROOT_PASSWORD; MARIADB_ALLOW_EMPTY_ROOT_PASSWORD for none), creates MARIADB_DATABASE
// and MARIADB_USER with MARIADB_PASSWORD (MYSQL_* alike), stops it and execs the server.
func mariadb(args []string) error {
	if os.Getuid() == 0 {
		my, err := lookup("mysql")
		if err != nil {
			return err
		}
		for _, d := range []string{mariadbDatadir, filepath.Dir(mariadbSocket)} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
			if err := chownTree(d, my); err != nil {
				return err
			}
		}
		return becomeUser(my)
	}
	if _, err := os.Stat(filepath.Join(mariadbDatadir, "mysql")); errors.Is(err, os.ErrNotExist) {
		if err := mariadbInit(args); err != nil {
			return err
		}
		fmt.Println("MariaDB init process done. Ready for start up.")
	}
	return execve(args)
}

// mariadbSettings are the MARIADB_* / MYSQL_* variables the initialisation reads.
type mariadbSettings struct {
	rootPassword, rootHost, database, user, password string
	allowEmpty                                       bool
}

func mariadbEnv() (mariadbSettings, error) {
	var s mariadbSettings
	var err error
	if s.rootPassword, err = firstEnv("", "MARIADB_ROOT_PASSWORD", "MYSQL_ROOT_PASSWORD"); err != nil {
		return s, err
	}
	if s.rootHost, err = firstEnv("%", "MARIADB_ROOT_HOST", "MYSQL_ROOT_HOST"); err != nil {
		return s, err
	}
	if s.database, err = firstEnv("", "MARIADB_DATABASE", "MYSQL_DATABASE"); err != nil {
		return s, err
	}
	if s.user, err = firstEnv("", "MARIADB_USER", "MYSQL_USER"); err != nil {
		return s, err
	}
	if s.password, err = firstEnv("", "MARIADB_PASSWORD", "MYSQL_PASSWORD"); err != nil {
		return s, err
	}
	allow, _ := firstEnv("", "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD", "MYSQL_ALLOW_EMPTY_PASSWORD")
	s.allowEmpty = allow != "" && allow != "0" && allow != "no"
	if s.rootPassword == "" && !s.allowEmpty {
		return s, errors.New("Database is uninitialized and password option is not specified\n" +
			"\tYou need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ROOT_PASSWORD_HASH, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD")
	}
	if s.user == "root" {
		return s, errors.New("MARIADB_USER=\"root\", MARIADB_USER and MARIADB_PASSWORD are for configuring a regular user and cannot be used for the root user")
	}
	if s.user != "" && s.password == "" {
		return s, errors.New("MARIADB_USER is set but MARIADB_PASSWORD is empty")
	}
	return s, nil
}

// mariadbInit initialises the empty data directory as the official image does.
func mariadbInit(args []string) error {
	s, err := mariadbEnv()
	if err != nil {
		return err
	}
	fmt.Println("Initializing database files")
	if err := run("", "mariadb-install-db", "--datadir="+mariadbDatadir, "--rpm",
		"--auth-root-authentication-method=normal", "--skip-test-db", "--cross-bootstrap",
		"--default-time-zone=SYSTEM", "--enforce-storage-engine=", "--skip-log-bin",
		"--loose-innodb_buffer_pool_load_at_startup=0", "--loose-innodb_buffer_pool_dump_at_shutdown=0"); err != nil {
		return err
	}
	server := exec.Command(args[0], append(args[1:], "--skip-networking", "--socket="+mariadbSocket,
		"--skip-log-bin", "--wsrep_on=OFF", "--loose-innodb_buffer_pool_load_at_startup=0")...)
	server.Stdout, server.Stderr = os.Stdout, os.Stderr
	if err := server.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- server.Wait() }()
	if err := mariadbWait(done); err != nil {
		return err
	}
	if err := run(mariadbSetupSQL(s), "mariadb", "--protocol=socket", "--socket="+mariadbSocket, "-uroot", "--database=mysql"); err != nil {
		_ = server.Process.Kill()
		return err
	}
	_ = server.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("temporary server: %w", err)
		}
	case <-time.After(2 * time.Minute):
		_ = server.Process.Kill()
		return errors.New("temporary server did not stop within 2 minutes")
	}
	return nil
}

// mariadbWait waits until the temporary server answers on its socket.
func mariadbWait(done <-chan error) error {
	for i := 0; i < 600; i++ {
		select {
		case err := <-done:
			return fmt.Errorf("temporary server exited: %v", err)
		default:
		}
		ping := exec.Command("mariadb", "--protocol=socket", "--socket="+mariadbSocket, "-uroot", "-e", "SELECT 1")
		if ping.Run() == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("temporary server did not answer within 60s")
}

// mariadbSetupSQL is the official image's docker_setup_db: root's password for localhost and
// MARIADB_ROOT_HOST, the database, the user and its grants.
func mariadbSetupSQL(s mariadbSettings) string {
	var b strings.Builder
	b.WriteString("SET @@SESSION.SQL_LOG_BIN=0;\n")
	b.WriteString("SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');\n")
	b.WriteString("DROP USER IF EXISTS root@'127.0.0.1', root@'::1';\n")
	b.WriteString("EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\\'', @@hostname,'\\'');\n")
	pw := sqlString(s.rootPassword)
	fmt.Fprintf(&b, "SET PASSWORD FOR 'root'@'localhost'= PASSWORD(%s);\n", pw)
	if s.rootHost != "" && s.rootHost != "localhost" {
		h := sqlString(s.rootHost)
		fmt.Fprintf(&b, "CREATE USER 'root'@%s IDENTIFIED BY %s;\n", h, pw)
		fmt.Fprintf(&b, "GRANT ALL ON *.* TO 'root'@%s WITH GRANT OPTION;\n", h)
		fmt.Fprintf(&b, "GRANT PROXY ON ''@'%%' TO 'root'@%s WITH GRANT OPTION;\n", h)
	}
	if s.database != "" {
		fmt.Fprintf(&b, "CREATE DATABASE IF NOT EXISTS %s;\n", quoteName(s.database))
	}
	if s.user != "" {
		fmt.Fprintf(&b, "CREATE USER %s@'%%' IDENTIFIED BY %s;\n", sqlString(s.user), sqlString(s.password))
		if s.database != "" {
			fmt.Fprintf(&b, "GRANT ALL ON %s.* TO %s@'%%';\n", quoteName(s.database), sqlString(s.user))
		}
	}
	b.WriteString("FLUSH PRIVILEGES;\n")
	return b.String()
}

// sqlString quotes a MariaDB string literal (backslash escapes on, as set above).
func sqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// quoteName quotes a MariaDB identifier.
func quoteName(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
