package composemerge

import (
	"github.com/docker-maim/docker-maim/internal/config"
)

// Diff is the unified diff of the user's old compose file against the merged one, under
// the name file (relative to the project dir): "--- a/FILE", "+++ b/FILE" and hunks with
// three lines of context. Unless showSecrets, secrets are printed as "<redacted: changed>"
// or "<redacted: unchanged>" (whether the other file has the same value in the same
// place): it is config.Diff of a YAML file, the redaction every plan uses (the values of
// secret-looking keys, and by value a token of a known shape, a URL's password, every line
// of a private key, a command's password argument; see package redact). A file that does
// not parse as YAML shows no line of itself.
func Diff(file string, old, merged []byte, showSecrets bool) string {
	return config.Diff(file, old, merged, config.YAML, showSecrets)
}
