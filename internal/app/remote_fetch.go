package app

import (
	"context"
	"errors"
	"fmt"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/replica"
	"github.com/docker-maim/docker-maim/internal/restore"
	"github.com/docker-maim/docker-maim/internal/retention"
	"github.com/docker-maim/docker-maim/internal/upgrade"
)

// usable tells whether the remote can be read from.
func (r *remote) usable() bool { return r != nil && r.err == nil && r.store.Repo != nil }

// restoreTarget makes the backup a restore will read whole in the local store, fetching
// it from the remote when the local copy is missing or fails its hashes. Without an ID
// the restore's own choice (restore.Target: the newest complete backup that is not a
// safety backup) is made over the local and the remote backups alike, the newer wins;
// *id is set when the backup was fetched, so the restore reads that one. A dry run fetches
// nothing (it holds no lock of the backup dir).
func (ss *session) restoreTarget(ctx context.Context, id *string, dryRun bool) (*maim.Fetched, error) {
	if !ss.remote.usable() || dryRun {
		return nil, nil
	}
	want := *id
	if want == "" || want == "latest" {
		env := ss.upgrades().Shared()
		le, _, lerr := restore.Target(env, ss.proj.Name, "")
		env.Store = ss.remote.store
		re, _, rerr := restore.Target(env, ss.proj.Name, "")
		switch {
		case rerr == nil && (lerr != nil || backup.IDLess(le.ID, re.ID)):
			want = re.ID
		case lerr == nil:
			want = le.ID
		default:
			return nil, nil // the restore says there is none
		}
	}
	f, err := ss.ensureLocal(ctx, want)
	if f != nil {
		*id = want
	}
	return f, err
}

// rollbackTarget is restoreTarget for a rollback: the backup an interrupted operation's
// journal names, else the one named, else the last upgrade's (journal.LastUpgradeBackup,
// asked of the local store, then of the remote's: the history is this engine's state and
// survives the backup dir).
func (ss *session) rollbackTarget(ctx context.Context, id *string) (*maim.Fetched, error) {
	if !ss.remote.usable() {
		return nil, nil
	}
	journals := upgrade.Journals{State: ss.state, Store: ss.store, Project: ss.proj.Name}
	want := *id
	jr, err := journals.Load()
	if err != nil {
		return nil, err
	}
	if jr != nil && (want == "" || want == jr.BackupID) {
		return ss.ensureLocal(ctx, jr.BackupID)
	}
	if want == "" {
		if want, err = journals.LastUpgradeBackup(); err != nil {
			journals.Store = ss.remote.store
			if want, err = journals.LastUpgradeBackup(); err != nil {
				return nil, nil // the rollback says there is none
			}
		}
	}
	f, err := ss.ensureLocal(ctx, want)
	if f != nil {
		*id = want
	}
	return f, err
}

// ensureLocal fetches backup id from the remote into the local store unless the local copy
// is complete and passes its hashes (backup.Store.CheckHashes: the archives read once,
// nothing decompressed), after the backups it builds on (ensureBases). It says why it
// fetched, on progress and in the result.
func (ss *session) ensureLocal(ctx context.Context, id string) (*maim.Fetched, error) {
	if err := ss.ensureBases(ctx, id); err != nil {
		return nil, err
	}
	return ss.ensureOne(ctx, id)
}

// ensureBases makes local, bases first, the backups id builds on (replica.Needs: an
// incremental source's bases, the backups an unchanged source uses, and theirs) as
// ensureOne does, each read from the local manifest, else the remote's. One that is in
// neither is passed over: the operation says what is missing.
func (ss *session) ensureBases(ctx context.Context, id string) error {
	name := ss.proj.Name
	needs, err := replica.Needs(id, func(id string) (*backup.Manifest, error) {
		e, err := ss.store.Get(name, id)
		if err != nil || e.Manifest == nil {
			e, err = ss.remote.store.Get(name, id)
		}
		return e.Manifest, err
	})
	if _, missing := errors.AsType[*replica.MissingError](err); err != nil && !missing {
		return err
	}
	for _, need := range needs {
		if _, err := ss.ensureOne(ctx, need); err != nil {
			return err
		}
	}
	return nil
}

// ensureOne is ensureLocal for backup id alone.
func (ss *session) ensureOne(ctx context.Context, id string) (*maim.Fetched, error) {
	name, r := ss.proj.Name, ss.remote
	var why string
	e, err := ss.store.Get(name, id)
	switch {
	case errors.Is(err, backup.ErrNotFound):
		why = "not in the local backup dir " + ss.store.ProjectDir(name)
	case err != nil:
		return nil, err
	case e.Status != backup.StatusComplete:
		why = "the local copy is " + string(e.Status) + ": " + e.Problem
	default:
		if err := ss.store.CheckHashes(e, nil); err != nil {
			why = "the local copy fails its hashes: " + err.Error()
		}
	}
	if why == "" {
		return nil, nil
	}
	if _, err := r.store.Get(name, id); err != nil {
		return nil, nil // not on the remote either: the operation says the local story
	}
	ss.progress.Event(fmt.Sprintf("backup %s: %s; fetching it from %s", id, why, r.name))
	n, err := replica.Fetch(ctx, r.store, ss.store, name, id, replica.FetchOptions{Name: r.name, Progress: ss.progress})
	if err != nil {
		return nil, fmt.Errorf("backup %s: %s, and fetching it from %s failed: %w", id, why, r.name, err)
	}
	return &maim.Fetched{Remote: r.name, BackupID: id, Why: why, Bytes: n}, nil
}

// pruneRemote applies prune's rules to the remote (retention.PruneRemote), holding the
// remote's lock of the project; nil without a remote.
func (ss *session) pruneRemote(ctx context.Context, o maim.PruneOptions) (*maim.PruneResult, error) {
	r := ss.remote
	if r == nil {
		return nil, nil
	}
	if r.err != nil {
		return nil, copyFailed{fmt.Errorf("%w: %v; the remote was not pruned", maim.ErrRemote, r.err)}
	}
	if !o.DryRun {
		unlock, err := r.store.Lock(ss.proj.Name)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	env := ss.upgrades().Shared()
	env.Store = r.store
	res, err := retention.PruneRemote(ctx, env, ss.proj.Name, o)
	if res != nil {
		res.Project = ss.proj.Name
	}
	return res, err
}
