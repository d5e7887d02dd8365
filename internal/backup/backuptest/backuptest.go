// Package backuptest holds the conformance suite of backup.Repository: what every place
// backups are kept (the local directory, later an S3-compatible bucket) must do for the
// backup store above it to behave the same.
package backuptest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
)

// Conformance runs the suite against fresh, empty repositories made by newRepo (called
// once per subtest): one subtest per contract, named as in contracts.
func Conformance(t *testing.T, newRepo func(t *testing.T) backup.Repository) {
	for _, c := range contracts {
		t.Run(c.name, func(t *testing.T) { c.check(t, newRepo(t)) })
	}
}

// contracts are what every repository must do, each checked on a fresh, empty one.
var contracts = []struct {
	name  string
	check func(t *testing.T, r backup.Repository)
}{
	{"Location", location},
	{"EmptyProject", emptyProject},
	{"RemoveOneFile", removeOneFile},
	{"MkdirIsExclusive", mkdirIsExclusive},
	{"NothingVisibleBeforeCommit", nothingVisibleBeforeCommit},
	{"AbortLeavesNothing", abortLeavesNothing},
	{"CommitReplacesWhole", commitReplacesWhole},
	{"LargeFile", largeFile},
	{"LocalPathFilledInPlace", localPathFilledInPlace},
	{"Missing", missing},
	{"Delete", deleteBackup},
	{"BadNames", badNames},
	{"FreeBytes", freeBytes},
	{"LockIsExclusive", lockIsExclusive},
	{"Store", storeRoundTrip},
}

// location: the root, a project and a backup have distinct locations, the backup's naming its ID.
func location(t *testing.T, r backup.Repository) {
	root, proj, bk := r.Location(), r.Location("demo"), r.Location("demo", "20261125T221530Z")
	if root == "" || proj == root || bk == proj || !strings.Contains(bk, "20261125T221530Z") {
		t.Errorf("Location: %q, %q, %q: want distinct names, the backup's naming its ID", root, proj, bk)
	}
}

// emptyProject: an unknown project lists no backups, and deleting a missing backup is no error.
func emptyProject(t *testing.T, r backup.Repository) {
	ids, err := r.List("nobody")
	if err != nil || len(ids) != 0 {
		t.Errorf("List of an unknown project = %v, %v; want none, no error", ids, err)
	}
	if err := r.Delete("nobody", "20261125T221530Z"); err != nil {
		t.Errorf("Delete of a missing backup: %v", err)
	}
}

// removeOneFile: Remove takes one file of a backup and leaves the others; removing a missing file is no error.
func removeOneFile(t *testing.T, r backup.Repository) {
	must(t, r.Mkdir("demo", "b1"))
	put(t, r, "demo", "b1", "a.tar", []byte("a"))
	put(t, r, "demo", "b1", "b.tar", []byte("b"))
	must(t, r.Remove("demo", "b1", "a.tar"))
	if _, err := r.Stat("demo", "b1", "a.tar"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a removed file = %v, want fs.ErrNotExist", err)
	}
	wantFile(t, r, "demo", "b1", "b.tar", []byte("b"))
	if err := r.Remove("demo", "b1", "a.tar"); err != nil {
		t.Errorf("Remove of a missing file: %v", err)
	}
}

// mkdirIsExclusive: a backup ID is made once per project (fs.ErrExist the second time); projects are apart.
func mkdirIsExclusive(t *testing.T, r backup.Repository) {
	must(t, r.Mkdir("demo", "20261125T221530Z"))
	if err := r.Mkdir("demo", "20261125T221530Z"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Mkdir = %v, want fs.ErrExist", err)
	}
	must(t, r.Mkdir("other", "20261125T221530Z")) // projects are apart
	must(t, r.Mkdir("demo", "20261125T221530Z-2"))
	wantIDs(t, r, "demo", "20261125T221530Z", "20261125T221530Z-2")
	wantIDs(t, r, "other", "20261125T221530Z")
}

// nothingVisibleBeforeCommit: an upload is invisible until Commit, whole after it; Abort after Commit does nothing.
func nothingVisibleBeforeCommit(t *testing.T, r backup.Repository) {
	must(t, r.Mkdir("demo", "b1"))
	up, err := r.Create("demo", "b1", "data.tar")
	must(t, err)
	write(t, up, []byte("half of it"))
	if _, err := r.Stat("demo", "b1", "data.tar"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat before Commit = %v, want fs.ErrNotExist", err)
	}
	if rc, err := r.Open("demo", "b1", "data.tar"); err == nil {
		rc.Close()
		t.Errorf("Open before Commit succeeded")
	}
	write(t, up, []byte(" and the rest"))
	must(t, up.Commit())
	wantFile(t, r, "demo", "b1", "data.tar", []byte("half of it and the rest"))
	up.Abort() // no-op after Commit
	wantFile(t, r, "demo", "b1", "data.tar", []byte("half of it and the rest"))
}

// abortLeavesNothing: an aborted upload leaves nothing, and cannot be committed after.
func abortLeavesNothing(t *testing.T, r backup.Repository) {
	must(t, r.Mkdir("demo", "b1"))
	up, err := r.Create("demo", "b1", "data.tar")
	must(t, err)
	write(t, up, []byte("doomed"))
	up.Abort()
	if _, err := r.Stat("demo", "b1", "data.tar"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat after Abort = %v, want fs.ErrNotExist", err)
	}
	if err := up.Commit(); err == nil {
		t.Errorf("Commit after Abort succeeded")
	}
	if _, err := r.Stat("demo", "b1", "data.tar"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat after Abort and Commit = %v, want fs.ErrNotExist", err)
	}
}

// commitReplacesWhole: an upload over an existing file replaces it whole, at Commit.
func commitReplacesWhole(t *testing.T, r backup.Repository) {
	must(t, r.Mkdir("demo", "b1"))
	put(t, r, "demo", "b1", "report.json", []byte("a long first version"))
	up, err := r.Create("demo", "b1", "report.json")
	must(t, err)
	write(t, up, []byte("v2"))
	wantFile(t, r, "demo", "b1", "report.json", []byte("a long first version"))
	must(t, up.Commit())
	wantFile(t, r, "demo", "b1", "report.json", []byte("v2"))
}

// largeFile: a file of several MiB written in odd-sized pieces reads back byte for byte.
func largeFile(t *testing.T, r backup.Repository) {
	must(t, r.Mkdir("demo", "b1"))
	big := bytes.Repeat([]byte("0123456789abcdef\x00\xff"), 300_000) // ~5 MiB
	up, err := r.Create("demo", "b1", "big.tar.zst")
	must(t, err)
	for off := 0; off < len(big); off += 100_003 {
		write(t, up, big[off:min(off+100_003, len(big))])
	}
	must(t, up.Commit())
	wantFile(t, r, "demo", "b1", "big.tar.zst", big)
}

// localPathFilledInPlace: an upload that names a local file may be filled by another writer
// (the helper container) instead of Write: Commit then publishes what that writer put there.
func localPathFilledInPlace(t *testing.T, r backup.Repository) {
	must(t, r.Mkdir("demo", "b1"))
	up, err := r.Create("demo", "b1", "data.tar.zst")
	must(t, err)
	p, ok := up.LocalPath()
	if !ok {
		up.Abort()
		t.Skip("this repository keeps no local files")
	}
	if !filepath.IsAbs(p) {
		t.Errorf("LocalPath %q is not absolute", p)
	}
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("LocalPath %q: want an existing file before anything is written: %v", p, err)
	}
	if _, err := r.Stat("demo", "b1", "data.tar.zst"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat before Commit = %v, want fs.ErrNotExist", err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0) // as the helper opens it: never created
	must(t, err)
	_, err = f.Write([]byte("written in place"))
	must(t, err)
	must(t, f.Close())
	must(t, up.Commit())
	wantFile(t, r, "demo", "b1", "data.tar.zst", []byte("written in place"))
}

// missing: Stat and Open of a missing file, backup or project answer fs.ErrNotExist.
func missing(t *testing.T, r backup.Repository) {
	must(t, r.Mkdir("demo", "b1"))
	for _, c := range [][3]string{{"demo", "b1", "nope"}, {"demo", "b2", "nope"}, {"other", "b1", "nope"}} {
		if _, err := r.Stat(c[0], c[1], c[2]); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat %v = %v, want fs.ErrNotExist", c, err)
		}
		if rc, err := r.Open(c[0], c[1], c[2]); !errors.Is(err, fs.ErrNotExist) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("Open %v = %v, want fs.ErrNotExist", c, err)
		}
	}
}

// deleteBackup: Delete removes one backup whole, leaves the others, and frees its ID.
func deleteBackup(t *testing.T, r backup.Repository) {
	for _, id := range []string{"b1", "b2"} {
		must(t, r.Mkdir("demo", id))
		put(t, r, "demo", id, "data.tar", []byte(id))
	}
	must(t, r.Delete("demo", "b1"))
	wantIDs(t, r, "demo", "b2")
	if _, err := r.Stat("demo", "b1", "data.tar"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat in a deleted backup = %v", err)
	}
	wantFile(t, r, "demo", "b2", "data.tar", []byte("b2"))
	must(t, r.Mkdir("demo", "b1")) // the ID is free again
}

// badNames: names that are empty, dots or hold a path separator are refused for files, backups and projects.
func badNames(t *testing.T, r backup.Repository) {
	must(t, r.Mkdir("demo", "b1"))
	for _, name := range []string{"", ".", "..", "../escape", "a/b", `a\b`} {
		if up, err := r.Create("demo", "b1", name); err == nil {
			up.Abort()
			t.Errorf("Create of file %q succeeded", name)
		}
		if err := r.Mkdir("demo", name); err == nil {
			t.Errorf("Mkdir of backup %q succeeded", name)
		}
		if err := r.Mkdir(name, "b2"); err == nil {
			t.Errorf("Mkdir in project %q succeeded", name)
		}
	}
}

// freeBytes: FreeBytes is -1 (unknown) or more.
func freeBytes(t *testing.T, r backup.Repository) {
	if n := r.FreeBytes(); n < -1 {
		t.Errorf("FreeBytes = %d, want -1 (unknown) or more", n)
	}
}

// lockIsExclusive: a project's lock is held once, refused to others naming its holder, apart per project, no
// backup, and free again once unlocked.
func lockIsExclusive(t *testing.T, r backup.Repository) {
	unlock, err := r.Lock("demo", "pid 1, user alice, engine A")
	must(t, err)
	// Another value on the same place (another process, another engine) is refused
	// and told who holds it.
	_, err = r.Lock("demo", "pid 2, user root, engine B")
	if !errors.Is(err, backup.ErrLocked) || !strings.Contains(err.Error(), "pid 1, user alice, engine A") {
		t.Errorf("second Lock = %v; want ErrLocked naming the holder", err)
	}
	unlockOther, err := r.Lock("other", "pid 2") // projects are apart
	must(t, err)
	unlockOther()
	// The lock is no backup.
	wantIDs(t, r, "demo")
	unlock()
	again, err := r.Lock("demo", "pid 2")
	must(t, err)
	again()
}

// storeRoundTrip runs the backup store over the repository: a backup written, listed
// complete, verified, opened, damaged (found corrupt), an incomplete one listed, both removed.
func storeRoundTrip(t *testing.T, r backup.Repository) {
	s := backup.Store{Repo: r}
	now := time.Date(2026, 11, 25, 22, 15, 30, 0, time.UTC)
	src := t.TempDir()
	must(t, os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(src, "b.txt"), bytes.Repeat([]byte("beta "), 50_000), 0o600))

	w, err := s.Begin("demo", now)
	must(t, err)
	a, err := w.Create("00-data.tar")
	must(t, err)
	st, err := archive.WriteTar(context.Background(), a, src, archive.WriteOptions{})
	must(t, err)
	sum, size, err := a.Commit()
	must(t, err)
	ps := project.Source{Name: "data", Kind: project.KindBindDir, HostPath: src}
	m := &backup.Manifest{CreatedAt: now, Reason: "manual", Compression: "none",
		Sources: []backup.Source{{Source: ps, Archive: "00-data.tar", SHA256: sum, ArchiveSize: size, Entries: st.Entries, Files: st.Files, Bytes: st.Bytes}}}
	must(t, w.Commit(m))
	must(t, s.AddFile("demo", w.ID, "config-merge.txt", []byte("report\n")))

	second, err := s.Begin("demo", now) // same second: a suffixed ID
	must(t, err)
	if second.ID != w.ID+"-2" {
		t.Errorf("second backup of the same second is %q, want %q", second.ID, w.ID+"-2")
	}

	all, err := s.List("demo")
	must(t, err)
	if len(all) != 2 || all[0].ID != w.ID || all[0].Status != backup.StatusComplete || all[1].Status != backup.StatusIncomplete {
		t.Fatalf("List = %+v; want the complete backup then the incomplete one", all)
	}
	e, err := s.Get("demo", "")
	must(t, err)
	if e.ID != w.ID || e.Manifest.Project != "demo" {
		t.Errorf("Get latest = %+v", e)
	}
	must(t, s.Verify(e, nil))
	rc, err := e.Open(e.Manifest.Sources[0])
	must(t, err)
	got, err := io.ReadAll(rc)
	rc.Close()
	must(t, err)
	if int64(len(got)) != size {
		t.Errorf("read %d bytes back, wrote %d", len(got), size)
	}

	// A damaged archive (replaced by a shorter one) makes the backup corrupt.
	put(t, r, "demo", w.ID, "00-data.tar", got[:len(got)/2])
	if e, err := s.Get("demo", w.ID); err != nil || e.Status != backup.StatusCorrupt {
		t.Errorf("after damage: %+v, %v; want corrupt", e, err)
	}
	must(t, second.Abort())
	must(t, s.Remove("demo", w.ID))
	if all, err := s.List("demo"); err != nil || len(all) != 0 {
		t.Errorf("List after removing both = %+v, %v", all, err)
	}
	if _, err := s.Get("demo", w.ID); !errors.Is(err, backup.ErrNotFound) {
		t.Errorf("Get of a removed backup = %v, want ErrNotFound", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, w io.Writer, b []byte) {
	t.Helper()
	if n, err := w.Write(b); err != nil || n != len(b) {
		t.Fatalf("Write = %d, %v", n, err)
	}
}

func put(t *testing.T, r backup.Repository, project, id, name string, b []byte) {
	t.Helper()
	up, err := r.Create(project, id, name)
	must(t, err)
	write(t, up, b)
	must(t, up.Commit())
}

func wantFile(t *testing.T, r backup.Repository, project, id, name string, want []byte) {
	t.Helper()
	size, err := r.Stat(project, id, name)
	if err != nil || size != int64(len(want)) {
		t.Errorf("Stat %s/%s/%s = %d, %v; want %d", project, id, name, size, err, len(want))
	}
	rc, err := r.Open(project, id, name)
	must(t, err)
	defer rc.Close()
	got, err := io.ReadAll(rc)
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Errorf("%s/%s/%s holds %d bytes not the ones written (%d)", project, id, name, len(got), len(want))
	}
}

func wantIDs(t *testing.T, r backup.Repository, project string, want ...string) {
	t.Helper()
	got, err := r.List(project)
	must(t, err)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("List(%q) = %v, want %v", project, got, want)
	}
}
