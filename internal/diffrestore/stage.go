package diffrestore

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/docker-maim/docker-maim/internal/treeindex"
)

// StagePrefix begins the name of every stage directory: StagePrefix and 32 lowercase hex
// digits of fresh randomness (NewStageName), created at the target's root with mkdir's
// O_EXCL semantics, never reused. A user's own directory of another form (".maim-stage-foo")
// is data like any other.
const StagePrefix = ".maim-stage-"

var stageName = regexp.MustCompile(`^\.maim-stage-[0-9a-f]{32}$`)

// IsStageName says whether name has the form of a stage directory's name.
func IsStageName(name string) bool { return stageName.MatchString(name) }

// NewStageName is a fresh, unguessable stage directory name.
func NewStageName() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return StagePrefix + hex.EncodeToString(b), nil
}

// Staged is what pass one of a two-pass differential restore (Stage) wrote while the
// services still ran: the stage directory Dir at the target's root, holding the backup's
// version of each file it expects the restore to rewrite, each with the metadata an
// extraction sets. Restore, given it (Options.Staged), renames a staged file into place
// instead of extracting it when neither the target path nor the staged file changed since
// (File), then removes the stage directory. The record stays with the caller (never read
// back from the target, which the running services could write).
type Staged struct {
	Dir   string       `json:"dir"`
	Files []StagedFile `json:"files"`
}

// StagedFile is one staged file: the target path Path (relative to the target's root),
// what pass one saw there when it compared (Seen; nil: no such path), the staged file's
// name inside the stage directory and its metadata once written (Staged).
type StagedFile struct {
	Path   string           `json:"path"`
	Seen   *treeindex.Entry `json:"seen,omitempty"`
	Name   string           `json:"name"`
	Staged treeindex.Entry  `json:"staged"`
}

// Marshal encodes s for the trip from pass one to pass two (the helper's stderr, then its
// stdin).
func (s *Staged) Marshal() ([]byte, error) { return json.Marshal(s) }

// UnmarshalStaged decodes what Marshal wrote, checking the names it will use.
func UnmarshalStaged(b []byte) (*Staged, error) {
	var s Staged
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("the stage record: %w", err)
	}
	if !IsStageName(s.Dir) {
		return nil, fmt.Errorf("the stage record names %q, which is no stage directory", s.Dir)
	}
	for _, f := range s.Files {
		if !cleanRel(f.Path) || f.Name == "" || f.Name == "." || f.Name == ".." || strings.Contains(f.Name, "/") {
			return nil, fmt.Errorf("the stage record holds a bad entry %q -> %q", f.Name, f.Path)
		}
	}
	return &s, nil
}

// StageResult is what Stage did: Fallback set means nothing was staged (pass two then
// decides alone, as a one-pass differential restore).
type StageResult struct {
	Fallback string
	Staged   *Staged
	// Files is how many files the stage holds, Bytes their content.
	Files, Bytes int64
}

// cleanRel says whether p is a clean, relative, non-root slash path.
func cleanRel(p string) bool {
	if p == "" || p[0] == '/' {
		return false
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}
