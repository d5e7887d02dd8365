package upgrade

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/dbmajor"
	"github.com/docker-maim/docker-maim/internal/dbside"
	"github.com/docker-maim/docker-maim/internal/health"
	"github.com/docker-maim/docker-maim/internal/journal"
)

// The side clusters of --migrate-db (internal/dbside): started before anything stops,
// loaded by phase dump-db, swapped into place by phase reset; dropped on a refusal, and
// on every failure before the swap by rollback.Resolve (dbside.Cleanup finds them by
// their labels, also after a kill -9).

// sideGrace is how long a side server gets to shut down cleanly once loaded.
const sideGrace = 2 * time.Minute

// startSide starts db's side cluster and waits until it accepts connections (up to the
// gate's timeout): the service's new image, its environment (newServiceEnv), entrypoint,
// command and user, its data source mounted where the service mounts it, PGDATA at the
// same place below a fresh side directory (dbside.Layout).
func (t *txn) startSide(ctx context.Context, db maim.Database) (*dbside.Side, error) {
	env, err := t.newServiceEnv(ctx, db.Service)
	if err != nil {
		return nil, err
	}
	srcs, err := t.p.Sources(ctx, t.m.Engine)
	if err != nil {
		return nil, err
	}
	spec, err := dbside.Source(srcs, db.Source, db.Service, db.DataDir)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	spec.Project, spec.Service = t.p.Name, db.Service
	spec.Dir = dbside.DirPrefix + time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
	for _, c := range t.plan.Changes {
		if c.Service == db.Service {
			spec.Image = c.NewID
		}
	}
	svc := t.planned().Services[db.Service]
	spec.Entrypoint, spec.Cmd, spec.User = svc.Entrypoint, svc.Command, svc.User
	spec.PGDATA = dbmajor.DataDir(dbmajor.Kind{Engine: maim.DBPostgreSQL, Version: db.NewVersion}, env, nil)
	for k, v := range env {
		spec.Env = append(spec.Env, k+"="+v)
	}
	sort.Strings(spec.Env)
	t.m.logf("starting a side PostgreSQL %s cluster of %s in %s/%s (%s keeps running)", db.NewVersion, db.Service, db.Source, spec.Dir, db.Service)
	return t.sides.Start(ctx, spec, health.From(t.opts.Health).Timeout)
}

// dropSides removes the side clusters started (containers and directories): a refusal or
// a failure to begin, nothing else changed.
func (t *txn) dropSides(ctx context.Context) {
	if t.sides != nil {
		t.sides.DropAll(ctx)
	}
}

// swapSides moves each side cluster, stopped by phase dump-db, into place in its data
// source (dbside.Side.Swap), then removes its container (failpoints upgrade:swapping,
// upgrade:swapped: a kill -9 there is a rollback from the backup).
func (t *txn) swapSides(ctx context.Context) error {
	for _, db := range t.plan.migrations() {
		s := t.sides.By[db.Service]
		journal.Failpoint("upgrade:swapping")
		t.m.logf("moving the PostgreSQL %s cluster of %s into place in %s (renames, no copy)", db.NewVersion, db.Service, db.Source)
		if err := s.Swap(ctx, t.sides.Mv); err != nil {
			return fmt.Errorf("--migrate-db %s: %w", db.Service, err)
		}
		journal.Failpoint("upgrade:swapped")
		if err := s.Remove(ctx, t.sides.Eng); err != nil {
			return fmt.Errorf("--migrate-db %s: removing its side container: %w", db.Service, err)
		}
	}
	return nil
}
