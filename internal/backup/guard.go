package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker-maim/docker-maim/internal/project"
)

// ErrRootOverlapsSource means the backup dir lies inside a data source of the project, or
// holds one. A restore of such a source makes it exactly equal to its archive and so
// deletes the backups in it, the restore's own safety backup included; a backup of it
// archives the backups. Every command that stops services refuses it first.
var ErrRootOverlapsSource = errors.New("the backup dir overlaps a data source")

// maxLinks bounds the symlinks ResolveDir follows (a loop ends there).
const maxLinks = 40

// ResolveDir returns path made absolute, with symlinks evaluated for its longest existing
// prefix; the part that does not exist yet is joined on as written, except that a
// dangling symlink in it is still followed. So a backup dir given as "data/backups", or
// reached through "bk -> ./data/x", names the place its files will really be written.
func ResolveDir(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return resolveAbs(abs, 0), nil
}

func resolveAbs(abs string, depth int) string {
	prefix, rest := abs, ""
	for {
		if r, err := filepath.EvalSymlinks(prefix); err == nil {
			if rest == "" {
				return r
			}
			first, tail, _ := strings.Cut(rest, string(filepath.Separator))
			if target, err := os.Readlink(filepath.Join(r, first)); err == nil && depth < maxLinks {
				if !filepath.IsAbs(target) {
					target = filepath.Join(r, target)
				}
				return resolveAbs(filepath.Join(target, tail), depth+1)
			}
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(prefix)
		if parent == prefix {
			return abs
		}
		rest = filepath.Join(filepath.Base(prefix), rest)
		prefix = parent
	}
}

// CheckRoot refuses (ErrRootOverlapsSource, naming both) a backup root that lies inside
// one of srcs or holds one. Both sides are resolved with ResolveDir first, so relative
// paths and symlinks cannot hide an overlap. Sources without a host path (volumes) and
// host paths (never archived nor restored, `/` among them) are not looked at. Call it
// before anything stops. A root "" (a repository that is no local directory) overlaps
// nothing.
func CheckRoot(root string, srcs []project.Source) error {
	if root == "" {
		return nil
	}
	r, err := ResolveDir(root)
	if err != nil {
		return fmt.Errorf("backup dir %s: %w", root, err)
	}
	for _, src := range srcs {
		if src.HostPath == "" || src.Kind == project.KindHostPath {
			continue
		}
		sp, err := ResolveDir(src.HostPath)
		if err != nil {
			return fmt.Errorf("data source %s: %w", src.Name, err)
		}
		hint := "choose a backup dir outside the project's data with --backup-dir or " + EnvDir
		if project.Within(r, sp) {
			return fmt.Errorf("%w: the backup dir %s lies inside the data source %s (%s): restoring it would delete the backups; %s",
				ErrRootOverlapsSource, r, src.Name, sp, hint)
		}
		if project.Within(sp, r) {
			return fmt.Errorf("%w: the data source %s (%s) lies inside the backup dir %s; %s",
				ErrRootOverlapsSource, src.Name, sp, r, hint)
		}
	}
	return nil
}

// ManifestSources returns the project sources that a backup's sources are.
func ManifestSources(srcs []Source) []project.Source {
	out := make([]project.Source, 0, len(srcs))
	for _, s := range srcs {
		out = append(out, s.Source)
	}
	return out
}
