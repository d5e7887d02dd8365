package redact

import (
	"strings"
	"testing"
)

// Secrets of the shapes a compose file or a config may carry under a key that does not
// look secret (test values, none of them live).
const (
	GitHubPAT  = "ghp_R8xK2mQ7vL4nP9sT1wY6zB3cD5fG0hJ2kM4n"
	GitHubFine = "github_pat_11ABCDEFG0aBcDeFgHiJkL_mNoPqRsTuVwXyZ0123456789abcdefghij"
	OpenAI     = "sk-proj-Q9wE8rT7yU6iO5pA4sD3fG2hJ1kL0zXc"
	Slack      = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
	AWSKeyID   = "AKIAIOSFODNN7EXAMPLE"
	JWT        = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	URLPass    = "pg-pass-7f3a9c"
	PEMBody    = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
	PEM        = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + PEMBody + "\n-----END OPENSSH PRIVATE KEY-----\n"
)

func TestKey(t *testing.T) {
	for key, want := range map[string]bool{
		"api_key": true, "apiKey": true, "DB_PASSWORD": true, "auth_token": true, "client_secret": true,
		"keywords": false, "max_tokens": false, "tokenizer": false, "nickname": false, "base_url": false,
		"GITHUB_PAT": false, // by its value, not its name: see TestFind
	} {
		if got := Key(key); got != want {
			t.Errorf("Key(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestFind(t *testing.T) {
	for _, c := range []struct {
		in     string
		secret []string // the parts Text must hide
		shown  []string // the parts it must keep
	}{
		{GitHubPAT, []string{GitHubPAT}, nil},
		{"ghp_short1234", []string{"short1234"}, nil}, // a token of the shape, too short for the detector
		{GitHubFine, []string{GitHubFine}, nil},
		{OpenAI, []string{OpenAI}, nil},
		{Slack, []string{Slack}, nil},
		{"xoxp-abcdefgh", []string{"abcdefgh"}, nil},
		{AWSKeyID, []string{AWSKeyID}, nil},
		{JWT, []string{JWT[:30], JWT[40:]}, nil},
		{"postgres://app:" + URLPass + "@db:5432/app", []string{URLPass}, nil},
		{PEM, []string{PEMBody}, nil},
		{"GITHUB_PAT=" + GitHubPAT, []string{GitHubPAT}, []string{"GITHUB_PAT="}},
		{"DB_PASSWORD=hunter2", []string{"hunter2"}, []string{"DB_PASSWORD="}},
		{"serve --password=cmd-pass-1 --port 8080", []string{"cmd-pass-1"}, []string{"serve --password=", "--port 8080"}},
		{"/run.sh --token cmd-tok-3 --port 8080", []string{"cmd-tok-3"}, []string{"/run.sh --token ", " --port 8080"}},
		{"mysqladmin ping -uroot -pcmd-pass-4", []string{"cmd-pass-4"}, []string{"mysqladmin ping -uroot -p"}},
		{"mysql -p cmd-pass-5 app", []string{"cmd-pass-5"}, []string{"mysql -p ", " app"}},
		{"[serve, --api-key, cmd-key-6]", []string{"cmd-key-6"}, []string{"[serve, --api-key, "}},
		{"{DB_PASSWORD: cmd-pass-7, TZ: UTC}", []string{"cmd-pass-7"}, []string{"TZ: UTC"}},
		// secret-detector's basic and bearer auth checks panic on a parameter that decodes to
		// one byte: the value is then hidden whole, and the plan is still printed.
		{"Authorization: Basic ab==", []string{"ab=="}, nil},
		{"Bearer ab==", []string{"ab=="}, nil},
		{"Authorization: Basic dXNlcjpwYXNz", []string{"dXNlcjpwYXNz"}, nil},
		// Ordinary values stay.
		{"a basic example", nil, []string{"a basic example"}},
		{"example/app:2.0.0", nil, []string{"example/app:2.0.0"}},
		{"8080:80", nil, []string{"8080:80"}},
		{"sk-SK", nil, []string{"sk-SK"}},
		{"task-1234567890abcdefghij", nil, []string{"task-1234567890abcdefghij"}},
		{"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", nil, []string{"sha256:9f86d0"}},
		{"https://example.com/path?q=1", nil, []string{"https://example.com/path?q=1"}},
	} {
		got := Text(c.in)
		for _, s := range c.secret {
			if strings.Contains(got, s) {
				t.Errorf("Text(%q) = %q shows %q", c.in, got, s)
			}
		}
		for _, s := range c.shown {
			if !strings.Contains(got, s) {
				t.Errorf("Text(%q) = %q lost %q", c.in, got, s)
			}
		}
		if len(c.secret) > 0 && !strings.Contains(got, Redacted) {
			t.Errorf("Text(%q) = %q: no %s", c.in, got, Redacted)
		}
		if len(c.secret) == 0 && got != c.in {
			t.Errorf("Text(%q) = %q, want it unchanged", c.in, got)
		}
	}
}

// TestFlagTakesSecret: in a list of arguments (compose's command: [...]) the item after a
// secret-looking flag is secret.
func TestFlagTakesSecret(t *testing.T) {
	for arg, want := range map[string]bool{
		"--password": true, "-p": true, "--api-key": true, "-token": true, "--auth": true,
		"--port": false, "-P": false, "--name": false, "serve": false, "--password=x": false, "": false,
	} {
		if got := FlagTakesSecret(arg); got != want {
			t.Errorf("FlagTakesSecret(%q) = %v, want %v", arg, got, want)
		}
	}
}

// FuzzFind: Find never panics, and its ranges are in bounds, sorted and apart.
func FuzzFind(f *testing.F) {
	for _, s := range []string{GitHubPAT, JWT, PEM, "Basic ab==", "-p", "--password=", "a: b", "KEY=", "x://u:p@h", "-----BEGIN PRIVATE KEY-----"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		prev := -1
		for _, r := range Find(s) {
			if r[0] <= prev || r[0] >= r[1] || r[1] > len(s) {
				t.Fatalf("Find(%q) = %v", s, Find(s))
			}
			prev = r[1]
		}
	})
}
