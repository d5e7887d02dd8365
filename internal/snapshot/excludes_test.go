package snapshot

import (
	"slices"
	"testing"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/exclude"
)

// A backup an older docker-maim made (no exclude_syntax) is restored with its patterns
// translated, so the restore keeps what that backup left out; a newer one's are used as
// recorded.
func TestManifestExcludes(t *testing.T) {
	old := &backup.Manifest{Excludes: []string{"*.log", "cache/**"}}
	if got, want := manifestExcludes(old), []string{"**/*.log", "cache/**"}; !slices.Equal(got, want) {
		t.Errorf("legacy manifest: %q, want %q", got, want)
	}
	cur := &backup.Manifest{Excludes: []string{"*.log", "!keep.log"}, ExcludeSyntax: exclude.Syntax}
	if got := manifestExcludes(cur); !slices.Equal(got, cur.Excludes) {
		t.Errorf("dockerignore manifest: %q", got)
	}
}
