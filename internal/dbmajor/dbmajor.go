// Package dbmajor knows what an upgrade must know of the database images it moves between
// versions, so that the plan can tell before anything stops whether the new server opens
// the old data: which image runs PostgreSQL, MariaDB or MySQL and which version (the
// official images' environment: PG_MAJOR, PG_VERSION, MARIADB_VERSION, MYSQL_VERSION; else
// the image's name and tag), where its data directory is (PGDATA, the official images'
// defaults and PostgreSQL 18's layout), which version files that directory keeps and how
// to read them without trusting them, and the decision table (Decide) with its messages
// and the manual way forward. It is a pure room: the version file's bytes are read by its
// caller (internal/upgrade, through internal/volume).
package dbmajor

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/docker-maim/docker-maim/internal/api"
)

// MaxVersionFile is the most a version file may hold: PG_VERSION is "15\n", MariaDB's
// upgrade info "11.4.2-MariaDB". A longer file is not taken as a version.
const MaxVersionFile = 64

// Image is what Detect reads of an image: its reference and its environment (KEY=VALUE).
type Image struct {
	Ref string
	Env []string
}

// Kind is the database an image runs and its version as the image states it: PostgreSQL's
// major ("16"; "9.6" before 10), MariaDB's and MySQL's full version ("11.4.2"). Engine is ""
// for an image that is no database docker-maim knows; Version is "" when the image does not
// say.
type Kind struct {
	Engine  string
	Version string
}

// Env is an image's or a service's environment as a map (later entries win).
func Env(kv []string) map[string]string {
	out := map[string]string{}
	for _, e := range kv {
		k, v, _ := strings.Cut(e, "=")
		out[k] = v
	}
	return out
}

// Detect tells which database img runs: the official images' environment first
// (PG_MAJOR, PG_VERSION, MARIADB_VERSION, MYSQL_VERSION; the mongo image's MONGO_VERSION,
// MONGO_MAJOR or MONGO_PACKAGE), else the last path element of its name (postgres,
// postgresql, mariadb, mysql, mongo) with the version its tag starts with.
func Detect(img Image) Kind {
	env := Env(img.Env)
	switch {
	case env["PG_MAJOR"] != "":
		return Kind{api.DBPostgreSQL, pgMajor(env["PG_MAJOR"])}
	case env["PG_VERSION"] != "":
		return Kind{api.DBPostgreSQL, pgMajor(env["PG_VERSION"])}
	case env["MARIADB_VERSION"] != "":
		return Kind{api.DBMariaDB, fullVersion(env["MARIADB_VERSION"])}
	case env["MYSQL_VERSION"] != "":
		return Kind{api.DBMySQL, fullVersion(env["MYSQL_VERSION"])}
	case env["MONGO_VERSION"] != "", env["MONGO_MAJOR"] != "", env["MONGO_PACKAGE"] != "":
		v := fullVersion(env["MONGO_VERSION"])
		if v == "" {
			v = fullVersion(env["MONGO_MAJOR"])
		}
		return Kind{api.DBMongoDB, v}
	}
	name, tag := splitRef(img.Ref)
	switch name {
	case "postgres", "postgresql":
		return Kind{api.DBPostgreSQL, pgMajor(tag)}
	case "mariadb":
		return Kind{api.DBMariaDB, fullVersion(tag)}
	case "mysql":
		return Kind{api.DBMySQL, fullVersion(tag)}
	case "mongo":
		return Kind{api.DBMongoDB, fullVersion(tag)}
	}
	return Kind{}
}

// splitRef is the last path element of ref's name and its tag ("" for none).
func splitRef(ref string) (name, tag string) {
	ref, _, _ = strings.Cut(ref, "@")
	name = ref
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		name, tag = ref[:i], ref[i+1:]
	}
	return name[strings.LastIndex(name, "/")+1:], tag
}

var (
	leadingVersion = regexp.MustCompile(`^(\d{1,4})(?:\.(\d{1,4}))?(?:\.(\d{1,4}))?`)
	// epoch and distribution parts of a Debian or RPM package version: "1:11.4.2+maria~ubu2404".
	epoch = regexp.MustCompile(`^\d+:`)
)

// pgMajor is PostgreSQL's major of a version ("16.2-1.pgdg120+2" -> "16", "9.6.24" -> "9.6";
// since 10 the major is one number), "" when s does not start with one.
func pgMajor(s string) string {
	m := leadingVersion.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return ""
	}
	if n, _ := strconv.Atoi(m[1]); n < 10 && m[2] != "" {
		return m[1] + "." + m[2]
	}
	return m[1]
}

// fullVersion is the X.Y.Z a version starts with ("1:11.4.2+maria~ubu2404" -> "11.4.2",
// "8.0.36-1.el8" -> "8.0.36", "11.4" -> "11.4"), "" when none.
func fullVersion(s string) string {
	return leadingVersion.FindString(epoch.ReplaceAllString(strings.TrimSpace(s), ""))
}

// DataDir is where a server of kind k keeps its data inside the container: PGDATA from the
// service's environment, else from the image's, else the official image's default
// (/var/lib/postgresql/data; from 18 /var/lib/postgresql/MAJOR/docker); /var/lib/mysql for
// MariaDB and MySQL; /data/db for MongoDB (the mongo image's default dbPath).
func DataDir(k Kind, imageEnv, serviceEnv map[string]string) string {
	if k.Engine == api.DBMongoDB {
		return "/data/db"
	}
	if k.Engine != api.DBPostgreSQL {
		return "/var/lib/mysql"
	}
	if d := serviceEnv["PGDATA"]; d != "" {
		return d
	}
	if d := imageEnv["PGDATA"]; d != "" {
		return d
	}
	if v := parseVersion(k.Version); len(v) > 0 && v[0] >= 18 {
		return "/var/lib/postgresql/" + k.Version + "/docker"
	}
	return "/var/lib/postgresql/data"
}

// VersionFiles are the files of a data directory that say which version wrote it, in the
// order they are looked for.
func VersionFiles(engine string) []string {
	switch engine {
	case api.DBPostgreSQL:
		return []string{"PG_VERSION"}
	case api.DBMariaDB:
		return []string{"mariadb_upgrade_info", "mysql_upgrade_info"}
	}
	return []string{"mysql_upgrade_info"}
}

var (
	pgVersionFile   = regexp.MustCompile(`^([1-9]\d{0,3}(?:\.\d{1,4})?)\n?$`)
	upgradeInfoFile = regexp.MustCompile(`^(\d{1,4}\.\d{1,4}\.\d{1,4})(?:[-+~][0-9A-Za-z.+~_-]{0,40})?$`)
)

// ParseVersionFile reads a version file of engine's data directory: PG_VERSION holds the
// major and a newline; MariaDB's and MySQL's upgrade info the server's version
// ("10.11.6-MariaDB", possibly NUL- or newline-ended). Anything else (too long, binary, a
// second line, a sign) is not a version: ok is false.
func ParseVersionFile(engine string, b []byte) (version string, ok bool) {
	if len(b) > MaxVersionFile {
		return "", false
	}
	if engine == api.DBPostgreSQL {
		m := pgVersionFile.FindSubmatch(b)
		if m == nil {
			return "", false
		}
		return string(m[1]), true
	}
	s := strings.TrimRight(string(b), "\x00\r\n")
	m := upgradeInfoFile.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// parseVersion splits "11.4.2" into its numbers (nil when s is not one).
func parseVersion(s string) []int {
	if s == "" {
		return nil
	}
	var out []int
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil
		}
		out = append(out, n)
	}
	return out
}

// compare compares the first n numbers of a and b (missing ones count 0): -1, 0, 1.
func compare(a, b []int, n int) int {
	for i := 0; i < n; i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
	}
	return 0
}
