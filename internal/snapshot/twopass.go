package snapshot

import (
	"context"
	"fmt"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
)

// Two-pass backups: the hot pass archives directory sources while the services still run.

type hotSource struct {
	bs   backup.Source
	skip string
	idx  *archive.Index
	// inc is the source's base when pass one was incremental (and receives pass two's
	// final index).
	inc *incSource
}

// twoPass says whether src is archived in two passes: directories (volumes, bind
// directories); single files and project files are small and archived once, stopped.
func twoPass(src project.Source) bool {
	switch src.Kind {
	case project.KindVolume, project.KindAnonymous, project.KindBindDir:
		return true
	}
	return false
}

// coldReason says why src is archived only stopped: a service in cold mounts it ("" when
// none does).
func coldReason(src project.Source, cold []string) string {
	for _, m := range src.Mounts {
		for _, c := range cold {
			if m.Service == c {
				return "archived only while " + c + " is stopped (stop-during-backup): no hot pass"
			}
		}
	}
	return ""
}

// HotPass is pass one of a two-pass backup, run while the services still run (it stops
// nothing and changes nothing of the project): it begins the backup and archives every
// directory source of pl as it is (a hot copy), recording the index of what it read.
// BackupPlanned, once the caller stopped the services, then archives only what changed
// since (the delta) and the manifest records both; a restore applies both, with a result
// equal to a cold backup of the stopped services. Abort drops the begun backup when
// BackupPlanned is not reached (BackupPlanned drops it itself on error).
func (s *Service) HotPass(ctx context.Context, p *project.Project, pl *BackupPlan) (err error) {
	defer s.phase(stepBackup)()
	w := pl.w // begun already when a dump was taken (AddDump)
	if w == nil {
		if w, err = s.Store.Begin(p.Name, s.now()); err != nil {
			return err
		}
	}
	pl.w, pl.hot, pl.cold = w, map[string]*hotSource{}, map[string]string{}
	defer func() {
		if err != nil {
			pl.Abort()
		}
	}()
	for i, src := range pl.srcs {
		if !twoPass(src) {
			continue
		}
		if why := coldReason(src, pl.opts.ColdServices); why != "" {
			s.event(src.Name + ": " + why)
			pl.cold[src.Name] = why
			continue
		}
		h := &hotSource{idx: archive.NewIndex(), inc: s.incrementalOf(p, src, pl)}
		opts := pl.opts
		h.bs, h.skip, err = s.backupSource(ctx, w, i, src, p.WorkingDir, opts, pl.sizes[src.Name], h.idx, nil, h.inc)
		if err != nil {
			return fmt.Errorf("backing up %s (pass one, hot): %w", src.Name, err)
		}
		pl.hot[src.Name] = h
		if pl.opts.HotDone != nil {
			pl.opts.HotDone(src.Name)
		}
	}
	return nil
}

// OnHot sets what HotPass calls after each source's hot copy (BackupOptions.HotDone) on a
// plan made already.
func (pl *BackupPlan) OnHot(f func(source string)) { pl.opts.HotDone = f }

// Omit leaves the dir name at the root of the source called source out of the backup
// (archive and index) without recording it (AddTransient): upgrade --migrate-db's side
// directory, which any restore of the backup removes. Call it before HotPass.
func (pl *BackupPlan) Omit(source, name string) {
	for _, src := range pl.srcs {
		if src.Name == source {
			pl.AddTransient(TransientKey(src), name)
		}
	}
}

// Abort drops the backup HotPass began (a no-op without one, or once BackupPlanned
// committed it).
func (pl *BackupPlan) Abort() {
	if pl.w != nil {
		pl.w.Abort()
	}
}

// archiveSource archives source i of pl in BackupPlanned: pass two (only what changed
// since pass one began) when pass one took it, else the whole source in one pass, or
// what changed since its base (incremental) when no pass one was tried; an unchanged
// source of policy changed then references its base's files (reuseUnchanged).
func (s *Service) archiveSource(ctx context.Context, w *backup.Writer, p *project.Project, pl *BackupPlan, i int, src project.Source) (bs backup.Source, skip string, err error) {
	opts := pl.opts
	var inc *incSource
	if h := pl.hot[src.Name]; h != nil && h.skip == "" && !h.idx.Start.IsZero() {
		inc = h.inc
		bs, skip, err = s.backupSource(ctx, w, i, src, p.WorkingDir, opts, pl.sizes[src.Name], nil, h, inc)
	} else {
		// One pass (or pass one found nothing to archive, or its data path records no
		// index: the archive API): under the base's name.
		if h == nil {
			inc = s.incrementalOf(p, src, pl)
		}
		bs, skip, err = s.backupSource(ctx, w, i, src, p.WorkingDir, opts, pl.sizes[src.Name], nil, nil, inc)
		bs.OnePass = pl.cold[src.Name]
	}
	if err == nil && skip == "" {
		if inc != nil && bs.Base == nil {
			bs.Full = inc.why
		}
		bs, err = s.reuseUnchanged(w, bs, inc)
	}
	return bs, skip, err
}
