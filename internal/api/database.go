package api

import "time"

// Database is a database service whose image the upgrade changes, with the version of the
// data its data directory holds and what the upgrade does about it (Plan.Databases): the
// plan reads the data directory's own version file (PostgreSQL's PG_VERSION, MariaDB's and
// MySQL's upgrade info) before anything stops and compares it with the new image's version.
type Database struct {
	// Service is the compose service.
	Service string `json:"service"`
	// Engine is the database: DBPostgreSQL, DBMariaDB or DBMySQL.
	Engine string `json:"engine"`
	// DataVersion is the version the data directory was written by (PostgreSQL: its major,
	// "15"; MariaDB/MySQL: "11.4.2"), "" when it holds none (a fresh database) or it could
	// not be read.
	DataVersion string `json:"data_version,omitempty"`
	// NewVersion is the version the new image runs (PostgreSQL: its major).
	NewVersion string `json:"new_version"`
	// DataDir is the data directory inside the container.
	DataDir string `json:"data_dir"`
	// Source is the data source mounted at DataDir or above it ("" when none is).
	Source string `json:"source,omitempty"`
	// Decision is what the upgrade does (DBSame, DBFresh, ...).
	Decision string `json:"decision"`
	// Reason says why, in one sentence.
	Reason string `json:"reason"`
	// Recipe is the way forward of a refused change, one step a line.
	Recipe []string `json:"recipe,omitempty"`
	// Migration is how --migrate-db moves the data to the new major (Decision DBMigrate).
	Migration *DBMigration `json:"migration,omitempty"`
}

// DBMigration is a PostgreSQL major upgrade carried out by upgrade --migrate-db: a logical
// dump taken from the old server while it runs, a fresh cluster initialised by the new
// image, the dump loaded into it and analyzed; the old data directory stays in the backup
// for the way back.
type DBMigration struct {
	// Steps are what the upgrade does, in order, one a line.
	Steps []string `json:"steps"`
	// DataBytes is the measured size of the data source holding the data directory.
	DataBytes int64 `json:"data_bytes"`
	// RateBytesPerSecond is the rate the estimate assumes for dump and load together
	// (bytes of data directory a second).
	RateBytesPerSecond int64 `json:"rate_bytes_per_second"`
	// Estimate is the expected time of the dump and the load (DataBytes at that rate).
	Estimate time.Duration `json:"estimate_ns"`
}

// Database engines (Database.Engine).
const (
	DBPostgreSQL = "postgresql"
	DBMariaDB    = "mariadb"
	DBMySQL      = "mysql"
	// DBMongoDB is MongoDB (the official mongo image): logical dumps only, no version
	// decision in an upgrade's plan.
	DBMongoDB = "mongodb"
)

// Database decisions (Database.Decision). Only DBRefused stops the upgrade, whatever
// --accept-breaking says: the new server cannot open the data.
const (
	DBSame    = "same"     // the data's version is the new image's (major): nothing to do
	DBFresh   = "fresh"    // no version file: a fresh database, nothing to compare
	DBInPlace = "in-place" // the new server upgrades the data itself when it starts
	DBManual  = "manual"   // the new server runs, the user must run the upgrade tool after
	DBReset   = "reset"    // --reset-data empties the data dir: the new server starts afresh
	DBUnknown = "unknown"  // the data's version could not be read: the health gate decides
	DBRefused = "refused"  // a major change or a downgrade the new server cannot open
	DBMigrate = "migrate"  // --migrate-db: dump, fresh cluster of the new major, load, analyze
)

// Refused tells whether the decision stops the upgrade.
func (d Database) Refused() bool { return d.Decision == DBRefused }
