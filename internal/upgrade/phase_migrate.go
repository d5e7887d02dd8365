package upgrade

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/docker-maim/docker-maim/internal/dbdump"
	"github.com/docker-maim/docker-maim/internal/health"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/stack"
	"github.com/moby/moby/client"
)

// migratePhase starts, before the other services are recreated, each database
// --migrate-db names on its new image: phase reset moved its new cluster, loaded and
// analyzed in phase dump-db, into place, so the entrypoint finds PG_VERSION and runs no
// initdb; it waits until the server accepts connections. The services that depend on the
// database start only at recreate (which recreates the database once more: the same
// image and data). The journal says recreating: a failure is undone by the failure path's
// restore from the backup (the old data directory byte for byte, the old image).
var migratePhase = phase[*txn]{
	Name:    "migrate-db",
	Journal: PhaseRecreating,
	Skip:    withoutMigrations,
	Describe: func(t *txn) string {
		var parts []string
		for _, db := range t.plan.migrations() {
			parts = append(parts, fmt.Sprintf("%s: start it alone on its new image, on the PostgreSQL %s cluster loaded in phase dump-db (about %s for the dump and load, at an assumed %d MiB/s), and wait until it accepts connections",
				db.Service, db.NewVersion, db.Migration.Estimate, db.Migration.RateBytesPerSecond>>20))
		}
		return strings.Join(parts, "; ") + "; the services that depend on it start at recreate; roll back from the backup if any of it fails"
	},
	Run: func(ctx context.Context, t *txn) error {
		target := stack.WithImages(t.p, t.opts.Images) // the images recreate runs them on
		if t.plan.Adoption != nil {
			np, err := t.m.Reload(ctx, t.p) // the merged files are in place (phase adopt)
			if err != nil {
				return err
			}
			target = np
		}
		for _, db := range t.plan.migrations() {
			t.m.logf("starting %s on PostgreSQL %s", db.Service, db.NewVersion)
			if err := t.m.Up(ctx, target, false, db.Service); err != nil {
				return fmt.Errorf("--migrate-db %s: starting it on its new image: %w", db.Service, err)
			}
			if _, _, err := t.waitNewServer(ctx, target, db.Service); err != nil {
				return fmt.Errorf("--migrate-db %s: %w", db.Service, err)
			}
			t.m.logf("%s runs PostgreSQL %s with the data of %s", db.Service, db.NewVersion, db.DataVersion)
		}
		return nil
	},
}

// withoutMigrations skips the phases of --migrate-db when it names no database.
func withoutMigrations(t *txn) string {
	if len(t.plan.migrations()) == 0 {
		return "no --migrate-db"
	}
	return ""
}

// waitNewServer waits, up to the gate's timeout, until the new container of svc accepts
// connections (dbdump.Ready), and returns it and its environment; a container that stops
// meanwhile (initdb failed) fails at once.
func (t *txn) waitNewServer(ctx context.Context, target *project.Project, svc string) (string, []string, error) {
	deadline := time.Now().Add(health.From(t.opts.Health).Timeout)
	for {
		r, err := target.RunningContainers(ctx, t.m.Engine)
		if err != nil {
			return "", nil, err
		}
		ids := slices.Clone(r.IDs[svc])
		sort.Strings(ids)
		if len(ids) == 0 {
			return "", nil, fmt.Errorf("the new container of %s does not run (docker compose -p %s logs %s)", svc, t.p.Name, svc)
		}
		ci, err := t.m.Engine.ContainerInspect(ctx, ids[0], client.ContainerInspectOptions{})
		if err != nil {
			return "", nil, err
		}
		if ci.Container.State != nil && !ci.Container.State.Running {
			return "", nil, fmt.Errorf("the new container of %s stopped (docker compose -p %s logs %s)", svc, t.p.Name, svc)
		}
		env := ci.Container.Config.Env
		if dbdump.Ready(ctx, t.m.Engine, ids[0], env) {
			return ids[0], env, nil
		}
		if time.Now().After(deadline) {
			return "", nil, errors.New("the new server did not accept connections within the gate's timeout")
		}
		select {
		case <-ctx.Done():
			return "", nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
