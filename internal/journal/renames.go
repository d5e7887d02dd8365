package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
)

// Several merged files are put in place by renames, one file at a time: a kill between two
// renames leaves a set of files that may not load (the old override of a service the new
// main file renamed), and every command, rollback included, loads the project first. So
// the renames are journaled (Journal.Adopt; the upgrade writes them: upgrade/adopt.go): every merged file is first written in full
// beside the file it replaces (File+NewSuffix, synced), the journal then says the renames
// began, and only then are they renamed over. An interrupted set is completed forward
// (FinishRenames): the merged set loaded in the plan, and the old files are in the
// upgrade's backup, from which the rollback restores them byte for byte. Before the
// journal says the renames began, none happened; the rollback from the backup removes the
// temporary files either way (DiscardRenames). Exact when the engine's state dir (the
// journal) survives what killed the upgrade, as every crash resolution here assumes.

// NewSuffix names a merged file written beside the file it replaces, before the rename.
const NewSuffix = ".maim-new"

// AdoptRenames is the journal's record of an adoption's renames.
type AdoptRenames = maim.AdoptRenames

// FinishRenames completes the renames a journal says began: each merged file still beside
// its file is renamed over it. Idempotent.
func FinishRenames(jr *Journal) error {
	if jr == nil || jr.Adopt == nil || !jr.Adopt.Renaming {
		return nil
	}
	for _, f := range jr.Adopt.Files {
		tmp := f + NewSuffix
		if _, err := os.Lstat(tmp); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := os.Rename(tmp, f); err != nil {
			return fmt.Errorf("completing the interrupted adoption of %s: %w", f, err)
		}
	}
	SyncDirs(jr.Adopt.Files)
	return nil
}

// FinishAdoptRenames completes the renames of an adoption killed between them, for a
// project whose files do not load: the journal of project name (or, name "", of the
// project whose journal records workingDir) in the engine's state dir. It tells whether
// it found such a journal; the project loads again after it as the adoption planned it,
// and `docker maim rollback` then restores the old files from the backup.
func FinishAdoptRenames(state backup.State, name, workingDir string) (bool, error) {
	var dirs []string
	if name != "" {
		dirs = []string{state.ProjectDir(name)}
	} else {
		ents, err := os.ReadDir(state.Dir)
		if err != nil {
			return false, nil
		}
		for _, e := range ents {
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(state.Dir, e.Name()))
			}
		}
	}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, journalName))
		if err != nil {
			continue
		}
		var jr Journal
		if json.Unmarshal(b, &jr) != nil || jr.Adopt == nil || !jr.Adopt.Renaming {
			continue
		}
		if name == "" && filepath.Clean(jr.WorkingDir) != filepath.Clean(workingDir) {
			continue
		}
		return true, FinishRenames(&jr)
	}
	return false, nil
}

// SyncDirs makes renames over files durable: each distinct directory is synced (best
// effort: not every filesystem can).
func SyncDirs(files []string) {
	seen := map[string]bool{}
	for _, f := range files {
		dir := filepath.Dir(f)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		if d, err := os.Open(dir); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
}

// WriteSynced writes data to path with mode (whatever the umask) and syncs it.
func WriteSynced(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// DiscardRenames removes the merged files an adoption left beside the project's files
// (best effort): the rollback from the backup puts the old files in place whatever the
// renames did.
func DiscardRenames(jr *Journal) {
	if jr == nil || jr.Adopt == nil {
		return
	}
	for _, f := range jr.Adopt.Files {
		_ = os.Remove(f + NewSuffix)
	}
}
