// Command docker-entrypoint is the entrypoint of docker-maim's test database images
// (scripts/db-images.sh builds them FROM scratch: maim-test-postgres:15/16/17 and
// maim-test-mariadb:10.11). It does, for the environment a compose file gives, what the
// official images' docker-entrypoint.sh does (docker-library/postgres and MariaDB/mariadb-docker):
// on an empty data directory it initialises the database with the user, password and database
// named in the environment, refuses to start without a password unless told otherwise, drops
// root for the database's own user and then execs the server. It is a static Go program so that
// the server-only images need no shell.
//
// What it leaves out of the official scripts: /docker-entrypoint-initdb.d, POSTGRES_INITDB_WALDIR
// and the MariaDB options for replication, time zones and auto upgrades.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	args := os.Args[1:]
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		args = append([]string{defaultServer()}, args...)
	}
	var err error
	switch filepath.Base(args[0]) {
	case "postgres":
		err = postgres(args)
	case "mariadbd", "mysqld":
		err = mariadb(args)
	default:
		err = execve(args) // anything else (psql, sh, ...) runs as asked
	}
	fmt.Fprintln(os.Stderr, "docker-entrypoint:", err)
	os.Exit(1)
}

// defaultServer is the server of this image: postgres when PG_MAJOR is set, else mariadbd.
func defaultServer() string {
	if os.Getenv("PG_MAJOR") != "" {
		return "postgres"
	}
	return "mariadbd"
}

// execve replaces this process with args[0] (looked up in PATH) and returns only on failure.
func execve(args []string) error {
	path, err := exec.LookPath(args[0])
	if err != nil {
		return err
	}
	return syscall.Exec(path, args, os.Environ())
}

// account is a user of /etc/passwd.
type account struct {
	name     string
	uid, gid int
	home     string
}

// lookup reads a user from /etc/passwd (no NSS: the images are FROM scratch).
func lookup(name string) (account, error) {
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return account{}, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) >= 6 && f[0] == name {
			uid, err1 := strconv.Atoi(f[2])
			gid, err2 := strconv.Atoi(f[3])
			if err1 != nil || err2 != nil {
				return account{}, fmt.Errorf("/etc/passwd: bad line %q", l)
			}
			return account{name: name, uid: uid, gid: gid, home: f[5]}, nil
		}
	}
	return account{}, fmt.Errorf("no user %q in /etc/passwd", name)
}

// becomeUser re-executes this entrypoint with the same arguments as user a (gosu's job in the
// official images). It returns only on failure.
func becomeUser(a account) error {
	if err := syscall.Setgroups([]int{a.gid}); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(a.gid); err != nil {
		return fmt.Errorf("setgid: %w", err)
	}
	if err := syscall.Setuid(a.uid); err != nil {
		return fmt.Errorf("setuid: %w", err)
	}
	os.Setenv("HOME", a.home)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	return syscall.Exec(self, os.Args, os.Environ())
}

// chownTree gives every file under dir that is not already a's to a (the official scripts'
// `find "$dir" \! -user postgres -exec chown postgres '{}' +`).
func chownTree(dir string, a account) error {
	return filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == a.uid && int(st.Gid) == a.gid {
			return nil
		}
		return os.Lchown(p, a.uid, a.gid)
	})
}

// fileEnv is the official images' file_env: the value of name, or the contents of the file
// name_FILE names (both set is an error), or def.
func fileEnv(name, def string) (string, error) {
	v, hasV := os.LookupEnv(name)
	f, hasF := os.LookupEnv(name + "_FILE")
	switch {
	case hasV && hasF && v != "" && f != "":
		return "", fmt.Errorf("both %s and %s_FILE are set (but are exclusive)", name, name)
	case hasF && f != "":
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %w", name, err)
		}
		return strings.TrimRight(string(b), "\n"), nil
	case hasV && v != "":
		return v, nil
	}
	return def, nil
}

// firstEnv is fileEnv of the first of names that is set (MARIADB_X, then MYSQL_X), or def.
func firstEnv(def string, names ...string) (string, error) {
	for _, n := range names {
		v, err := fileEnv(n, "")
		if err != nil || v != "" {
			return v, err
		}
	}
	return def, nil
}

// run runs a command with stdin (may be "") and the container's stdout/stderr.
func run(stdin string, args ...string) error {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	return nil
}
