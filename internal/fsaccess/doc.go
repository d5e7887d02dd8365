// Package fsaccess owns the careful ways docker-maim touches a file system underneath the
// archive format (internal/archive), each with the reason it has to be careful:
//
//   - Beneath: a single-file path (a bind-mounted file, a project's compose or env file)
//     confined to a directory at the moment it is read (OpenFile) or replaced (Dest), by an
//     O_NOFOLLOW walk from the directory's descriptor; a symlink swapped in on the way is
//     seen, never followed out (EscapeError).
//   - Inexact: whether a file system shows every change by a file's times once its dirty
//     pages were written back, the condition under which a two-pass backup equals a cold one
//     (exactfs_linux.go).
//   - DataMap: the data extents of a sparse file, as the file system reports them.
//   - Measure: the content bytes of a tree a backup would count, from its metadata only.
//   - StatAhead: a large directory's entries statted in batches on all cores, ahead of a
//     walk that compares them with an index (pass two, a differential restore's plan).
//
// It knows nothing of tar: archive decides what to read and write, fsaccess how to reach it.
package fsaccess
