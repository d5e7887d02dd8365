package snapshot

import (
	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
)

// finalIndex is the index to fill while the last pass over src reads it (pass two, or the
// only pass): a directory source's, nil for single files and for pass one (record set),
// whose index is not the backup's final one.
func finalIndex(src project.Source, record *archive.Index) *archive.Index {
	if record != nil || !twoPass(src) {
		return nil
	}
	return archive.NewIndex()
}

// keepIndex writes the final index x of source i into the backup as
// backup.IndexName(ArchiveBase) and returns what the manifest records of it; nil when
// there is none to keep (no index asked for, or a data path that records none: the archive
// API leaves Start zero). The index of a backup taken while the services ran (noStop) is
// kept marked inexact: a process storing through a shared mapping it dirtied before the
// read takes no fault, so its later stores move no time.
func keepIndex(w *backup.Writer, i int, src project.Source, x *archive.Index, noStop bool) (*backup.Index, error) {
	if x == nil || x.Start.IsZero() {
		return nil, nil
	}
	if w.Sealed() {
		// Sealed, the index would be as secret as the archives (it names every path), and a
		// differential restore reads archives at random, which sealed archives are not: a
		// sealed backup keeps none and is restored in full.
		return nil, nil
	}
	if noStop && x.OnePass == "" {
		x.OnePass = "read while the services ran (--no-stop): a store through a shared mapping may have moved no time since"
	}
	name := backup.IndexName(project.ArchiveBase(i, src))
	a, err := w.Create(name)
	if err != nil {
		return nil, err
	}
	if _, err := x.WriteTo(a); err != nil {
		a.Abort()
		return nil, err
	}
	sum, size, err := a.Commit()
	if err != nil {
		return nil, err
	}
	return &backup.Index{File: name, SHA256: sum, Size: size, Entries: int64(len(x.Entries)), Plain: a.Plain()}, nil
}
