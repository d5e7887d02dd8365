package api

import "time"

// HealthOptions tune the health gate a verb waits on after it starts services again
// (upgrade, restore, rollback). Zero fields take the defaults below.
type HealthOptions struct {
	// Timeout bounds the whole wait (default DefaultTimeout).
	Timeout time.Duration
	// StablePeriod is how long a service without a healthcheck must stay up, without
	// restarts (default DefaultStablePeriod). A negative value means "running once is
	// enough".
	StablePeriod time.Duration
	// MigrationTimeout caps the whole wait while a MaiBot core whose log keeps growing (a
	// database migration) has not logged its ready banner (default
	// DefaultMigrationTimeout; a value below Timeout is Timeout: no extension).
	MigrationTimeout time.Duration
}

// The health gate's defaults (HealthOptions' zero values).
const (
	DefaultTimeout      = 5 * time.Minute
	DefaultStablePeriod = 15 * time.Second
	// DefaultMigrationTimeout caps how long a growing log keeps the gate waiting.
	DefaultMigrationTimeout = 60 * time.Minute
)
