package upgrade

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/dbdump"
	"github.com/docker-maim/docker-maim/internal/health"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/stack"
	"github.com/moby/moby/client"
)

// migratePhase moves, before the other services are recreated, each database --migrate-db
// names onto its new major: it starts only that service on its new image (its data source
// emptied by phase reset: the entrypoint initialises a fresh cluster), waits until the new
// server accepts connections, checks that its encoding and locale are the old cluster's,
// feeds it the dump taken from the old server (phase dump-db), read from the backup with its
// hash checked, and runs ANALYZE in every database (dbdump.LoadAndAnalyze). The services that depend
// on the database start only at recreate (which recreates the database once more: the
// same image and data), so none of them sees the empty cluster. The journal says
// recreating: a failure is undone by the failure path's restore from the backup (the old
// data directory byte for byte, the old image).
var migratePhase = phase[*txn]{
	Name:    "migrate-db",
	Journal: PhaseRecreating,
	Skip:    withoutMigrations,
	Describe: func(t *txn) string {
		var parts []string
		for _, db := range t.plan.migrations() {
			parts = append(parts, fmt.Sprintf("%s: start it alone on its new image, wait for the fresh PostgreSQL %s cluster, check its encoding and locale, load the dump of PostgreSQL %s, ANALYZE (about %s with the dump, at an assumed %d MiB/s)",
				db.Service, db.NewVersion, db.DataVersion, db.Migration.Estimate, db.Migration.RateBytesPerSecond>>20))
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
			t.m.logf("starting %s on PostgreSQL %s: a fresh cluster", db.Service, db.NewVersion)
			if err := t.m.Up(ctx, target, false, db.Service); err != nil {
				return fmt.Errorf("--migrate-db %s: starting it on its new image: %w", db.Service, err)
			}
			if err := t.migrateOne(ctx, target, db); err != nil {
				return fmt.Errorf("--migrate-db %s: %w", db.Service, err)
			}
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

// migrateOne loads the dump of db into its new container (of project target).
func (t *txn) migrateOne(ctx context.Context, target *project.Project, db maim.Database) error {
	d, ok := dumpOf(t.man, db.Service)
	if !ok {
		return fmt.Errorf("backup %s holds no dump of %s", t.man.ID, db.Service)
	}
	id, env, err := t.waitNewServer(ctx, target, db.Service)
	if err != nil {
		return err
	}
	got, err := dbdump.ClusterLocale(ctx, t.m.Engine, id, env)
	if err != nil {
		return fmt.Errorf("reading the new cluster's encoding and locale: %w", err)
	}
	if old, ok := t.oldLocales[db.Service]; ok && !dbdump.SameLocale(old, got) {
		return fmt.Errorf("the new PostgreSQL %s cluster has %s, the old one %s: set POSTGRES_INITDB_ARGS: \"%s\" on service %s", db.NewVersion, got, old, old.InitdbArgs(), db.Service)
	}
	entry, err := t.m.Store.Get(t.man.Project, t.man.ID)
	if err != nil {
		return err
	}
	rc, err := entry.Open(d.Source())
	if err != nil {
		return err
	}
	defer rc.Close()
	comp, err := archive.ParseCompression(t.man.Compression)
	if err != nil {
		comp = archive.DetectCompression(d.Archive)
	}
	h := sha256.New()
	dr, err := archive.Decompress(io.TeeReader(rc, h), comp)
	if err != nil {
		return fmt.Errorf("%s: %w", d.Archive, err)
	}
	defer dr.Close()
	t.m.logf("loading the dump of %s (%d bytes) into PostgreSQL %s", db.Service, d.Bytes, db.NewVersion)
	if err := dbdump.LoadAndAnalyze(ctx, t.m.Engine, db.Service, id, env, dr); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, rc); err == nil {
		if sum := hex.EncodeToString(h.Sum(nil)); sum != d.Source().PlainSHA256() {
			return fmt.Errorf("the dump's archive %s hashes %s, the manifest says %s: what was loaded is not what was dumped", d.Archive, sum, d.Source().PlainSHA256())
		}
	}
	t.m.logf("%s runs PostgreSQL %s with the data of %s", db.Service, db.NewVersion, db.DataVersion)
	return nil
}

// dumpOf is the dump of service svc in backup man.
func dumpOf(man *backup.Manifest, svc string) (backup.Dump, bool) {
	i := slices.IndexFunc(man.Dumps, func(d backup.Dump) bool { return d.Service == svc })
	if i < 0 {
		return backup.Dump{}, false
	}
	return man.Dumps[i], true
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
			return "", nil, fmt.Errorf("the new container of %s does not run (did initdb fail? docker compose -p %s logs %s)", svc, t.p.Name, svc)
		}
		ci, err := t.m.Engine.ContainerInspect(ctx, ids[0], client.ContainerInspectOptions{})
		if err != nil {
			return "", nil, err
		}
		if ci.Container.State != nil && !ci.Container.State.Running {
			return "", nil, fmt.Errorf("the new container of %s stopped (did initdb fail? docker compose -p %s logs %s)", svc, t.p.Name, svc)
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
