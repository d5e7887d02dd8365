package dbmajor

import (
	"fmt"

	"github.com/docker-maim/docker-maim/internal/api"
)

// Input is what Decide decides on: one database service whose image changes, and what its
// data directory's version file held.
type Input struct {
	// Project and Service name the compose service; OldRef and NewRef are the image it
	// runs and the one it is to run (the recipe's commands name them).
	Project, Service, OldRef, NewRef string
	// New is the database the new image runs.
	New Kind
	// DataDir is the data directory inside the container; Source the data source holding
	// it ("" for none).
	DataDir, Source string
	// File is the version file found in DataDir ("" for none) and Content its bytes. Bad,
	// when set, says why a file that is there cannot be taken as a version (too large, not
	// a regular file); ReadErr is a read that failed otherwise.
	File    string
	Content []byte
	Bad     string
	ReadErr error
	// Reset: --reset-data empties Source before the new server starts.
	Reset bool
	// AutoUpgrade: the service sets MARIADB_AUTO_UPGRADE (the MariaDB image runs
	// mariadb-upgrade itself when it finds older data).
	AutoUpgrade bool
	// User is the database superuser the recipe names (POSTGRES_USER, else "postgres").
	User string
}

// Decide is the decision table: the data's version against the new image's.
//
//   - no version file: PostgreSQL, a fresh database (initdb writes PG_VERSION first);
//     MariaDB/MySQL, nothing to compare (MySQL 8 records none);
//   - the same version (PostgreSQL: major): nothing to do;
//   - PostgreSQL, another major either way: refused, with the way forward by hand;
//   - MariaDB/MySQL newer: MariaDB upgrades in place with MARIADB_AUTO_UPGRADE, else the user
//     runs mariadb-upgrade; MySQL upgrades in place; older: refused (a downgrade);
//   - --reset-data on the source: the new server starts afresh (the data is in the backup);
//   - a version file that is no version: refused for PostgreSQL (its server would refuse it
//     too), unknown for MariaDB/MySQL; a read that failed or an unknown new version:
//     unknown (the health gate decides).
func Decide(in Input) api.Database {
	db := api.Database{Service: in.Service, Engine: in.New.Engine, NewVersion: in.New.Version, DataDir: in.DataDir, Source: in.Source}
	name := engineName(in.New.Engine)
	at := where(in)
	decide := func(decision, reason string) api.Database {
		db.Decision, db.Reason = decision, reason
		return db
	}
	switch {
	case in.New.Version == "":
		return decide(api.DBUnknown, fmt.Sprintf("the new image %s does not say which %s version it runs (no version in its environment or tag): nothing to compare", in.NewRef, name))
	case in.Source == "":
		return decide(api.DBUnknown, fmt.Sprintf("no volume or bind is mounted at %s or above it: docker-maim does not know where this image keeps its data (PGDATA sets it), nothing to compare", in.DataDir))
	case in.ReadErr != nil:
		return decide(api.DBUnknown, fmt.Sprintf("the version of the data in %s could not be read (%v): nothing to compare", at, in.ReadErr))
	case in.Reset:
		return decide(api.DBReset, fmt.Sprintf("--reset-data %s empties %s after the backup: %s %s starts a fresh database", in.Source, in.DataDir, name, in.New.Version))
	case in.File == "" && in.New.Engine == api.DBPostgreSQL:
		return decide(api.DBFresh, fmt.Sprintf("no PG_VERSION in %s: a fresh database, nothing to compare", at))
	case in.File == "":
		return decide(api.DBUnknown, fmt.Sprintf("no upgrade info file in %s: a fresh database, or a server that records no version (MySQL 8): nothing to compare", at))
	}
	v, ok := ParseVersionFile(in.New.Engine, in.Content)
	if in.Bad != "" || !ok {
		why := in.Bad
		if why == "" {
			why = fmt.Sprintf("holds %q, not a version", truncate(in.Content))
		}
		if in.New.Engine != api.DBPostgreSQL {
			return decide(api.DBUnknown, fmt.Sprintf("%s in %s %s: nothing to compare", in.File, at, why))
		}
		db.Recipe = []string{fmt.Sprintf("look at %s in %s: a PostgreSQL data directory's PG_VERSION holds its major version and a newline", in.File, at)}
		return decide(api.DBRefused, fmt.Sprintf("%s in %s %s: docker-maim cannot tell which PostgreSQL wrote the data, and PostgreSQL %s would refuse it", in.File, at, why, in.New.Version))
	}
	db.DataVersion = v
	if in.New.Engine == api.DBPostgreSQL {
		return decidePostgres(in, db)
	}
	return decideMySQL(in, db)
}

// decidePostgres compares PostgreSQL majors: the same one proceeds, any other is refused.
func decidePostgres(in Input, db api.Database) api.Database {
	c := compare(parseVersion(db.NewVersion), parseVersion(db.DataVersion), 2)
	switch {
	case c == 0:
		db.Decision, db.Reason = api.DBSame, fmt.Sprintf("the data is PostgreSQL %s's, the new image runs the same major", db.DataVersion)
	case c > 0:
		db.Decision = api.DBRefused
		db.Reason = fmt.Sprintf("the data in %s was written by PostgreSQL %s and the new image %s runs PostgreSQL %s, which cannot open it: a major version needs a dump and a load, which docker-maim carries out with upgrade --migrate-db %s (nothing was stopped or changed)", where(in), db.DataVersion, in.NewRef, db.NewVersion, in.Service)
		db.Recipe = pgRecipe(in, db)
	default:
		db.Decision = api.DBRefused
		db.Reason = fmt.Sprintf("a downgrade: the data in %s was written by PostgreSQL %s and the new image %s runs PostgreSQL %s, which cannot open data of a newer major (nothing was stopped or changed)", where(in), db.DataVersion, in.NewRef, db.NewVersion)
		db.Recipe = []string{
			fmt.Sprintf("keep PostgreSQL %s: put service %s's image back to %s", db.DataVersion, in.Service, orRef(in.OldRef, db.DataVersion)),
			fmt.Sprintf("or go back to data PostgreSQL %s wrote: restore a backup taken while %s ran it (docker maim -p %s backups; docker maim -p %s restore ID)", db.NewVersion, in.Service, in.Project, in.Project),
		}
	}
	return db
}

// pgRecipe is the careful move of a PostgreSQL major by hand, and the way back.
func pgRecipe(in Input, db api.Database) []string {
	p, s, old := in.Project, in.Service, db.DataVersion
	dump := fmt.Sprintf("%s-pg%s.sql", s, old)
	fresh := "a new volume name in the compose file"
	if v := parseVersion(db.NewVersion); len(v) > 0 && v[0] >= 18 {
		fresh += ", mounted at /var/lib/postgresql (PostgreSQL 18's layout)"
	}
	return []string{
		fmt.Sprintf("keep PostgreSQL %s: put service %s's image back to %s; or let docker-maim move the data (dump, fresh cluster, load, the old data kept for rollback): docker maim -p %s upgrade --migrate-db %s; or move it by hand:", old, s, orRef(in.OldRef, old), p, s),
		fmt.Sprintf("docker maim -p %s backup   (everything as it runs now, to come back to)", p),
		fmt.Sprintf("docker compose -p %s exec -T %s pg_dumpall -U %s > %s   (the dump, by PostgreSQL %s while it still runs)", p, s, in.User, dump, old),
		fmt.Sprintf("docker compose -p %s stop", p),
		fmt.Sprintf("give %s an empty data directory for PostgreSQL %s: %s (or a new empty directory for a bind); keep %s as it is for the way back", s, db.NewVersion, fresh, in.Source),
		fmt.Sprintf("docker compose -p %s up -d %s   (%s initialises the new cluster from POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB; wait until it is ready)", p, s, in.NewRef),
		fmt.Sprintf("docker compose -p %s exec -T %s psql -U %s -d postgres -v ON_ERROR_STOP=1 < %s", p, s, in.User, dump),
		fmt.Sprintf("docker compose -p %s up -d", p),
		fmt.Sprintf("the way back: the image %s and the old data directory %s again", orRef(in.OldRef, old), in.Source),
	}
}

// decideMySQL compares MariaDB's or MySQL's versions: newer upgrades (in place or by the
// user's mariadb-upgrade), older is refused.
func decideMySQL(in Input, db api.Database) api.Database {
	name := engineName(in.New.Engine)
	nv, dv := parseVersion(db.NewVersion), parseVersion(db.DataVersion)
	series := 2 // MariaDB keeps data compatible within a series X.Y, both ways
	if in.New.Engine == api.DBMySQL {
		series = 3 // MySQL 8.0 refuses every downgrade, a patch one too
	}
	switch {
	case compare(nv, dv, series) < 0:
		db.Decision = api.DBRefused
		db.Reason = fmt.Sprintf("a downgrade: the data in %s was written by %s %s and the new image %s runs %s %s, which does not open newer data (nothing was stopped or changed)", where(in), name, db.DataVersion, in.NewRef, name, db.NewVersion)
		db.Recipe = []string{
			fmt.Sprintf("keep %s %s: put service %s's image back to %s", name, db.DataVersion, in.Service, orRef(in.OldRef, db.DataVersion)),
			fmt.Sprintf("or restore a backup taken while %s ran %s %s (docker maim -p %s backups; docker maim -p %s restore ID)", in.Service, name, db.NewVersion, in.Project, in.Project),
		}
	case compare(nv, dv, 3) <= 0:
		db.Decision, db.Reason = api.DBSame, fmt.Sprintf("the data is %s %s's, the new image runs the same series", name, db.DataVersion)
	case in.New.Engine == api.DBMySQL:
		db.Decision, db.Reason = api.DBInPlace, fmt.Sprintf("MySQL %s upgrades the data of %s in place when it starts (8.0.16 and later; before, run mysql_upgrade)", db.NewVersion, db.DataVersion)
	case in.AutoUpgrade:
		db.Decision, db.Reason = api.DBInPlace, fmt.Sprintf("MARIADB_AUTO_UPGRADE is set: MariaDB %s upgrades the data of %s in place when it starts", db.NewVersion, db.DataVersion)
	default:
		db.Decision, db.Reason = api.DBManual, fmt.Sprintf("MariaDB %s runs on the data of %s, but its system tables stay %s's until you run: docker compose -p %s exec %s mariadb-upgrade -uroot -p (or set MARIADB_AUTO_UPGRADE=1 on the service)", db.NewVersion, db.DataVersion, db.DataVersion, in.Project, in.Service)
	}
	return db
}

func where(in Input) string {
	if in.Source == "" {
		return in.DataDir
	}
	return in.DataDir + " on " + in.Source
}

// orRef is ref, or "the image of VERSION" when the service had no container.
func orRef(ref, version string) string {
	if ref != "" {
		return ref
	}
	return "an image of version " + version
}

func engineName(engine string) string {
	switch engine {
	case api.DBPostgreSQL:
		return "PostgreSQL"
	case api.DBMariaDB:
		return "MariaDB"
	}
	return "MySQL"
}

// truncate is at most 16 bytes of b, for a message.
func truncate(b []byte) string {
	if len(b) > 16 {
		return string(b[:16]) + "..."
	}
	return string(b)
}
