package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/exclude"
	"github.com/docker-maim/docker-maim/internal/notify"
	"github.com/docker-maim/docker-maim/internal/progress"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/restore"
	"github.com/docker-maim/docker-maim/internal/retention"
	"github.com/docker-maim/docker-maim/internal/rollback"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/stack"
	"github.com/docker-maim/docker-maim/internal/upgrade"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/docker/cli/cli/command"
	"github.com/docker/compose/v5/cmd/display"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/docker/compose/v5/pkg/compose"
	"github.com/moby/moby/client"
)

// New returns the api.Service that works on the engine and compose settings of cli (its
// context, DOCKER_HOST, config file for registry auth). Nothing contacts the engine
// before the first verb that needs it; the engine client and the compose service are
// then built once and shared.
func New(cli command.Cli, cfg maim.Config) maim.Service {
	if cfg.Err == nil {
		cfg.Err = os.Stderr
	}
	return &service{cli: cli, cfg: cfg}
}

type service struct {
	cli command.Cli
	cfg maim.Config

	engOnce sync.Once
	eng     client.APIClient
	engErr  error

	csOnce sync.Once
	cs     api.Compose
	csErr  error
}

// engine returns the engine client after checking, once, that the engine answers.
func (s *service) engine(ctx context.Context) (client.APIClient, error) {
	s.engOnce.Do(func() {
		c := s.cli.Client()
		if _, err := c.Ping(ctx, client.PingOptions{}); err != nil {
			s.engErr = fmt.Errorf("%w at %s: %v", maim.ErrEngine, s.cli.DockerEndpoint().Host, err)
			return
		}
		s.eng = c
	})
	return s.eng, s.engErr
}

// compose returns the compose SDK service. Its prompt always answers no: compose asks
// before deleting a volume whose config hash disagrees, and docker-maim never lets it.
func (s *service) compose() (api.Compose, error) {
	s.csOnce.Do(func() {
		var events api.EventProcessor
		switch s.cfg.Progress {
		case "quiet", "json":
			events = display.Quiet()
		default:
			events = display.Plain(s.cfg.Err)
		}
		s.cs, s.csErr = compose.NewComposeService(s.cli,
			compose.WithPrompt(func(string, bool) (bool, error) { return false, nil }),
			compose.WithEventProcessor(events),
		)
	})
	return s.cs, s.csErr
}

// store is the backup store, its root resolved once here (absolute, symlinks evaluated:
// backup.ResolveDir) so that every check against the data sources sees the real place.
func store(sc maim.Scope) (backup.Store, error) {
	if sc.BackupDir == "" {
		r, err := backup.DefaultRoot()
		if err != nil {
			return backup.Store{}, err
		}
		return backup.Local(r), nil
	}
	r, err := backup.ResolveDir(sc.BackupDir)
	if err != nil {
		return backup.Store{}, fmt.Errorf("--backup-dir %s: %w", sc.BackupDir, err)
	}
	return backup.Local(r), nil
}

// state is the engine's state directory (the projects' locks, journals and histories),
// keyed by the engine's ID, asked once per session; an engine without one by its endpoint.
// The origin is what the session's backups record, and how its store tells them from
// other engines' and users' in a shared backup dir: the same key, the context and
// endpoint the engine was reached by, and the user this runs as.
func (s *service) state(ctx context.Context, eng client.APIClient) (backup.State, backup.Origin, error) {
	var id string
	if info, err := eng.Info(ctx, client.InfoOptions{}); err == nil {
		id = info.Info.ID
	}
	host := s.cli.DockerEndpoint().Host
	uid, user := backup.CurrentUser()
	o := backup.Origin{EngineID: backup.EngineKey(id, host), Context: s.cli.CurrentContext(), Host: host, UID: uid, User: user}
	st, err := backup.OpenState(id, host)
	return st, o, err
}

// lockMode is what a verb locks when its session opens.
type lockMode int

const (
	lockNone  lockMode = iota // reads only (backups, status)
	lockState                 // the project on this engine (verify)
	// lockWrite: the project on this engine, then the project's place in the backup
	// dir, which every writer takes whatever its engine or user (backup, upgrade,
	// restore, rollback, prune). Always in this order.
	lockWrite
)

// session is one verb's engine, resolved project, store, state dir (the project locked
// there when asked) and progress.
type session struct {
	svc      *service
	eng      client.APIClient
	proj     *project.Project
	store    backup.Store
	state    backup.State
	progress *progress.Reporter
	unlock   func()
	mover    *volume.EngineMover // one per session, so it reports every data path taken
	remote   *remote             // --remote (remote.go); nil without one
}

// dataPath is what DataPath of a result says: the data paths this session's moves took.
func (ss *session) dataPath() string {
	if ss.mover == nil {
		return ""
	}
	return ss.mover.DataPath()
}

// close ends progress output and releases the lock; it may be called more than once.
func (ss *session) close() {
	if ss.progress != nil {
		ss.progress.Close()
		ss.progress = nil
	}
	if ss.unlock != nil {
		ss.unlock()
		ss.unlock = nil
	}
}

// open resolves everything a project verb needs and takes the locks lock says. It warns
// (on maim.Config.Err) about an interrupted operation. An error after the project is
// resolved comes with a session holding only the project (nothing to close): what a
// notification names.
func (s *service) open(ctx context.Context, sc maim.Scope, lock lockMode) (*session, error) {
	pr, err := progress.New(progress.Mode(s.cfg.Progress), s.cfg.Err)
	if err != nil {
		return nil, err
	}
	st, err := store(sc) // a local error: before the engine's
	if err != nil {
		return nil, err
	}
	eng, err := s.engine(ctx)
	if err != nil {
		if lerr := s.localError(ctx, sc); lerr != nil {
			return nil, lerr
		}
		return nil, err
	}
	cs, err := s.compose()
	if err != nil {
		return nil, err
	}
	popts := project.Options{Files: sc.Files, Name: sc.Name, WorkingDir: sc.WorkingDir, EnvFiles: sc.EnvFiles, Profiles: sc.Profiles}
	p, err := project.Resolve(ctx, cs, eng, popts)
	if err != nil && lock >= lockState && s.finishAdoption(ctx, eng, sc) {
		p, err = project.Resolve(ctx, cs, eng, popts)
	}
	if err != nil {
		return nil, err
	}
	failed := &session{proj: p}
	state, origin, err := s.state(ctx, eng)
	if err != nil {
		return failed, err
	}
	st.Origin = origin
	if jr, err := (upgrade.Journals{State: state, Store: st, Project: p.Name}).Load(); err == nil && jr != nil {
		fmt.Fprintf(s.cfg.Err, "WARNING: an interrupted %s of project %s stopped in phase %q (%s); `docker maim -p %s rollback` resolves it\n",
			jr.Op, p.Name, jr.Phase, jr.Updated.Local().Format("2006-01-02 15:04:05"), p.Name)
	}
	ss := &session{svc: s, eng: eng, proj: p, store: st, state: state, progress: pr}
	if lock >= lockState {
		if ss.unlock, err = state.Lock(p.Name); err != nil {
			return failed, err
		}
	}
	if lock >= lockWrite {
		unlockStore, err := st.Lock(p.Name)
		if err != nil {
			ss.unlock()
			return failed, err
		}
		unlockState := ss.unlock
		ss.unlock = func() { unlockStore(); unlockState() }
		notifyLocked() // a detached run's parent returns now
	}
	return ss, nil
}

// localError is what the compose files alone say is wrong with sc when the engine cannot
// be reached: no compose file here, or one that does not load. The user fixes that first
// (an engine that answers would not help), so it is reported instead of the engine's
// error. A project named alone (-p, no files) is found by its containers' labels, which
// only the engine knows: then nil. With the engine up, open resolves as it always does
// (an adoption killed between its renames is completed there first).
func (s *service) localError(ctx context.Context, sc maim.Scope) error {
	if sc.Name != "" && len(sc.Files) == 0 && os.Getenv("COMPOSE_FILE") == "" && sc.WorkingDir == "" {
		return nil
	}
	cs, err := s.compose()
	if err != nil {
		return nil
	}
	_, err = project.Resolve(ctx, cs, noContainers{}, project.Options{Files: sc.Files, Name: sc.Name, WorkingDir: sc.WorkingDir, EnvFiles: sc.EnvFiles, Profiles: sc.Profiles})
	if errors.Is(err, project.ErrNotProject) {
		return err
	}
	return nil
}

// finishAdoption completes the renames of an adoption killed between two of them, whose
// files need not load (upgrade.FinishAdoptRenames): the project of sc's name, else of the
// directory sc selects. It tells whether there was one to complete.
func (s *service) finishAdoption(ctx context.Context, eng client.APIClient, sc maim.Scope) bool {
	state, _, err := s.state(ctx, eng)
	if err != nil {
		return false
	}
	name := sc.Name
	if name == "" {
		name = os.Getenv("COMPOSE_PROJECT_NAME")
	}
	dir := sc.WorkingDir
	if dir == "" && len(sc.Files) > 0 {
		dir = filepath.Dir(sc.Files[0])
	}
	if dir == "" {
		dir, _ = os.Getwd()
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	done, err := upgrade.FinishAdoptRenames(state, name, dir)
	if err != nil {
		fmt.Fprintf(s.cfg.Err, "WARNING: %v\n", err)
	}
	return done && err == nil
}

func (ss *session) snapshots() *snapshot.Service {
	if ss.mover == nil {
		pr := ss.progress
		ss.mover = volume.NewMoverWithOptions(ss.eng, volume.Options{OnPath: func(d string) {
			if pr != nil {
				pr.Event("data path: " + d)
			}
		}})
	}
	return &snapshot.Service{
		Engine:      ss.eng,
		Mover:       ss.mover,
		Store:       ss.store,
		Progress:    ss.progress,
		ToolVersion: ss.svc.cfg.ToolVersion,
		Warn:        ss.svc.cfg.Err,
		Committed:   ss.remote.hook(),
	}
}

// upgrades returns the upgrade manager of a session.
func (ss *session) upgrades() *upgrade.Manager {
	s := ss.svc
	return &upgrade.Manager{Env: stack.Env{
		Engine:    ss.eng,
		Compose:   s.cs,
		Snapshots: ss.snapshots(),
		Store:     ss.store,
		State:     ss.state,
		Progress:  ss.progress,
		Load: func(ctx context.Context, o project.Options) (*project.Project, error) {
			return project.Resolve(ctx, s.cs, ss.eng, o)
		},
		Auth: func(ref string) string {
			tok, _ := command.RetrieveAuthTokenFromImage(s.cli.ConfigFile(), ref)
			return tok
		},
		Log: s.cfg.Err,
	}}
}

func (s *service) Backup(ctx context.Context, o maim.BackupOptions) (res *maim.BackupResult, err error) {
	if err := o.Compression.CheckLevel(o.Level); err != nil {
		return nil, &maim.UsageError{Err: err}
	}
	// A bad --exclude pattern is a usage error, found before the engine is contacted.
	if err := exclude.Validate(o.Excludes); err != nil {
		return nil, &maim.UsageError{Err: fmt.Errorf("--exclude: %w", err)}
	}
	k, err := resolveKeys(o.Encrypt, nil)
	if err != nil {
		return nil, err
	}
	n, err := s.newNotifying(o.Notify, o.Scope)
	if err != nil {
		return nil, err
	}
	defer func() { n.Send(notify.Backup(n.name, res, ownError(err))) }()
	ss, err := s.openNotifying(ctx, n, o.Scope, lockWrite, true, k)
	if err != nil {
		return nil, err
	}
	defer ss.close()
	start := time.Now()
	var downtime time.Duration
	m, err := ss.backup(ctx, snapshot.BackupOptions{
		Compression: o.Compression, Level: o.Level, Excludes: o.Excludes, NoStop: o.NoStop, IncludeHostPaths: o.IncludeHostPaths,
		Policies: o.SourcePolicies, ExcludeSources: o.ExcludeSources, Full: o.Full, MaxDeltas: o.MaxDeltas,
	}, !o.OnePass, o.Dumps, &downtime)
	copies, err := ss.finish(ctx, n.Notifier, err)
	if m == nil {
		return nil, err
	}
	ss.close()
	res = &maim.BackupResult{
		ID: m.ID, Project: m.Project, Reason: m.Reason, Time: m.CreatedAt, Dir: ss.store.Dir(m.Project, m.ID),
		Sources: []maim.BackupSource{}, Size: m.OwnSize(), Duration: time.Since(start), NotBackedUp: []maim.HostPath{},
		DataPath: ss.dataPath(), Downtime: downtime, Stopped: []string{}, Remote: copies, Encrypted: m.Sealed(),
	}
	if m.Stopped {
		res.Stopped = append(res.Stopped, m.Running...)
		res.StoppedOneOffs = m.OneOffs
	}
	for _, src := range m.Sources {
		if src.Delta != nil {
			res.TwoPass = true
		}
		res.Sources = append(res.Sources, backupSource(src))
		res.Bytes += src.Bytes
	}
	for _, l := range m.LeftOut {
		res.LeftOut = append(res.LeftOut, l.Name+": "+l.Why)
	}
	for _, h := range m.HostPaths {
		res.NotBackedUp = append(res.NotBackedUp, maim.HostPath{Name: h.Name, HostPath: h.HostPath, Why: snapshot.NotBackedUp(h)})
	}
	for _, d := range m.Dumps {
		res.Dumps = append(res.Dumps, maim.BackupDump{Service: d.Service, Engine: d.Engine, Command: d.Command, Archive: d.Archive, Bytes: d.Bytes, Size: d.ArchiveSize})
	}
	return res, err
}

// backup is the backup verb: stop what runs (reverse dependency order), snapshot, start it
// again on every path (a start failure is joined into the error); its phases are
// backupPhases (backup_phases.go). snapshot itself never stops or starts anything. With
// NoStop nothing is stopped (a hot backup). With twoPass and something running, pass one
// (snapshot.HotPass) archives while it still runs and only the changes since are archived
// stopped; downtime, when set, receives how long it was stopped.
func (ss *session) backup(ctx context.Context, opts snapshot.BackupOptions, twoPass bool, dumps []string, downtime *time.Duration) (*backup.Manifest, error) {
	// The verb's stop and start say their lines on progress only (no Log): as it always did.
	env := &stack.Env{Engine: ss.eng, Snapshots: ss.snapshots(), Progress: ss.progress}
	return runBackup(ctx, &btxn{env: env, p: ss.proj, opts: opts, twoPass: twoPass, dumpFlag: dumps}, downtime)
}

func (s *service) Backups(ctx context.Context, o maim.BackupsOptions) (*maim.BackupsResult, error) {
	ss, err := s.open(ctx, o.Scope, lockNone)
	if err != nil {
		return nil, err
	}
	defer ss.close()
	if err := ss.openRemote(ctx, o.Scope, false); err != nil {
		return nil, err
	}
	return ss.listBackups(o.AllEngines)
}

func (s *service) Restore(ctx context.Context, o maim.RestoreOptions) (res *maim.RestoreResult, err error) {
	k, err := resolveKeys(maim.EncryptOptions{}, o.Identities)
	if err != nil {
		return nil, err
	}
	n, err := s.newNotifying(o.Notify, o.Scope)
	if err != nil {
		return nil, err
	}
	defer func() {
		if !o.DryRun { // a plan is no operation to tell about
			n.Send(notify.Restore(n.name, res, ownError(err)))
		}
	}()
	ss, err := s.openNotifying(ctx, n, o.Scope, writeLock(o.DryRun), !o.DryRun, k)
	if err != nil {
		return nil, err
	}
	defer ss.close()
	fetched, err := ss.restoreTarget(ctx, &o.ID, o.DryRun)
	if err != nil {
		return nil, err
	}
	r, err := restore.Restore(ctx, ss.upgrades().Shared(), ss.proj, o)
	copies, err := ss.finish(ctx, n.Notifier, err)
	ss.close()
	if r == nil {
		return nil, err
	}
	r.Project, r.DataPath, r.Fetched, r.Remote = ss.proj.Name, ss.dataPath(), fetched, copies
	return r, err
}

func (s *service) Upgrade(ctx context.Context, o maim.UpgradeOptions) (res *maim.UpgradeResult, err error) {
	if err := o.Compression.CheckLevel(o.Level); err != nil {
		return nil, &maim.UsageError{Err: err}
	}
	k, err := resolveKeys(o.Encrypt, o.Identities)
	if err != nil {
		return nil, err
	}
	if err := k.canOpenOwn(); err != nil {
		return nil, err
	}
	n, err := s.newNotifying(o.Notify, o.Scope)
	if err != nil {
		return nil, err
	}
	defer func() { n.Send(notify.Upgrade(n.name, o.DryRun, res, ownError(err))) }()
	ss, err := s.openNotifying(ctx, n, o.Scope, writeLock(o.DryRun), !o.DryRun, k)
	if err != nil {
		return nil, err
	}
	defer ss.close()
	r, err := ss.upgrades().Upgrade(ctx, ss.proj, o)
	copies, err := ss.finish(ctx, n.Notifier, err)
	ss.close()
	if r == nil {
		return nil, err
	}
	r.Remote = copies
	if r.Plan != nil {
		r.Plan.Notify = n.Targets()
	}
	r.Error = "" // the returned error says it; a face reports that
	r.WorkingDir, r.DataPath = ss.proj.WorkingDir, ss.dataPath()
	return r, err
}

func (s *service) Rollback(ctx context.Context, o maim.RollbackOptions) (res *maim.RollbackResult, err error) {
	k, err := resolveKeys(maim.EncryptOptions{}, o.Identities)
	if err != nil {
		return nil, err
	}
	n, err := s.newNotifying(o.Notify, o.Scope)
	if err != nil {
		return nil, err
	}
	defer func() {
		if !o.DryRun { // a plan is no operation to tell about
			n.Send(notify.Rollback(n.name, o.ID, res, ownError(err)))
		}
	}()
	ss, err := s.openNotifying(ctx, n, o.Scope, writeLock(o.DryRun), !o.DryRun, k)
	if err != nil {
		return nil, err
	}
	defer ss.close()
	if o.DryRun {
		r, plan, err := rollback.Plan(ctx, ss.upgrades().Shared(), ss.proj, o)
		if err != nil {
			return nil, err
		}
		return &maim.RollbackResult{Project: ss.proj.Name, RollbackReport: r, DryRun: true, Plan: plan}, nil
	}
	fetched, err := ss.rollbackTarget(ctx, &o.ID)
	if err != nil {
		return nil, err
	}
	r, err := rollback.Rollback(ctx, ss.upgrades().Shared(), ss.proj, o)
	copies, err := ss.finish(ctx, n.Notifier, err)
	ss.close()
	if r == nil || ownError(err) != nil {
		return nil, err
	}
	return &maim.RollbackResult{Project: ss.proj.Name, RollbackReport: r, DataPath: ss.dataPath(), Fetched: fetched, Remote: copies}, err
}

// writeLock is the lock of a verb that writes, unless it is a dry run: that only reads
// the backup dir, so it locks the project on this engine only (as upgrade --dry-run).
func writeLock(dryRun bool) lockMode {
	if dryRun {
		return lockState
	}
	return lockWrite
}

func (s *service) Prune(ctx context.Context, o maim.PruneOptions) (*maim.PruneResult, error) {
	ss, err := s.open(ctx, o.Scope, writeLock(o.DryRun))
	if err != nil {
		return nil, err
	}
	defer ss.close()
	if err := ss.openRemote(ctx, o.Scope, !o.DryRun); err != nil {
		return nil, err
	}
	r, err := retention.Prune(ctx, ss.upgrades().Shared(), ss.proj.Name, o)
	if r == nil {
		return nil, err
	}
	r.Project = ss.proj.Name
	if err == nil {
		r.Remote, err = ss.pruneRemote(ctx, o)
	}
	return r, err
}
