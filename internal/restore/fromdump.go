package restore

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/dbdump"
	"github.com/docker-maim/docker-maim/internal/dbmajor"
	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/moby/moby/client"
)

// fromDump is what a restore --from-dump loads, worked out before anything stops.
type fromDump struct {
	dump      backup.Dump
	container string         // the service's container (it runs the load)
	load      dbdump.Command // psql, mariadb or mongorestore, as the container's credentials allow
	role, db  string         // the role and database the fresh cluster already has (dbdump.Created)
	source    project.Source // the volume or bind holding the data dir, emptied
}

// fromDumpPhases load a backup's logical dump into an empty data dir: stop, the safety
// backup of the data source, empty it, start the service (its entrypoint initialises a
// fresh cluster), load the dump, start the rest, the health gate. From the emptying on a
// failure stops the service and puts the safety backup back (restoreFailed).
var fromDumpPhases = []journal.Step[*rtxn]{stopPhase, safetyPhase, emptyPhase, loadPhase, startRestPhase, gatePhase}

// prepareFromDump chooses the backup, checks its dump's hash and size, and works out the
// load command and the data source; refusals touch nothing.
func (t *rtxn) prepareFromDump(ctx context.Context) error {
	m, p, svc := t.env, t.p, t.opts.FromDump
	if t.opts.NoSafetyBackup || len(t.opts.Sources) > 0 || t.opts.ToRecordedPaths {
		return fmt.Errorf("%w: --from-dump loads a dump into an emptied data dir: it always takes a safety backup and takes no --source or --to-recorded-paths", snapshot.ErrRefused)
	}
	entry, chosen, err := Target(m, p.Name, t.opts.ID)
	if err != nil {
		return err
	}
	t.entry, t.res = entry, &maim.RestoreResult{BackupID: entry.ID, Chosen: chosen}
	if err := entry.CheckComplete(); err != nil {
		return fmt.Errorf("%w: %v; nothing was changed", snapshot.ErrVerify, err)
	}
	fd := &fromDump{}
	found := false
	for _, d := range entry.Manifest.Dumps {
		if d.Service == svc {
			fd.dump, found = d, true
		}
	}
	if !found {
		return fmt.Errorf("%w: backup %s holds no dump of service %s (backup --dump %s takes one)", snapshot.ErrRefused, entry.ID, svc, svc)
	}
	m.Logf("checking the dump %s of backup %s", fd.dump.Archive, entry.ID)
	if err := checkDump(entry, fd.dump); err != nil {
		return err
	}
	if err := t.planLoad(ctx, fd); err != nil {
		return err
	}
	if t.running, err = p.RunningContainers(ctx, m.Engine); err != nil {
		return err
	}
	it := snapshot.RestoreItem{From: backup.Source{Source: fd.source}, To: fd.source}
	man := *entry.Manifest
	man.Excludes = nil // the safety backup keeps all the data dir: the emptying removes all of it
	t.plan = &snapshot.RestorePlan{Entry: entry, Dir: p.WorkingDir, Items: []snapshot.RestoreItem{it}}
	t.plan.Entry.Manifest = &man
	t.ready = func() error { return nil }
	t.fd = fd
	m.Snapshots.MeasureTargets(ctx, t.plan)
	return nil
}

// checkDump re-hashes the dump's file (as stored: an encrypted one's ciphertext, after its
// identity is checked) and compares it with the manifest's SHA-256 and size.
func checkDump(e backup.Entry, d backup.Dump) error {
	if err := e.CheckIdentity(); err != nil {
		return fmt.Errorf("%w; nothing was changed", err)
	}
	f, err := e.OpenStored(d.Source())
	if err != nil {
		return fmt.Errorf("%w: %s: %v; nothing was changed", snapshot.ErrVerify, d.Archive, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("%w: %s: %v; nothing was changed", snapshot.ErrVerify, d.Archive, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != d.SHA256 || n != d.ArchiveSize {
		return fmt.Errorf("%w: backup %s: %s has SHA-256 %s and %d bytes, the manifest says %s and %d; nothing was changed", snapshot.ErrVerify, e.ID, d.Archive, sum, n, d.SHA256, d.ArchiveSize)
	}
	return nil
}

// planLoad finds the service's container, the load command its image and credentials
// give, and the data source mounted at (or above) its data dir.
func (t *rtxn) planLoad(ctx context.Context, fd *fromDump) error {
	m, p, svc := t.env, t.p, t.opts.FromDump
	cs, err := project.Containers(ctx, m.Engine, p.Name)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.Labels[project.LabelService] == svc && c.Labels["com.docker.compose.oneoff"] != "True" {
			fd.container = c.ID
		}
	}
	if fd.container == "" {
		return fmt.Errorf("%w: service %s has no container to load the dump in (docker compose up -d %s first)", snapshot.ErrRefused, svc, svc)
	}
	ci, err := m.Engine.ContainerInspect(ctx, fd.container, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	var ref string
	var env []string
	if c := ci.Container.Config; c != nil {
		ref, env = c.Image, c.Env
	}
	if fd.load, err = dbdump.LoadPlan(fd.dump.Engine, ref, env); err != nil {
		return fmt.Errorf("%w: %v", snapshot.ErrRefused, err)
	}
	if fd.load.Engine == maim.DBPostgreSQL {
		fd.role, fd.db = dbdump.Created(env)
	}
	e := dbmajor.Env(env)
	dir := dbmajor.DataDir(dbmajor.Detect(dbmajor.Image{Ref: ref, Env: env}), e, e)
	srcs, err := p.Sources(ctx, m.Engine)
	if err != nil {
		return err
	}
	for _, s := range srcs {
		for _, mt := range s.Mounts {
			if mt.Service == svc && (mt.Target == dir || strings.HasPrefix(dir, strings.TrimSuffix(mt.Target, "/")+"/")) && !s.IsFile() {
				fd.source = s
			}
		}
	}
	if fd.source.Name == "" {
		return fmt.Errorf("%w: no volume or bind of service %s holds its data dir %s: nothing to empty for the load", snapshot.ErrRefused, svc, path.Clean(dir))
	}
	if k := fd.source.Kind; k != project.KindVolume && k != project.KindAnonymous && k != project.KindBindDir {
		return fmt.Errorf("%w: %s, which holds %s, is a %s: docker-maim never empties one", snapshot.ErrRefused, fd.source.Name, dir, k)
	}
	return nil
}

// emptyPhase records backed-up, then restoring, and empties the data source (made exactly
// equal to an empty archive). A failure puts the safety backup back.
var emptyPhase = journal.Step[*rtxn]{
	Name: "empty",
	Describe: func(t *rtxn) string {
		return "empty " + t.fd.source.Name + " (" + where(t.fd.source) + "), the data source of " + t.opts.FromDump + " (a safety backup keeps it)"
	},
	Run: func(ctx context.Context, t *rtxn) error {
		if err := t.Record(journal.PhaseBackedUp); err != nil {
			return err
		}
		if err := t.Record(journal.PhaseRestoring); err != nil {
			return err
		}
		if err := t.emptySource(ctx); err != nil {
			return restoreFailed(ctx, t.env, t.p, t.Journal, t.running, fmt.Errorf("emptying %s: %w", t.fd.source.Name, err))
		}
		return nil
	},
}

// emptySource makes the data source exactly equal to an archive of its root alone: the
// root's own entry ("./", its mode, owner and times) read from the safety backup just
// taken, so the emptied dir keeps what the image's entrypoint expects of it.
func (t *rtxn) emptySource(ctx context.Context) error {
	tg, ok := snapshot.TargetOf(t.fd.source, t.p.WorkingDir)
	if !ok {
		return fmt.Errorf("%s is a %s", t.fd.source.Name, t.fd.source.Kind)
	}
	root, err := t.safetyRoot()
	if err != nil {
		return err
	}
	var empty bytes.Buffer
	tw := tar.NewWriter(&empty)
	if err := tw.WriteHeader(root); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	_, err = t.env.Snapshots.Mover.Restore(ctx, tg, &empty, volume.RestoreOptions{Compression: archive.None})
	return err
}

// safetyRoot is the root entry of the data source's archive in the safety backup.
func (t *rtxn) safetyRoot() (*tar.Header, error) {
	e, err := t.env.Store.Get(t.p.Name, t.Journal.BackupID)
	if err != nil {
		return nil, err
	}
	for _, src := range e.Manifest.Sources {
		if src.Name != t.fd.source.Name {
			continue
		}
		f, err := e.Open(src)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		zr, err := archive.Decompress(f, archive.DetectCompression(src.Archive))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		h, err := tar.NewReader(zr).Next()
		if err != nil {
			return nil, fmt.Errorf("reading the root of %s in safety backup %s: %w", src.Name, e.ID, err)
		}
		if h.Name != "./" || h.Typeflag != tar.TypeDir {
			return nil, fmt.Errorf("safety backup %s: %s begins with %q, not its root dir", e.ID, src.Archive, h.Name)
		}
		return h, nil
	}
	return nil, fmt.Errorf("safety backup %s holds no %s", t.Journal.BackupID, t.fd.source.Name)
}

// loadPhase starts the service on its empty data dir (the entrypoint initialises a fresh
// cluster with the container's credentials), waits until it accepts connections over TCP,
// and streams the decompressed dump into psql, mariadb or mongorestore. A failure stops the service and
// puts the safety backup back.
var loadPhase = journal.Step[*rtxn]{
	Name: "load",
	Describe: func(t *rtxn) string {
		return "start " + t.opts.FromDump + " on the empty data dir and load the dump: " + t.fd.load.String()
	},
	Run: func(ctx context.Context, t *rtxn) error {
		err := t.loadDump(ctx)
		if err == nil {
			t.res.Restored = []string{t.fd.dump.Source().Name}
			return nil
		}
		one := project.Running{Services: []string{t.opts.FromDump}, IDs: map[string][]string{t.opts.FromDump: {t.fd.container}}}
		if serr := t.p.Stop(context.WithoutCancel(ctx), t.env.Engine, one); serr != nil {
			err = errors.Join(err, serr)
		}
		return restoreFailed(ctx, t.env, t.p, t.Journal, t.running, err)
	},
}

// readyWait bounds the wait for a freshly initialised server to accept connections.
const readyWait = 5 * time.Minute

func (t *rtxn) loadDump(ctx context.Context) error {
	m, fd, svc := t.env, t.fd, t.opts.FromDump
	one := project.Running{Services: []string{svc}, IDs: map[string][]string{svc: {fd.container}}}
	if err := t.p.Start(ctx, m.Engine, one); err != nil {
		return err
	}
	wait := readyWait
	if h := t.opts.Health.Timeout; h > 0 {
		wait = h
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	m.Logf("waiting for %s to accept connections", svc)
	if err := dbdump.WaitReady(wctx, m.Engine, svc, fd.container, fd.load, time.Second); err != nil {
		return err
	}
	f, err := t.entry.Open(fd.dump.Source())
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := archive.Decompress(f, archive.DetectCompression(fd.dump.Archive))
	if err != nil {
		return err
	}
	defer zr.Close()
	m.Logf("loading %s into %s: %s", fd.dump.Archive, svc, fd.load)
	return dbdump.Load(ctx, m.Engine, svc, fd.container, fd.load, dbdump.SkipCreated(zr, fd.role, fd.db))
}

// startRestPhase starts what ran but the loaded service (it runs already), stops it again
// when it did not run before, and records the restore in the history.
var startRestPhase = journal.Step[*rtxn]{
	Name:     "start",
	Describe: func(*rtxn) string { return "start what ran; record the restore in the history" },
	Run: func(ctx context.Context, t *rtxn) error {
		rest := project.Running{IDs: map[string][]string{}, OneOffs: t.running.OneOffs}
		for _, s := range t.running.Services {
			if s != t.opts.FromDump {
				rest.Services = append(rest.Services, s)
				rest.IDs[s] = t.running.IDs[s]
			}
		}
		if err := t.env.StartAgain(ctx, t.p, rest); err != nil {
			return err
		}
		if err := t.env.LeaveStopped(ctx, t.p, t.running.Services); err != nil {
			return err
		}
		t.restored = t.p
		t.res.Started = t.running.Services
		return t.journals.Finish(journal.Record{Op: journal.OpRestore, Result: "restored", Started: t.start, BackupID: t.entry.ID})
	},
}

// where names a source's volume or host path.
func where(s project.Source) string {
	if s.VolumeName != "" {
		return "volume " + s.VolumeName
	}
	return s.HostPath
}
