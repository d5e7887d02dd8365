package app

import (
	"context"
	"errors"
	"fmt"
	"sort"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/replica"
)

// listBackups lists project name's backups in store, newest first: this engine's, or with
// allEngines every engine's and user's.
func listBackups(store backup.Store, name string, allEngines bool) (*maim.BackupsResult, error) {
	list := store.List
	if allEngines {
		list = store.ListAll
	}
	all, err := list(name)
	if err != nil {
		return nil, err
	}
	res := &maim.BackupsResult{Project: name, Backups: make([]maim.BackupRow, 0, len(all))}
	for i := len(all) - 1; i >= 0; i-- { // newest first
		r := rowOf(all[i])
		r.Referenced = referencedBytes(all, all[i])
		res.Backups = append(res.Backups, r)
	}
	return res, nil
}

func rowOf(en backup.Entry) maim.BackupRow {
	r := maim.BackupRow{ID: en.ID, Status: en.Status, Problem: en.Problem, Dir: en.Dir, Sources: []string{}, Owner: en.Owner, Locations: []string{maim.LocationLocal}}
	if m := en.Manifest; m != nil {
		r.Origin = m.Origin
		r.Project, r.Time, r.Reason, r.Size, r.ToolVersion = m.Project, m.CreatedAt, m.Reason, m.OwnSize(), m.ToolVersion
		r.Bases = m.Needs()
		r.AppVersions = m.AppVersions
		r.Encrypted = m.Sealed()
		for _, s := range m.Sources {
			r.Sources = append(r.Sources, s.Name)
			r.Bytes += s.Bytes
		}
		for _, d := range m.Dumps {
			r.Dumps = append(r.Dumps, d.Service)
		}
	}
	return r
}

func (s *service) Verify(ctx context.Context, o maim.VerifyOptions) (*maim.VerifyResult, error) {
	k, err := resolveKeys(maim.EncryptOptions{}, o.Identities)
	if err != nil {
		return nil, err
	}
	ss, err := s.open(ctx, o.Scope, lockState)
	if err != nil {
		return nil, err
	}
	defer ss.close()
	if o.Scope.Remote.URL != "" { // --remote only: MAIM_REMOTE alone leaves verify local
		if err := ss.openRemote(ctx, o.Scope, false); err != nil {
			return nil, err
		}
		return ss.verifyRemote(ctx, o.ID)
	}
	ss.applyKeys(k)
	return verifyBackup(ss.store, ss.proj.Name, o.ID)
}

// listBackups is the backups verb: the local backups, and with a remote the remote's
// beside them (listRemote).
func (ss *session) listBackups(allEngines bool) (*maim.BackupsResult, error) {
	res, err := listBackups(ss.store, ss.proj.Name, allEngines)
	if err != nil || ss.remote == nil {
		return res, err
	}
	if err := ss.remote.addRows(res, allEngines); err != nil {
		return res, copyFailed{fmt.Errorf("%w: %v; only the local backups are listed", maim.ErrRemote, err)}
	}
	return res, nil
}

// addRows adds the remote's backups to a listing of the local ones: a backup on both
// gets the location "remote" too (only once its remote copy is complete: RemoteStatus
// says what it is otherwise), one on the remote only a row of its own.
func (r *remote) addRows(res *maim.BackupsResult, allEngines bool) error {
	if r.err != nil {
		return r.err
	}
	list := r.store.List
	if allEngines {
		list = r.store.ListAll
	}
	all, err := list(r.project)
	if err != nil {
		return err
	}
	at := map[string]int{}
	for i, row := range res.Backups {
		at[row.ID] = i
	}
	for _, e := range all {
		i, local := at[e.ID]
		switch {
		case local && e.Status == backup.StatusComplete:
			res.Backups[i].Locations = append(res.Backups[i].Locations, maim.LocationRemote)
		case local:
			res.Backups[i].RemoteStatus = e.Status
		default:
			row := rowOf(e)
			row.Locations = []string{maim.LocationRemote}
			res.Backups = append(res.Backups, row)
		}
	}
	sort.SliceStable(res.Backups, func(i, j int) bool { return backup.IDLess(res.Backups[j].ID, res.Backups[i].ID) })
	return nil
}

// verifyRemote is verify --remote: the remote copy's files against its manifest.
func (ss *session) verifyRemote(ctx context.Context, id string) (*maim.VerifyResult, error) {
	r := ss.remote
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", maim.ErrRemote, r.err)
	}
	task := ss.progress.Task("verify "+r.name, 0)
	e, n, files, err := replica.VerifyRemote(ctx, r.store, ss.proj.Name, id, task)
	task.Done(err)
	var ve *backup.VerifyError
	if errors.As(err, &ve) {
		return nil, &maim.VerifyError{Err: err}
	}
	if err != nil {
		return nil, err
	}
	res := &maim.VerifyResult{ID: e.ID, Project: ss.proj.Name, Intact: true, Archives: files, Size: n, Location: maim.LocationRemote}
	for _, src := range e.Manifest.Sources {
		res.Bytes += src.Bytes
	}
	return res, nil
}

// verifyBackup checks backup id of project name in store against its manifest's hashes; a
// backup that fails is a *maim.VerifyError.
func verifyBackup(store backup.Store, name, id string) (*maim.VerifyResult, error) {
	en, err := store.Get(name, id)
	if err != nil {
		return nil, err
	}
	if err := store.Verify(en, nil); err != nil {
		return nil, &maim.VerifyError{Err: err}
	}
	res := &maim.VerifyResult{ID: en.ID, Project: name, Intact: true, Archives: len(en.Manifest.Sources), Size: en.Manifest.Size(),
		Encrypted: en.Manifest.Sealed(), CiphertextOnly: store.Checks(en) != "", Location: maim.LocationLocal}
	for _, src := range en.Manifest.Sources {
		res.Bytes += src.Bytes
	}
	return res, nil
}
