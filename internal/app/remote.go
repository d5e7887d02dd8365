package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"filippo.io/age"
	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/notify"
	"github.com/docker-maim/docker-maim/internal/progress"
	"github.com/docker-maim/docker-maim/internal/replica"
)

// remote is a session's off-host copy of the backups (--remote, MAIM_REMOTE): the
// repository opened (and, for a verb that writes, probed) once when the session opens, and
// the copies of the backups the verb makes. Without --require-remote an unreachable
// remote is a warning: backups complete locally and the verb ends with maim.ErrRemote.
type remote struct {
	opts     maim.RemoteOptions
	name     string // the URL as shown (replica.Redact)
	store    backup.Store
	local    backup.Store
	project  string
	stage    string
	progress *progress.Reporter
	warn     func(format string, a ...any)
	// err is why the remote cannot be used (open or probe failed): no copy is tried.
	err error

	// seal are the age recipients a plain backup's archives are sealed to on the way.
	seal []age.Recipient

	mu     sync.Mutex
	wg     sync.WaitGroup
	copies []maim.RemoteCopy
	copyMu sync.Mutex // one copy at a time
}

// remoteURL is --remote, else MAIM_REMOTE.
func remoteURL(o maim.RemoteOptions) string {
	if o.URL != "" {
		return o.URL
	}
	return os.Getenv(replica.EnvRemote)
}

// openRemote opens the remote of sc (--remote, else MAIM_REMOTE) for the session's
// project; nothing without one. The verbs that copy, fetch, list or prune call it right
// after the session opens, before anything stops; status does not. A verb that writes
// (probe) checks it can write there; with --require-remote a remote that cannot be used is
// an error (maim.ErrRemote), else a warning.
func (ss *session) openRemote(ctx context.Context, sc maim.Scope, probe bool) error {
	u := remoteURL(sc.Remote)
	if u == "" {
		return nil
	}
	warn := func(format string, a ...any) { fmt.Fprintf(ss.svc.cfg.Err, "WARNING: "+format+"\n", a...) }
	r := &remote{opts: sc.Remote, name: replica.Redact(u), local: ss.store, project: ss.proj.Name,
		stage: filepath.Join(ss.state.Dir, "remote-stage"), progress: ss.progress, warn: warn}
	ss.remote = r
	repo, err := replica.Open(ctx, u)
	if err == nil && probe {
		err = replica.Probe(ctx, repo, ss.proj.Name)
	}
	if err != nil {
		r.err = err
		if sc.Remote.Require {
			return fmt.Errorf("%w: %v; nothing was changed (--require-remote)", maim.ErrRemote, err)
		}
		warn("remote %s cannot be used: %v; backups stay on this host only", r.name, err)
		return nil
	}
	r.store = backup.Store{Repo: repo, Origin: ss.store.Origin}
	return nil
}

// topUp sends what the verb added to its copied backups after their copy (an upgrade's
// reports and a release's compose files: replica.TopUp); a failure is only a warning, the
// backup itself being off the host.
func (r *remote) topUp(ctx context.Context) {
	for _, c := range r.copies {
		if !c.Copied {
			continue
		}
		r.copyMu.Lock()
		unlock, err := r.store.Lock(r.project)
		if err == nil {
			_, err = replica.TopUp(ctx, r.local, r.store, r.project, c.BackupID, replica.CopyOptions{Name: r.name})
			unlock()
		}
		r.copyMu.Unlock()
		if err != nil {
			r.warn("the files added to backup %s after its copy were not sent to %s: %v", c.BackupID, r.name, err)
		}
	}
}

// committed is snapshot.Service.Committed: the backup id just completed is copied, in the
// background, or before the verb goes on with --require-remote (an upgrade then starts
// the new version only once its backup is off the host).
func (r *remote) committed(ctx context.Context, project, id string) error {
	if r.err != nil {
		r.record(maim.RemoteCopy{Remote: r.name, BackupID: id, Error: r.err.Error()})
		return nil
	}
	if r.opts.Require {
		if c := r.copy(ctx, project, id); !c.Copied {
			return fmt.Errorf("%w: backup %s: %s (--require-remote)", maim.ErrRemote, id, c.Error)
		}
		return nil
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.copy(ctx, project, id)
	}()
	return nil
}

// copy copies one backup holding the remote's lock of the project (so a prune of the
// remote, from this host or another, never takes a copy under way for an interrupted
// one), one copy of the session at a time.
func (r *remote) copy(ctx context.Context, project, id string) maim.RemoteCopy {
	r.copyMu.Lock()
	defer r.copyMu.Unlock()
	unlock, err := r.store.Lock(project)
	if err != nil {
		c := maim.RemoteCopy{Remote: r.name, BackupID: id, Error: err.Error()}
		r.record(c)
		return c
	}
	defer unlock()
	if err := r.copyBases(ctx, project, id); err != nil {
		c := maim.RemoteCopy{Remote: r.name, BackupID: id, Error: err.Error()}
		r.record(c)
		return c
	}
	return r.copyOne(ctx, project, id)
}

func (r *remote) copyOne(ctx context.Context, project, id string) maim.RemoteCopy {
	c, err := replica.Copy(ctx, r.local, r.store, project, id, replica.CopyOptions{Name: r.name, Seal: r.seal, StageDir: r.stage, Progress: r.progress})
	if err != nil {
		c.Error = err.Error()
	}
	r.record(c)
	return c
}

// copyBases copies, before backup id, every backup it builds on (replica.Needs: an
// incremental source's bases, the backups an unchanged source uses, and theirs; bases
// first) that the remote does not hold complete: a copy of an increment is of no use
// without them (a base taken without --remote, or whose own copy failed). The manifests
// are the local ones; a base missing here is still tried (the remote may hold it, else its
// copy fails and says why), id's own missing manifest is left to id's copy to report.
func (r *remote) copyBases(ctx context.Context, project, id string) error {
	needs, err := replica.Needs(id, func(id string) (*backup.Manifest, error) {
		e, err := r.local.Get(project, id)
		return e.Manifest, err
	})
	if _, missing := errors.AsType[*replica.MissingError](err); err != nil && !missing {
		return err
	}
	for _, need := range needs {
		if re, err := r.store.Get(project, need); err == nil && re.Status == backup.StatusComplete {
			continue
		}
		if c := r.copyOne(ctx, project, need); !c.Copied {
			return fmt.Errorf("backup %s builds on backup %s, which could not be copied: %s", id, need, c.Error)
		}
	}
	return nil
}

func (r *remote) record(c maim.RemoteCopy) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.copies = append(r.copies, c)
}

// wait waits for the copies still running and returns them all, with maim.ErrRemote
// when one failed (the remote unreachable included); each failure is warned about.
func (r *remote) wait(ctx context.Context) ([]maim.RemoteCopy, error) {
	if r == nil {
		return nil, nil
	}
	r.wg.Wait()
	r.topUp(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	var failed []string
	for _, c := range r.copies {
		if !c.Copied {
			failed = append(failed, c.BackupID)
			r.warn("backup %s was not copied to %s: %s; it is complete on this host only", c.BackupID, r.name, c.Error)
		}
	}
	if len(failed) > 0 {
		return r.copies, copyFailed{fmt.Errorf("%w: backup %s is on this host only (remote %s)", maim.ErrRemote, strings.Join(failed, ", "), r.name)}
	}
	return r.copies, nil
}

// finish waits for the session's copies, notifies each failed one (and, when asked, each
// done), and joins maim.ErrRemote into err unless err is already a failure of its own.
func (ss *session) finish(ctx context.Context, n *notify.Notifier, err error) ([]maim.RemoteCopy, error) {
	if ss == nil || ss.remote == nil {
		return nil, err
	}
	copies, rerr := ss.remote.wait(ctx)
	for _, c := range copies {
		n.Send(notify.RemoteCopy(ss.proj.Name, c))
	}
	if err != nil || rerr == nil {
		return copies, err
	}
	return copies, rerr
}

// copyFailed is the error of a verb whose own work is done and whose remote copy failed.
type copyFailed struct{ error }

func (c copyFailed) Unwrap() error { return c.error }

// ownError is err unless it is only a failed remote copy (finish notifies that itself):
// what the verb's own notification is built from.
func ownError(err error) error {
	var cf copyFailed
	if errors.As(err, &cf) {
		return nil
	}
	return err
}

// applyKeys is keys.apply for a session: the store's sealing and identities, and the
// recipients the remote copies are sealed to (every copy leaves the host sealed when
// there are recipients, --encrypt-local or not).
func (ss *session) applyKeys(k keys) {
	k.apply(&ss.store)
	if ss.remote != nil {
		ss.remote.seal, ss.remote.local = k.rcpts, ss.store
	}
}

// hook is snapshot.Service.Committed of a session: nil without a remote.
func (r *remote) hook() func(ctx context.Context, project, id string) error {
	if r == nil {
		return nil
	}
	return r.committed
}
