package snapshot

import (
	"context"
	"fmt"
	"io"
	"strings"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
)

// AddDump writes a logical database dump into the backup pl will be, before anything
// stops (it begins the backup when pass one has not): fill writes the dump's plain bytes,
// compressed here as the archives are, into an archive of its own, dump-SERVICE.sql.zst
// (.sql.gz, .sql), hashed as it passes; BackupPlanned records it in the manifest. A fill
// that fails drops the partial archive (and the caller drops the backup: Abort).
func (s *Service) AddDump(ctx context.Context, p *project.Project, pl *BackupPlan, d backup.Dump, fill func(io.Writer) error) (backup.Dump, error) {
	if pl.w == nil {
		w, err := s.Store.Begin(p.Name, s.now())
		if err != nil {
			return d, err
		}
		pl.w = w
	}
	d.Archive = DumpArchive(d.Service, d.Engine, pl.opts.Compression)
	a, err := pl.w.Create(d.Archive)
	if err != nil {
		return d, err
	}
	cw, err := archive.Compress(a, pl.opts.Compression, pl.opts.Level)
	if err != nil {
		a.Abort()
		return d, err
	}
	n := &counter{w: cw}
	err = fill(n)
	if cerr := cw.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing the dump: %w", cerr)
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		a.Abort()
		return d, err
	}
	if d.SHA256, d.ArchiveSize, err = a.Commit(); err != nil {
		return d, err
	}
	d.Bytes, d.Plain = n.n, a.Plain()
	pl.dumps = append(pl.dumps, d)
	return d, nil
}

// DumpArchive is the name of a dump's file in a backup: dump-SERVICE.sql.zst for the SQL
// script of PostgreSQL, MariaDB and MySQL, dump-SERVICE.archive.zst for mongodump's
// archive; the compression's own extension (.zst, .gz, none) ends it.
func DumpArchive(service, engine string, c archive.Compression) string {
	kind := ".sql"
	if engine == maim.DBMongoDB {
		kind = ".archive"
	}
	return "dump-" + service + kind + strings.TrimPrefix(c.Ext(), ".tar")
}

// counter counts the bytes written through it.
type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	k, err := c.w.Write(p)
	c.n += int64(k)
	return k, err
}
