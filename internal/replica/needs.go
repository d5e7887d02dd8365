package replica

import (
	"errors"
	"fmt"

	"github.com/docker-maim/docker-maim/internal/backup"
)

// MissingError: a backup of a closure (Needs) whose manifest could not be read. By is the
// backup that needs it, "" when it is the backup asked about itself.
type MissingError struct {
	ID, By string
	Err    error
}

func (e *MissingError) Error() string {
	if e.By == "" {
		return fmt.Sprintf("backup %s: its manifest cannot be read: %v", e.ID, e.Err)
	}
	return fmt.Sprintf("backup %s builds on backup %s, whose manifest cannot be read: %v", e.By, e.ID, e.Err)
}

func (e *MissingError) Unwrap() error { return e.Err }

// errCycle: manifests that need each other; no restore could apply them.
var errCycle = errors.New("the backups it builds on need it in turn (a loop)")

// Needs is the closure of what backup id builds on: the backups its manifest needs
// (backup.Manifest.Needs: incremental sources' bases, the backups unchanged sources refer
// to), theirs, and so on, each once, every one after those it needs (bases first), id
// itself not listed. manifest reads a backup's manifest (from the local store, the
// remote, or the one then the other: the caller's choice).
//
// A backup whose manifest cannot be read (an error, or none) is listed where it stands
// but not followed, and the first such is returned with the list as a *MissingError (By
// "" when it is id's own); a caller that can go on without it (a fetch that lets the
// operation say what is missing) uses the list, one that cannot (a copy) refuses. A loop,
// or more than backup.MaxChain backups, is refused outright (no list).
func Needs(id string, manifest func(id string) (*backup.Manifest, error)) ([]string, error) {
	var out []string
	var missing error
	state := map[string]int{} // 1: being walked, 2: listed
	var walk func(id, by string) error
	walk = func(id, by string) error {
		switch state[id] {
		case 1:
			return fmt.Errorf("backup %s: %w", id, errCycle)
		case 2:
			return nil
		}
		if len(state) > backup.MaxChain {
			return fmt.Errorf("backup %s builds on more than %d backups", id, backup.MaxChain)
		}
		state[id] = 1
		m, err := manifest(id)
		if err == nil && m == nil {
			err = backup.ErrNotFound
		}
		if err != nil && missing == nil {
			missing = &MissingError{ID: id, By: by, Err: err}
		}
		if m != nil {
			for _, need := range m.Needs() {
				if err := walk(need, id); err != nil {
					return err
				}
			}
		}
		state[id] = 2
		if by != "" {
			out = append(out, id)
		}
		return nil
	}
	if err := walk(id, ""); err != nil {
		return nil, err
	}
	return out, missing
}
