package crypt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"
)

// LoadIdentities reads the identities of one file: an age identity file (lines
// "AGE-SECRET-KEY-1..." or "AGE-SECRET-KEY-PQ-1...", "#" comments and blank lines
// skipped, as age-keygen writes it) or an unencrypted OpenSSH/PEM private key (ed25519 or
// RSA). A key protected by a passphrase, or an identity file encrypted with age, is a
// clear error: docker-maim reads identities without a terminal (scheduled runs, the
// failure path of an upgrade). Errors never quote the file's lines.
func LoadIdentities(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	defer f.Close()
	const sizeLimit = 1 << 20
	b, err := io.ReadAll(io.LimitReader(f, sizeLimit+1))
	if err != nil {
		return nil, fmt.Errorf("identity %q: %w", path, err)
	}
	if len(b) > sizeLimit {
		return nil, fmt.Errorf("identity %q: too long for an identity file", path)
	}
	trimmed := bytes.TrimSpace(b)
	switch {
	case bytes.HasPrefix(b, []byte(Magic)) || bytes.HasPrefix(trimmed, []byte("-----BEGIN AGE ENCRYPTED FILE-----")):
		return nil, fmt.Errorf("identity %q is itself encrypted with a passphrase; docker-maim reads identities without a prompt: decrypt it to a file only you can read (age -d -o FILE %s)", path, path)
	case bytes.HasPrefix(trimmed, []byte("-----BEGIN")):
		return loadSSHIdentity(path, trimmed)
	}
	return parseAgeIdentities(path, b)
}

func loadSSHIdentity(path string, pem []byte) ([]age.Identity, error) {
	id, err := agessh.ParseIdentity(pem)
	var pm *ssh.PassphraseMissingError
	if errors.As(err, &pm) {
		return nil, fmt.Errorf("identity %q is an SSH key protected by a passphrase; docker-maim reads identities without a prompt: use an age identity (age-keygen) or an unencrypted copy of the key (ssh-keygen -p -N '' -f COPY)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("identity %q: not a usable SSH private key (ed25519 or RSA): %v", path, err)
	}
	return []age.Identity{id}, nil
}

func parseAgeIdentities(path string, b []byte) ([]age.Identity, error) {
	var ids []age.Identity
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 8<<10), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var id age.Identity
		var err error
		switch {
		case strings.HasPrefix(line, "AGE-SECRET-KEY-PQ-1"):
			id, err = age.ParseHybridIdentity(line)
		case strings.HasPrefix(line, "AGE-SECRET-KEY-1"):
			id, err = age.ParseX25519Identity(line)
		case strings.HasPrefix(line, "AGE-PLUGIN-"):
			err = errors.New("age plugin identities are not supported")
		case strings.HasPrefix(line, "age1") || strings.HasPrefix(line, "ssh-"):
			err = errors.New("a public key (a recipient) where an identity (secret key) belongs")
		default:
			err = errors.New("not an age identity (AGE-SECRET-KEY-1...) or SSH private key")
		}
		if err != nil {
			return nil, fmt.Errorf("identity %q line %d: %v", path, n, err)
		}
		ids = append(ids, id)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("identity %q: %v", path, err)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("identity %q holds no identities", path)
	}
	return ids, nil
}
