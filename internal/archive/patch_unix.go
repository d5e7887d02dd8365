//go:build linux || darwin

package archive

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
)

// Patch is the write half of a differential restore (internal/diffrestore decides what to
// write): dest holds the tree an archive was taken of, changed since in places; Patch
// applies the entries next yields, read from the archive at random (seektar), as Extract
// applies them (a regular file rewritten whole, replacing whatever is at its path; a missing
// parent created), then removes the paths of remove (those opts.Excludes keep stay) and sets
// the metadata of the directories it applied, deepest first. Nothing else below dest is read
// or written: Patch is exact exactly when the caller's choice is (the paths it does not
// name are already equal to the archive, and remove names every path the archive does not
// hold). Hostile entries are refused as Extract refuses them; a hardlink's target must be an
// earlier entry of the same Patch.
func Patch(ctx context.Context, dest string, next PatchNext, remove []string, opts ExtractOptions) (Stats, error) {
	fi, err := os.Lstat(dest)
	if err != nil {
		return Stats{}, err
	}
	if !fi.IsDir() {
		return Stats{}, fmt.Errorf("archive: %s is not a directory: a patch applies over the tree it was taken of", dest)
	}
	x, err := newExtractor(ctx, dest, opts)
	if err != nil {
		return Stats{}, err
	}
	defer x.close()
	for {
		if err := ctx.Err(); err != nil {
			return x.stats, err
		}
		h, rd, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return x.stats, x.failed(err)
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			return x.stats, x.failed(&UnsafeEntryError{Name: h.Name, Reason: "a global header is no entry to patch with"})
		}
		if err := x.entry(h, rd); err != nil {
			return x.stats, x.failed(err)
		}
		if err := x.pool.Err(); err != nil {
			return x.stats, x.failed(err)
		}
	}
	if err := x.pool.close(); err != nil {
		return x.stats, err
	}
	x.dropParent()
	for _, p := range remove {
		rel, err := cleanName(p)
		if err != nil || rel == "" {
			return x.stats, &UnsafeEntryError{Name: p, Reason: "bad path to remove"}
		}
		if _, ok := x.v.seen[x.v.hash(rel)]; ok {
			return x.stats, &UnsafeEntryError{Name: p, Reason: "path to remove is also an entry of the patch"}
		}
		if err := x.removeUnexcluded(rel); err != nil {
			return x.stats, err
		}
		x.stats.Deleted++
	}
	return x.stats, x.finish()
}
