package crypt

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"
)

// Recipients are the public keys archives are sealed to, as ParseRecipients returns them.
// Each element is a *Recipient, which knows the public form it was parsed from.
type Recipients = []age.Recipient

// Recipient is one parsed recipient with its public description.
type Recipient struct {
	age.Recipient
	// Public is what may be recorded about it (in a manifest, in output): an age key as
	// it is ("age1..."), an SSH key as its type and SHA-256 fingerprint
	// ("ssh-ed25519 SHA256:..."). Never secret.
	Public string
}

// WrapWithLabels passes the labels of a recipient that has them (the post-quantum hybrid
// keys), so age still refuses to mix them with classic ones.
func (r *Recipient) WrapWithLabels(fileKey []byte) ([]*age.Stanza, []string, error) {
	if l, ok := r.Recipient.(age.RecipientWithLabels); ok {
		return l.WrapWithLabels(fileKey)
	}
	s, err := r.Recipient.Wrap(fileKey)
	return s, nil, err
}

// String is the public description.
func (r *Recipient) String() string { return r.Public }

// SplitSpecs splits a list of recipients as MAIM_AGE_RECIPIENTS holds it: separated by
// commas, spaces or newlines. An SSH key's "TYPE BASE64 [comment]" stays one spec (its
// comment is dropped).
func SplitSpecs(s string) []string {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	var out []string
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if sshType(f) && i+1 < len(fields) {
			f += " " + fields[i+1]
			i++
			// a comment after the key, up to the next spec
			for i+1 < len(fields) && !looksLikeSpec(fields[i+1]) {
				i++
			}
		}
		out = append(out, f)
	}
	return out
}

func looksLikeSpec(f string) bool {
	return strings.HasPrefix(f, "age1") || sshType(f) || strings.HasPrefix(f, "@") ||
		strings.HasPrefix(f, "/") || strings.HasPrefix(f, "./") || strings.HasPrefix(f, "~")
}

// sshType tells a spec that starts as an authorized_keys line does (ssh-ed25519,
// ssh-rsa, and the kinds age cannot seal to: ecdsa-sha2-*, sk-*).
func sshType(s string) bool {
	return strings.HasPrefix(s, "ssh-") || strings.HasPrefix(s, "ecdsa-") || strings.HasPrefix(s, "sk-")
}

// ParseRecipients parses each spec: an age public key ("age1..." X25519, "age1pq1..."
// hybrid), an SSH public key ("ssh-ed25519 AAAA...", "ssh-rsa AAAA..." of 2048 bits or
// more, as in authorized_keys), or a recipients file as `age -R` reads it ("@FILE", or a
// path to an existing file: one recipient a line, "#" comments and blank lines skipped).
// It fails on an unknown or malformed spec, never echoing a line of a file (a file named
// by mistake may hold secrets), and on an identity given where a recipient belongs.
func ParseRecipients(specs []string) (Recipients, error) {
	var out Recipients
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		if name, ok := recipientsFile(spec); ok {
			rs, err := parseRecipientsFile(name)
			if err != nil {
				return nil, err
			}
			out = append(out, rs...)
			continue
		}
		r, err := parseRecipient(spec)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// recipientsFile tells a spec that names a file: "@FILE", or a path to a file.
func recipientsFile(spec string) (string, bool) {
	if name, ok := strings.CutPrefix(spec, "@"); ok {
		return name, true
	}
	if strings.HasPrefix(spec, "age1") || sshType(spec) {
		return "", false
	}
	if fi, err := os.Stat(spec); err == nil && fi.Mode().IsRegular() {
		return spec, true
	}
	return "", false
}

func parseRecipient(spec string) (*Recipient, error) {
	switch {
	case strings.HasPrefix(spec, "AGE-SECRET-KEY-"):
		return nil, errors.New("encrypt-to: an age identity (secret key) was given where a recipient (its public key, age1...) belongs; age-keygen -y FILE prints the public key")
	case strings.HasPrefix(spec, "age1pq1"):
		r, err := age.ParseHybridRecipient(spec)
		if err != nil {
			return nil, fmt.Errorf("encrypt-to: %v", err)
		}
		return &Recipient{Recipient: r, Public: r.String()}, nil
	case strings.HasPrefix(spec, "age1") && strings.Count(spec, "1") > 1:
		return nil, fmt.Errorf("encrypt-to: %q looks like an age plugin recipient; plugins are not supported", short(spec))
	case strings.HasPrefix(spec, "age1"):
		r, err := age.ParseX25519Recipient(spec)
		if err != nil {
			return nil, fmt.Errorf("encrypt-to: %v", err)
		}
		return &Recipient{Recipient: r, Public: r.String()}, nil
	case sshType(spec):
		return parseSSHRecipient(spec)
	}
	return nil, fmt.Errorf("encrypt-to: %q is neither an age public key (age1...), an SSH public key (ssh-ed25519, ssh-rsa) nor a recipients file", short(spec))
}

func parseSSHRecipient(spec string) (*Recipient, error) {
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(spec))
	if err != nil {
		return nil, fmt.Errorf("encrypt-to: malformed SSH public key %q: %v", short(spec), err)
	}
	r, err := agessh.ParseRecipient(spec)
	if err != nil {
		return nil, fmt.Errorf("encrypt-to: %s keys are not supported (use ssh-ed25519, ssh-rsa or an age key): %v", pk.Type(), err)
	}
	return &Recipient{Recipient: r, Public: pk.Type() + " " + ssh.FingerprintSHA256(pk)}, nil
}

// short cuts a spec for an error message.
func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// parseRecipientsFile reads a recipients file as `age -R` does.
func parseRecipientsFile(name string) (Recipients, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("encrypt-to: recipients file: %w", err)
	}
	defer f.Close()
	const sizeLimit = 16 << 20
	lr := &io.LimitedReader{R: f, N: sizeLimit + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 8<<10), 64<<10)
	var out Recipients
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("encrypt-to: %q is not valid UTF-8", name)
		}
		r, err := parseRecipient(line)
		if err != nil {
			if strings.HasPrefix(line, "AGE-") || strings.Contains(line, "PRIVATE KEY") {
				return nil, fmt.Errorf("encrypt-to: %q line %d: an identity (secret key) in a recipients file", name, n)
			}
			return nil, fmt.Errorf("encrypt-to: %q line %d: not a supported recipient", name, n)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("encrypt-to: %q: %v", name, err)
	}
	if lr.N == 0 {
		return nil, fmt.Errorf("encrypt-to: %q is too long for a recipients file", name)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("encrypt-to: %q holds no recipients", name)
	}
	return out, nil
}

// Describe lists what may be recorded about each recipient: its public key or an SSH
// key's fingerprint (Recipient.Public); a recipient not made by ParseRecipients shows
// its Go type.
func Describe(rcpts []age.Recipient) []string {
	out := make([]string, 0, len(rcpts))
	for _, r := range rcpts {
		switch x := r.(type) {
		case *Recipient:
			out = append(out, x.Public)
		case fmt.Stringer:
			out = append(out, x.String())
		default:
			out = append(out, fmt.Sprintf("%T", r))
		}
	}
	return out
}
