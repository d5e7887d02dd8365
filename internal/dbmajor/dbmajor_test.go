package dbmajor

import (
	"errors"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/api"
)

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		env  []string
		want Kind
	}{
		{"postgres:16", []string{"PG_MAJOR=16", "PG_VERSION=16.4-1.pgdg120+2"}, Kind{api.DBPostgreSQL, "16"}},
		{"registry.local/x/db:custom", []string{"PG_VERSION=15.8"}, Kind{api.DBPostgreSQL, "15"}},
		{"postgres:9.6", []string{"PG_MAJOR=9.6"}, Kind{api.DBPostgreSQL, "9.6"}},
		{"postgres:17.2-alpine", nil, Kind{api.DBPostgreSQL, "17"}},
		{"docker.io/library/postgres:latest", nil, Kind{api.DBPostgreSQL, ""}},
		{"mariadb:11.4", []string{"MARIADB_VERSION=1:11.4.2+maria~ubu2404"}, Kind{api.DBMariaDB, "11.4.2"}},
		{"mysql:8.0", []string{"MYSQL_VERSION=8.0.36-1.el8"}, Kind{api.DBMySQL, "8.0.36"}},
		{"localhost:5000/mariadb:10.11", nil, Kind{api.DBMariaDB, "10.11"}},
		{"redis:7", []string{"REDIS_VERSION=7.2"}, Kind{}},
		{"localhost:5000/postgres-exporter:1", nil, Kind{}},
	} {
		if got := Detect(Image{Ref: tc.ref, Env: tc.env}); got != tc.want {
			t.Errorf("Detect(%s, %v) = %+v, want %+v", tc.ref, tc.env, got, tc.want)
		}
	}
}

func TestDataDir(t *testing.T) {
	pg := func(v string) Kind { return Kind{api.DBPostgreSQL, v} }
	for _, tc := range []struct {
		k          Kind
		image, svc map[string]string
		want       string
	}{
		{pg("16"), map[string]string{"PGDATA": "/var/lib/postgresql/data"}, nil, "/var/lib/postgresql/data"},
		{pg("16"), map[string]string{"PGDATA": "/var/lib/postgresql/data"}, map[string]string{"PGDATA": "/srv/pg/main"}, "/srv/pg/main"},
		{pg("15"), nil, nil, "/var/lib/postgresql/data"},
		{pg("18"), nil, nil, "/var/lib/postgresql/18/docker"},
		{pg("18"), map[string]string{"PGDATA": "/var/lib/postgresql/18/docker"}, nil, "/var/lib/postgresql/18/docker"},
		{Kind{api.DBMariaDB, "11.4.2"}, nil, nil, "/var/lib/mysql"},
	} {
		if got := DataDir(tc.k, tc.image, tc.svc); got != tc.want {
			t.Errorf("DataDir(%+v, %v, %v) = %s, want %s", tc.k, tc.image, tc.svc, got, tc.want)
		}
	}
}

// TestParseVersionFileHostile: only a version and a newline is a version; what a hostile or
// broken data directory may hold is not.
func TestParseVersionFileHostile(t *testing.T) {
	for _, tc := range []struct {
		engine, content, want string
	}{
		{api.DBPostgreSQL, "15\n", "15"},
		{api.DBPostgreSQL, "16", "16"},
		{api.DBPostgreSQL, "9.6\n", "9.6"},
		{api.DBMariaDB, "10.11.6-MariaDB", "10.11.6"},
		{api.DBMariaDB, "11.4.2-MariaDB\x00", "11.4.2"},
		{api.DBMySQL, "5.7.44\n", "5.7.44"},
	} {
		if got, ok := ParseVersionFile(tc.engine, []byte(tc.content)); !ok || got != tc.want {
			t.Errorf("ParseVersionFile(%s, %q) = %q, %v; want %q", tc.engine, tc.content, got, ok, tc.want)
		}
	}
	for _, bad := range []string{
		"", "\n", "15\n../../", "15\n\n", "-15\n", "+15", "0\n", "015\n", " 15\n", "15 \n", "1e3\n",
		"\x00\x01\x02\xff", "15\x00", "99999\n", strings.Repeat("1", MaxVersionFile+1), strings.Repeat("15\n", 1<<20),
	} {
		if got, ok := ParseVersionFile(api.DBPostgreSQL, []byte(bad)); ok {
			t.Errorf("ParseVersionFile(postgresql, %q) = %q, a version", truncate([]byte(bad)), got)
		}
	}
	for _, bad := range []string{"", "MariaDB", "10.11", "10.11.6\nrm -rf /", strings.Repeat("9", 100), "\xff\xfe10.11.6"} {
		if got, ok := ParseVersionFile(api.DBMariaDB, []byte(bad)); ok {
			t.Errorf("ParseVersionFile(mariadb, %q) = %q, a version", truncate([]byte(bad)), got)
		}
	}
}

// TestDecide is the decision table.
func TestDecide(t *testing.T) {
	pg := func(v string) Kind { return Kind{api.DBPostgreSQL, v} }
	base := func(k Kind, file, content string) Input {
		return Input{Project: "p", Service: "db", OldRef: "postgres:15", NewRef: "postgres:16", New: k,
			DataDir: "/var/lib/postgresql/data", Source: "pgdata", File: file, Content: []byte(content), User: "app"}
	}
	with := func(in Input, f func(*Input)) Input { f(&in); return in }
	for _, tc := range []struct {
		name     string
		in       Input
		decision string
		says     []string
	}{
		{"same major", base(pg("15"), "PG_VERSION", "15\n"), api.DBSame, []string{"PostgreSQL 15"}},
		{"major up", base(pg("16"), "PG_VERSION", "15\n"), api.DBRefused, []string{"PostgreSQL 15", "PostgreSQL 16", "cannot open"}},
		{"major down", base(pg("15"), "PG_VERSION", "16\n"), api.DBRefused, []string{"downgrade", "PostgreSQL 16", "PostgreSQL 15"}},
		{"9.6 to 10", base(pg("10"), "PG_VERSION", "9.6\n"), api.DBRefused, []string{"9.6"}},
		{"fresh", base(pg("16"), "", ""), api.DBFresh, []string{"no PG_VERSION", "fresh"}},
		{"hostile", base(pg("16"), "PG_VERSION", "15\n../../"), api.DBRefused, []string{"not a version", `"15\n../../"`}},
		{"too large", with(base(pg("16"), "PG_VERSION", ""), func(in *Input) { in.Content, in.Bad = nil, "is 1048576 bytes, more than the 64 expected" }),
			api.DBRefused, []string{"1048576 bytes"}},
		{"reset", with(base(pg("16"), "PG_VERSION", "15\n"), func(in *Input) { in.Reset = true }), api.DBReset, []string{"--reset-data pgdata"}},
		{"read failed", with(base(pg("16"), "", ""), func(in *Input) { in.ReadErr = errors.New("engine gone") }), api.DBUnknown, []string{"engine gone"}},
		{"no source", with(base(pg("16"), "", ""), func(in *Input) { in.Source = "" }), api.DBUnknown, []string{"no volume or bind"}},
		{"new version unknown", base(pg(""), "PG_VERSION", "15\n"), api.DBUnknown, []string{"does not say"}},
		{"mariadb same", base(Kind{api.DBMariaDB, "11.4.2"}, "mariadb_upgrade_info", "11.4.2-MariaDB"), api.DBSame, nil},
		{"mariadb up, auto", with(base(Kind{api.DBMariaDB, "11.4.2"}, "mysql_upgrade_info", "10.11.6-MariaDB"), func(in *Input) { in.AutoUpgrade = true }),
			api.DBInPlace, []string{"MARIADB_AUTO_UPGRADE"}},
		{"mariadb up, by hand", base(Kind{api.DBMariaDB, "11.4.2"}, "mysql_upgrade_info", "10.11.6-MariaDB"), api.DBManual, []string{"mariadb-upgrade"}},
		{"mariadb patch down", base(Kind{api.DBMariaDB, "11.4.1"}, "mariadb_upgrade_info", "11.4.2-MariaDB"), api.DBSame, nil},
		{"mariadb down", base(Kind{api.DBMariaDB, "10.11.6"}, "mariadb_upgrade_info", "11.4.2-MariaDB"), api.DBRefused, []string{"downgrade"}},
		{"mariadb no info", base(Kind{api.DBMariaDB, "11.4.2"}, "", ""), api.DBUnknown, []string{"no upgrade info"}},
		{"mysql up", base(Kind{api.DBMySQL, "8.4.0"}, "mysql_upgrade_info", "8.0.36"), api.DBInPlace, nil},
		{"mysql patch down", base(Kind{api.DBMySQL, "8.0.35"}, "mysql_upgrade_info", "8.0.36"), api.DBRefused, []string{"downgrade"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := Decide(tc.in)
			if db.Decision != tc.decision {
				t.Fatalf("decision %s (%s), want %s", db.Decision, db.Reason, tc.decision)
			}
			for _, s := range tc.says {
				if !strings.Contains(db.Reason, s) {
					t.Errorf("reason %q does not say %q", db.Reason, s)
				}
			}
			if db.Refused() != (len(db.Recipe) > 0) {
				t.Errorf("refused %v with recipe %q: a refusal always says the way forward, nothing else does", db.Refused(), db.Recipe)
			}
		})
	}
}

// TestRecipe: the way forward of a PostgreSQL major names the project, the service, its
// user, the dump by the old server, the load into the new one, and the way back.
func TestRecipe(t *testing.T) {
	db := Decide(Input{Project: "shop", Service: "db", OldRef: "postgres:15", NewRef: "postgres:16", New: Kind{api.DBPostgreSQL, "16"},
		DataDir: "/var/lib/postgresql/data", Source: "pgdata", File: "PG_VERSION", Content: []byte("15\n"), User: "app"})
	all := strings.Join(db.Recipe, "\n")
	for _, s := range []string{
		"put service db's image back to postgres:15",
		"docker maim -p shop backup",
		"docker compose -p shop exec -T db pg_dumpall -U app > db-pg15.sql",
		"docker compose -p shop stop",
		"psql -U app -d postgres -v ON_ERROR_STOP=1 < db-pg15.sql",
		"keep pgdata as it is",
	} {
		if !strings.Contains(all, s) {
			t.Errorf("recipe does not say %q:\n%s", s, all)
		}
	}
	if !strings.Contains(all, "docker maim -p shop upgrade --migrate-db db") || !strings.Contains(db.Reason, "upgrade --migrate-db db") {
		t.Errorf("the refusal does not offer --migrate-db db:\n%s\n%s", db.Reason, all)
	}
	db = Decide(Input{Project: "shop", Service: "db", NewRef: "postgres:18", New: Kind{api.DBPostgreSQL, "18"},
		DataDir: "/var/lib/postgresql/data", Source: "pgdata", File: "PG_VERSION", Content: []byte("17\n"), User: "postgres"})
	if all := strings.Join(db.Recipe, "\n"); !strings.Contains(all, "mounted at /var/lib/postgresql") {
		t.Errorf("a move to 18 does not say where 18 keeps its data:\n%s", all)
	}
}
