package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/docker-maim/docker-maim/internal/api"
)

// EnvDir names the environment variable that overrides the default backup root.
const EnvDir = "MAIM_BACKUP_DIR"

// DefaultRoot is where backups go unless --backup-dir says otherwise: MAIM_BACKUP_DIR,
// else $XDG_DATA_HOME/docker-maim/backups, else ~/.local/share/docker-maim/backups;
// resolved with ResolveDir (absolute, symlinks evaluated).
func DefaultRoot() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return ResolveDir(d)
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return ResolveDir(filepath.Join(d, "docker-maim", "backups"))
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no backup dir: set --backup-dir or %s (%w)", EnvDir, err)
	}
	return ResolveDir(filepath.Join(home, ".local", "share", "docker-maim", "backups"))
}

// Status is the state of a backup on disk (api.BackupStatus).
type Status = api.BackupStatus

const (
	StatusComplete   = api.StatusComplete   // manifest present and every archive has its recorded size
	StatusIncomplete = api.StatusIncomplete // no manifest: interrupted while writing
	StatusCorrupt    = api.StatusCorrupt    // manifest unreadable, or an archive missing or of the wrong size
)

// ErrNotFound means no backup has the requested ID.
var ErrNotFound = api.ErrNotFound

// Store is a project's backups in a Repository: it lists them with their status, writes
// new ones (archives hashed as they pass, the manifest last) and reads them back.
//
// A Store with an Origin is one engine's and user's view of a backup dir others may share:
// the backups it writes record the Origin; List, and Get without an ID, leave out other
// engines' backups, and Get without an ID picks only backups recorded as this engine's
// (not the unrecorded ones of older builds, which may be another engine's). A Store with
// no Origin (tests, tools reading a backup dir whole) treats every backup as its own.
//
// Seal and Identities are encryption at rest (sealed.go): a Writer of a Store with Seal
// seals every archive to those recipients; an Entry read from a Store with Identities
// opens sealed archives with them.
type Store struct {
	Repo   Repository
	Origin Origin
	// Seal are the recipients every archive a Writer creates is sealed to (nil: plain).
	Seal []age.Recipient
	// Identities open sealed archives (Entry.Open); nil: a sealed backup's archives can
	// be checked against their stored hashes only.
	Identities []age.Identity
}

// Local is the Store of a local backup directory (LocalDir).
func Local(root string) Store { return Store{Repo: LocalDir{Root: root}} }

// Location names the repository (for a local one, its directory).
func (s Store) Location() string { return s.Repo.Location() }

// LocalRoot is the directory of a local repository, "" for any other.
func (s Store) LocalRoot() string {
	if l, ok := s.Repo.(LocalDir); ok {
		return l.Root
	}
	return ""
}

// FreeBytes is the space left for new backups, -1 when unknown.
func (s Store) FreeBytes() int64 { return s.Repo.FreeBytes() }

// ProjectDir names the place of a project's backups.
func (s Store) ProjectDir(project string) string { return s.Repo.Location(project) }

// Dir names the place of one backup.
func (s Store) Dir(project, id string) string { return s.Repo.Location(project, id) }

var idPattern = regexp.MustCompile(`^\d{8}T\d{6}Z(-\d+)?$`)

// ValidID tells whether id has the shape of a backup ID.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// Entry is one backup as listed.
type Entry struct {
	ID       string    `json:"id"`
	Dir      string    `json:"dir"`
	Status   Status    `json:"status"`
	Problem  string    `json:"problem,omitempty"`
	Manifest *Manifest `json:"-"`
	// Owner is whose the backup is, seen from the Store that listed it.
	Owner   Owner `json:"-"`
	repo    Repository
	project string
	ids     []age.Identity // Store.Identities: open sealed archives
}

// List returns the project's backups, oldest first, leaving out those recorded as another
// engine's (Owner): this engine's (any user's), the unrecorded ones and those without a
// readable manifest stay (nothing tells whose they are).
func (s Store) List(project string) ([]Entry, error) {
	all, err := s.ListAll(project)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, e := range all {
		if e.Owner != OwnerOtherEngine {
			out = append(out, e)
		}
	}
	return out, nil
}

// ListAll returns every backup of the project, whatever engine made it, oldest first.
func (s Store) ListAll(project string) ([]Entry, error) {
	ids, err := s.Repo.List(project)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, id := range ids {
		if ValidID(id) {
			out = append(out, s.entry(project, id))
		}
	}
	sort.Slice(out, func(i, j int) bool { return idLess(out[i].ID, out[j].ID) })
	return out, nil
}

// IDLess tells whether backup ID a is older than b (by time, then collision suffix).
func IDLess(a, b string) bool { return idLess(a, b) }

// idLess orders backup IDs by time, then by collision suffix numerically (-2 < -10).
func idLess(a, b string) bool {
	ab, as, _ := strings.Cut(a, "-")
	bb, bs, _ := strings.Cut(b, "-")
	if ab != bb {
		return ab < bb
	}
	if len(as) != len(bs) {
		return len(as) < len(bs)
	}
	return as < bs
}

func (s Store) entry(project, id string) Entry {
	e := Entry{ID: id, Dir: s.Dir(project, id), Owner: OwnerUnknown, repo: s.Repo, project: project, ids: s.Identities}
	b, err := s.readFile(project, id, ManifestName)
	if errors.Is(err, fs.ErrNotExist) {
		e.Status, e.Problem = StatusIncomplete, "no manifest (interrupted while writing)"
		return e
	}
	if err != nil {
		e.Status, e.Problem = StatusCorrupt, err.Error()
		return e
	}
	m, err := decodeManifest(b)
	if err != nil {
		e.Status, e.Problem = StatusCorrupt, err.Error()
		return e
	}
	e.Manifest = m
	e.Owner = s.ownerOf(m)
	e.Status = StatusComplete
	var all []Source
	for _, src := range m.Sources {
		all = append(all, src)
		if src.Delta != nil {
			all = append(all, src.DeltaSource())
		}
		if src.Index != nil {
			all = append(all, src.IndexSource())
		}
	}
	for _, d := range m.Dumps {
		all = append(all, d.Source())
	}
	for _, src := range all {
		size, err := s.Repo.Stat(project, src.holder(id), src.Archive)
		if err != nil {
			e.Status, e.Problem = StatusCorrupt, fmt.Sprintf("%s: missing", src.Archive)
			break
		}
		if size != src.ArchiveSize {
			e.Status, e.Problem = StatusCorrupt, fmt.Sprintf("%s: %d bytes, manifest says %d", src.Archive, size, src.ArchiveSize)
			break
		}
	}
	return e
}

func (s Store) readFile(project, id, name string) ([]byte, error) {
	r, err := s.Repo.Open(project, id, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// Get returns one backup, whatever engine made it (its Owner says); id "" (or "latest")
// is the newest complete one recorded as this engine's (Owner.SameEngine).
func (s Store) Get(project, id string) (Entry, error) {
	if id == "" || id == "latest" {
		all, err := s.ListAll(project)
		if err != nil {
			return Entry{}, err
		}
		for i := len(all) - 1; i >= 0; i-- {
			if all[i].Status == StatusComplete && all[i].Owner.SameEngine() {
				return all[i], nil
			}
		}
		return Entry{}, fmt.Errorf("%w: project %q has no complete backup%s in %s%s", ErrNotFound, project, s.ofThisEngine(), s.ProjectDir(project), s.Elsewhere(all))
	}
	if !ValidID(id) {
		return Entry{}, fmt.Errorf("%w: %q is not a backup ID (like 20261125T221530Z)", ErrNotFound, id)
	}
	ids, err := s.Repo.List(project)
	if err != nil {
		return Entry{}, err
	}
	if !slices.Contains(ids, id) {
		return Entry{}, fmt.Errorf("%w: %s of project %q", ErrNotFound, id, project)
	}
	return s.entry(project, id), nil
}

// ofThisEngine is " of this engine" for a store with an Origin.
func (s Store) ofThisEngine() string {
	if s.Origin.EngineID == "" {
		return ""
	}
	return " of this engine (" + s.Origin.EngineID + ")"
}

// Elsewhere says, for a message, how many complete backups of all are not recorded as
// this engine's (another engine's, or unrecorded): "" when none.
func (s Store) Elsewhere(all []Entry) string {
	other, unrecorded := 0, 0
	for _, e := range all {
		if e.Status != StatusComplete {
			continue
		}
		switch e.Owner {
		case OwnerOtherEngine:
			other++
		case OwnerUnrecorded:
			unrecorded++
		}
	}
	if other+unrecorded == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d of another engine, %d made by an older docker-maim that did not record its engine: name one by ID to use it; `docker maim backups --all-engines` lists them)", other, unrecorded)
}

// Writer writes one new backup. Archives go in under temporary names and appear
// when complete; the manifest is written last by Commit. Abort removes everything.
type Writer struct {
	Project string
	ID      string
	Dir     string // where it is (Store.Dir)
	repo    Repository
	origin  Origin
	done    bool
	seal    []age.Recipient
}

// Begin creates a new backup with a fresh sortable UTC ID.
func (s Store) Begin(project string, now time.Time) (*Writer, error) {
	base := now.UTC().Format("20060102T150405Z")
	for i := 1; i < 1000; i++ {
		id := base
		if i > 1 {
			id = fmt.Sprintf("%s-%d", base, i)
		}
		err := s.Repo.Mkdir(project, id)
		if err == nil {
			return &Writer{Project: project, ID: id, Dir: s.Dir(project, id), repo: s.Repo, origin: s.Origin, seal: s.Seal}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("backup dir: %w", err)
		}
	}
	return nil, fmt.Errorf("backup dir: too many backups at %s", base)
}

// Archive is an archive file being written; it hashes and counts what passes through.
// Sealed (Store.Seal), what is written is sealed on the way: the hash and count are the
// ciphertext's, Plain the plaintext's.
type Archive struct {
	Name string
	up   Upload
	h    hash.Hash
	n    int64
	sum  string // set by WroteLocal
	seal *sealer
}

// Create opens a new archive file named name inside the backup.
func (w *Writer) Create(name string) (*Archive, error) {
	if strings.ContainsAny(name, `/\`) || name == ManifestName {
		return nil, fmt.Errorf("bad archive name %q", name)
	}
	up, err := w.repo.Create(w.Project, w.ID, name)
	if err != nil {
		return nil, err
	}
	a := &Archive{Name: name, up: up, h: sha256.New()}
	if len(w.seal) > 0 {
		if a.seal, err = newSealer(writerFunc(a.writeStored), w.seal); err != nil {
			up.Abort()
			return nil, err
		}
	}
	return a, nil
}

func (a *Archive) Write(p []byte) (int, error) {
	if a.seal != nil {
		return a.seal.Write(p)
	}
	return a.writeStored(p)
}

// writeStored writes bytes as the repository keeps them.
func (a *Archive) writeStored(p []byte) (int, error) {
	n, err := a.up.Write(p)
	a.h.Write(p[:n])
	a.n += int64(n)
	return n, err
}

// LocalPath is the file this archive is written to when the repository keeps it in a local
// directory ([Upload.LocalPath]): another process may write it instead of Write, and then
// tells WroteLocal what it wrote. A sealed archive has none: the host seals its stream.
func (a *Archive) LocalPath() (string, bool) {
	if a.seal != nil {
		return "", false
	}
	return a.up.LocalPath()
}

// WroteLocal records that the file at LocalPath was filled by another writer with size
// bytes of SHA-256 sum (hex), in place of Write; the file's size must agree.
func (a *Archive) WroteLocal(sum string, size int64) error {
	p, ok := a.up.LocalPath()
	if !ok || a.n != 0 {
		return fmt.Errorf("archive %s: not written in place", a.Name)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.Size() != size {
		return fmt.Errorf("archive %s: %d bytes on disk, the writer reported %d", a.Name, fi.Size(), size)
	}
	if _, err := hex.DecodeString(sum); err != nil || len(sum) != 2*sha256.Size {
		return fmt.Errorf("archive %s: bad sha256 %q", a.Name, sum)
	}
	a.sum, a.n = sum, size
	return nil
}

// Commit makes the archive durable under its final name. It returns the sha256 and size.
func (a *Archive) Commit() (sum string, size int64, err error) {
	if a.seal != nil {
		if err := a.seal.Close(); err != nil {
			a.up.Abort()
			return "", 0, fmt.Errorf("archive %s: sealing: %w", a.Name, err)
		}
	}
	if err := a.up.Commit(); err != nil {
		return "", 0, err
	}
	if a.sum != "" {
		return a.sum, a.n, nil
	}
	return hex.EncodeToString(a.h.Sum(nil)), a.n, nil
}

// Abort drops the partial archive.
func (a *Archive) Abort() { a.up.Abort() }

// WriteFile adds a small extra file (a report) to the backup atomically.
func (w *Writer) WriteFile(name string, data []byte) error {
	return putFile(w.repo, w.Project, w.ID, name, data)
}

// AddFile adds a small extra file (a report) to an existing backup atomically.
func (s Store) AddFile(project, id, name string, data []byte) error {
	if name == ManifestName {
		return fmt.Errorf("bad file name %q", name)
	}
	return putFile(s.Repo, project, id, name, data)
}

// ReadFile reads a small extra file (AddFile) of a backup.
func (s Store) ReadFile(project, id, name string) ([]byte, error) {
	if err := plainFileName(name); err != nil {
		return nil, fmt.Errorf("bad file name %q: %v", name, err)
	}
	return s.readFile(project, id, name)
}

func putFile(r Repository, project, id, name string, data []byte) error {
	up, err := r.Create(project, id, name)
	if err != nil {
		return err
	}
	if _, err := up.Write(data); err != nil {
		up.Abort()
		return err
	}
	return up.Commit()
}

// Remove drops an archive written into the backup that its manifest will not reference
// (a two-pass backup's hot base that pass two replaced), so the backup holds nothing
// unreferenced.
func (w *Writer) Remove(name string) error {
	if w.done {
		return fmt.Errorf("backup %s is committed: its files stay", w.ID)
	}
	if strings.ContainsAny(name, `/\`) || name == ManifestName {
		return fmt.Errorf("bad archive name %q", name)
	}
	return w.repo.Remove(w.Project, w.ID, name)
}

// Commit writes the manifest, which makes the backup complete.
func (w *Writer) Commit(m *Manifest) error {
	m.FormatVersion = 1
	for _, s := range m.Sources {
		if s.Delta != nil {
			m.FormatVersion = 2
		}
	}
	w.recordSealing(m)
	for _, s := range m.Sources {
		if s.Base != nil || s.Ref != "" {
			m.FormatVersion = FormatIncremental
		}
	}
	m.ID = w.ID
	m.Project = w.Project
	if m.Origin == nil && w.origin.EngineID != "" {
		o := w.origin
		m.Origin = &o
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := putFile(w.repo, w.Project, w.ID, ManifestName, append(b, '\n')); err != nil {
		return err
	}
	w.done = true
	return nil
}

// Abort removes an uncommitted backup. It is a no-op after Commit, so it can be deferred.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	return w.repo.Delete(w.Project, w.ID)
}

// Remove deletes a backup.
func (s Store) Remove(project, id string) error {
	if !ValidID(id) {
		return fmt.Errorf("bad backup id %q", id)
	}
	return s.Repo.Delete(project, id)
}

// WriteAtomic writes data to path with mode 0600 durably: a temporary file beside it,
// fsynced, then renamed over path.
func WriteAtomic(path string, data []byte) error {
	tmp := path + ".partial"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	_ = d.Sync() // not supported everywhere
	return nil
}
