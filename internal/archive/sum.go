package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
)

// FileSHA256 is the SHA-256 (lower-case hex, as manifests record it) and the size of the
// file at path, read once from start to end. It is the one hash of a whole file on disk:
// volume checks an archive a helper wrote with it, replica hashes what it copies and
// fetches with it.
func FileSHA256(path string) (sum string, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
