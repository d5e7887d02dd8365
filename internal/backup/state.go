package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EnvStateDir names the environment variable that overrides the root of the state
// directory (the tests give each test its own).
const EnvStateDir = "MAIM_STATE_DIR"

// StateRoot is where docker-maim keeps what is not a backup (the projects' locks,
// journals and histories): MAIM_STATE_DIR, else $XDG_STATE_HOME/docker-maim, else
// ~/.local/state/docker-maim; made absolute.
func StateRoot() (string, error) {
	if d := os.Getenv(EnvStateDir); d != "" {
		return filepath.Abs(d)
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "docker-maim"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no state dir: set %s or XDG_STATE_HOME (%w)", EnvStateDir, err)
	}
	return filepath.Join(home, ".local", "state", "docker-maim"), nil
}

// EngineKey names an engine's state directory: its ID (stable for the life of a
// daemon's data; "ABCD:EFGH:..." on older engines, a UUID on newer ones) with every
// character other than letters, digits, '.', '_' and '-' made '-'; when the engine
// reports no ID (or one of dots only), "host-" and a hash of the daemon's endpoint (DOCKER_HOST).
func EngineKey(engineID, host string) string {
	key := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '-'
	}, strings.TrimLeft(strings.TrimSpace(engineID), "."))
	if key != "" {
		return key
	}
	sum := sha256.Sum256([]byte(host))
	return "host-" + hex.EncodeToString(sum[:8])
}

// State is the state directory of one engine: <StateRoot>/<EngineKey>. A project's lock,
// the journal of its interrupted operation and its history live in
// <Dir>/<project>/, whatever backup dir a command uses, so every invocation of the
// same user sees the same lock and the same interrupted operation.
type State struct {
	Dir string
}

// OpenState returns the state directory of the engine with that ID (reached at host).
func OpenState(engineID, host string) (State, error) {
	root, err := StateRoot()
	if err != nil {
		return State{}, err
	}
	return State{Dir: filepath.Join(root, EngineKey(engineID, host))}, nil
}

// ProjectDir is the directory of a project's lock, journal and history.
func (s State) ProjectDir(project string) string { return filepath.Join(s.Dir, project) }
