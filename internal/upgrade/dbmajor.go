package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/dbmajor"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/volume"
)

// Database major versions (planner step databases): for each service whose new image runs
// PostgreSQL, MariaDB or MySQL (internal/dbmajor knows them), the plan reads the version
// file of the data directory the service runs on now, through the engine
// (volume.EngineMover.ReadFile), and decides with dbmajor.Decide. A refused decision stops
// the upgrade in the policy (phase_plan.go), --accept-breaking or not: the new server
// cannot open the data, so the upgrade could only fail its gate and roll back. A
// PostgreSQL major rise of a service named by --migrate-db is no refusal: the upgrade
// moves the data by a dump and a load (migrateDecision; migrate.go, phase_migrate.go).

// dataFileReader reads a small file of a data source (volume.EngineMover.ReadFile).
type dataFileReader interface {
	ReadFile(ctx context.Context, t volume.Target, rel string, max int64) ([]byte, error)
}

// checkDatabases fills Plan.Databases; a decision that leaves the user something to do is
// a warning too.
func checkDatabases(ctx context.Context, pl *planning) error {
	for _, c := range pl.plan.Changes {
		if !c.Changed() {
			continue
		}
		newInfo, err := InspectImage(ctx, pl.m.Engine, c.NewID)
		if err != nil {
			return err
		}
		kind := dbmajor.Detect(dbmajor.Image{Ref: c.NewRef, Env: newInfo.Env})
		if kind.Engine == "" || kind.Engine == maim.DBMongoDB { // MongoDB: dumps only, no version decision
			continue
		}
		db := migrateDecision(dbmajor.Decide(pl.databaseInput(ctx, c, kind, newInfo.Env)), pl.opts.MigrateDB)
		pl.plan.Databases = append(pl.plan.Databases, db)
		if db.Decision == maim.DBManual || db.Decision == maim.DBUnknown {
			pl.plan.Warnings = append(pl.plan.Warnings, "database "+db.Service+": "+db.Reason)
		}
	}
	return nil
}

// databaseInput gathers what dbmajor.Decide needs of service c.Service: the data directory
// the server it runs now uses (PGDATA of the service as it runs, else of its image, else the
// default of the version it runs; the new image's when it runs none), the source holding
// it, and the version file found there.
func (pl *planning) databaseInput(ctx context.Context, c ImageChange, kind dbmajor.Kind, newEnv []string) dbmajor.Input {
	in := dbmajor.Input{Project: pl.p.Name, Service: c.Service, OldRef: c.OldRef, NewRef: c.NewRef, New: kind, User: "postgres"}
	newSvcEnv := project.EnvMap(pl.p.Services[c.Service].Environment)
	in.AutoUpgrade = newSvcEnv["MARIADB_AUTO_UPGRADE"] != ""
	if u := newSvcEnv["POSTGRES_USER"]; u != "" {
		in.User = u
	}
	oldKind, oldEnv, svcEnv := kind, newEnv, newSvcEnv
	if s, ok := pl.data.Services[c.Service]; ok {
		svcEnv = project.EnvMap(s.Environment)
	}
	if c.OldID != "" {
		if info, err := InspectImage(ctx, pl.m.Engine, c.OldID); err == nil {
			if k := dbmajor.Detect(dbmajor.Image{Ref: c.OldRef, Env: info.Env}); k.Engine == kind.Engine {
				oldKind, oldEnv = k, info.Env
			}
		}
	}
	in.DataDir = dbmajor.DataDir(oldKind, dbmajor.Env(oldEnv), svcEnv)
	src, rel, ok := sourceHolding(append(slices.Clone(pl.srcs), pl.hostPaths...), c.Service, in.DataDir)
	if !ok {
		return in
	}
	in.Source = src.Name
	in.Reset = slices.Contains(pl.opts.ResetData, src.Name)
	t, ok := snapshot.TargetOf(src, pl.data.WorkingDir)
	rd, canRead := pl.m.Snapshots.Mover.(dataFileReader)
	if !ok || t.IsFile || !canRead {
		in.ReadErr = errors.New("docker-maim cannot read " + string(src.Kind) + " " + src.Name)
		return in
	}
	for _, f := range dbmajor.VersionFiles(kind.Engine) {
		b, err := rd.ReadFile(ctx, t, path.Join(rel, f), dbmajor.MaxVersionFile)
		var fe *volume.FileError
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case errors.As(err, &fe):
			in.File, in.Bad = f, fe.Why
		case err != nil:
			in.ReadErr = err
		default:
			in.File, in.Content = f, b
		}
		break
	}
	return in
}

// sourceHolding is the source mounted into service svc at dir or at the nearest directory
// above it, and dir relative to that mount ("" for its top).
func sourceHolding(srcs []project.Source, svc, dir string) (project.Source, string, bool) {
	dir = path.Clean(dir)
	var best project.Source
	bestTarget, found := "", false
	for _, s := range srcs {
		for _, m := range s.Mounts {
			t := path.Clean(m.Target)
			if m.Service != svc || (dir != t && !strings.HasPrefix(dir, strings.TrimSuffix(t, "/")+"/")) {
				continue
			}
			if !found || len(t) > len(bestTarget) {
				best, bestTarget, found = s, t, true
			}
		}
	}
	if !found {
		return project.Source{}, "", false
	}
	return best, strings.TrimPrefix(strings.TrimPrefix(dir, bestTarget), "/"), true
}

// migrateDecision turns the refusal of a PostgreSQL major rise into DBMigrate when
// --migrate-db names the service; a downgrade, or any other decision, stays as it is.
func migrateDecision(db maim.Database, migrate []string) maim.Database {
	if db.Decision != maim.DBRefused || db.Engine != maim.DBPostgreSQL || !slices.Contains(migrate, db.Service) {
		return db
	}
	oldMajor, err1 := strconv.Atoi(db.DataVersion)
	newMajor, err2 := strconv.Atoi(db.NewVersion)
	if err1 != nil || err2 != nil || newMajor <= oldMajor {
		return db
	}
	db.Decision, db.Recipe = maim.DBMigrate, nil
	db.Reason = fmt.Sprintf("--migrate-db: the data in %s on %s was written by PostgreSQL %s; it moves to a fresh PostgreSQL %s cluster by a dump and a load, the old data directory kept in the backup for the way back", db.DataDir, db.Source, db.DataVersion, db.NewVersion)
	return db
}
