package composemerge

import (
	"encoding/json"
	"strings"
	"testing"
)

// A user's compose file with secrets under keys that do not look secret, and the release's
// file without them (test values, none of them live).
const (
	rGitHubPAT = "ghp_R8xK2mQ7vL4nP9sT1wY6zB3cD5fG0hJ2kM4n"
	rFinePAT   = "github_pat_11ABCDEFG0aBcDeFgHiJkL_mNoPqRsTuVwXyZ0123456789abcdefghij"
	rOpenAI    = "sk-proj-Q9wE8rT7yU6iO5pA4sD3fG2hJ1kL0zXc"
	rSlack     = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
	rAWS       = "AKIAIOSFODNN7EXAMPLE"
	rJWT       = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	rURLPass   = "pg-pass-7f3a9c"
	rPEMLine1  = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
	rPEMLine2  = "QyNTUxOQAAACBpZWxsb3ctc3VibWFyaW5lLWtleS1saW5lLXR3bw=="

	secretUser = `services:
  app:
    image: example/app:1.0.0
    command: ["serve", "--password=cmd-pass-1", "-p", "cmd-pass-2"]
    entrypoint: /run.sh --token cmd-tok-3 --port 8080
    environment:
      TZ: UTC
      GITHUB_PAT: ` + rGitHubPAT + `
      DATABASE_URL: postgres://app:` + rURLPass + `@db:5432/app
      OPENAI: "` + rOpenAI + `"
      GH_FINE: ` + rFinePAT + `
    labels:
      - chat.slack=` + rSlack + `
      - aws.id=` + rAWS + `
      - id.jwt=` + rJWT + `
      - traefik.http.middlewares.auth.basicauth.users=admin:apr1-hash-9
    ports:
      - "8081:80"
    x-identity: |
      -----BEGIN OPENSSH PRIVATE KEY-----
      ` + rPEMLine1 + `
      ` + rPEMLine2 + `
      -----END OPENSSH PRIVATE KEY-----
x-deploy:
  identity: |
    -----BEGIN RSA PRIVATE KEY-----
    ` + rPEMLine2 + `
    -----END RSA PRIVATE KEY-----
`
	secretUpstream = `services:
  app:
    image: example/app:2.0.0
    command: ["serve"]
    entrypoint: /run.sh
    environment:
      TZ: UTC
    labels:
      - chat.slack=none
      - aws.id=none
      - id.jwt=none
      - traefik.http.middlewares.auth.basicauth.users=none
    ports:
      - "8080:80"
x-deploy:
  identity: none
`
)

var allSecrets = []string{rGitHubPAT, rFinePAT, rOpenAI, rSlack, rAWS, rJWT[:40], rURLPass, rPEMLine1, rPEMLine2,
	"cmd-pass-1", "cmd-pass-2", "cmd-tok-3", "apr1-hash-9"}

func wantNone(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range allSecrets {
		if strings.Contains(out, s) {
			t.Errorf("%s shows the secret %q:\n%s", what, s, out)
		}
	}
}

// TestDiffRedactsSecretsByValue: the diff of an adoption never shows a secret, whatever key
// it is under: a token by its shape (GitHub, OpenAI, Slack, AWS, JWT), a URL's password, every
// line of a private key in a block scalar, the argument after a secret-looking flag of a
// command. Ordinary values (the image tag, a port) still show; --show-secrets shows all.
func TestDiffRedactsSecretsByValue(t *testing.T) {
	for _, d := range []string{Diff("compose.yaml", []byte(secretUser), []byte(secretUpstream), false), Diff("compose.yaml", []byte(secretUpstream), []byte(secretUser), false)} {
		wantNone(t, "the diff", d)
		for _, want := range []string{"image: example/app:", `"8081:80"`, "--port 8080", "<redacted: changed>"} {
			if !strings.Contains(d, want) {
				t.Errorf("the diff lacks %q:\n%s", want, d)
			}
		}
	}
	d := Diff("compose.yaml", []byte(secretUser), []byte(secretUpstream), false)
	for _, line := range []string{
		"-    image: example/app:1.0.0", "+    image: example/app:2.0.0",
		`-    command: ["serve", "--password=<redacted: changed>", "-p", <redacted: changed>]`,
		"-    entrypoint: /run.sh --token <redacted: changed> --port 8080",
		"-      GITHUB_PAT: <redacted: changed>",
		"-      DATABASE_URL: <redacted: changed>",
		"-      - chat.slack=<redacted: changed>",
		"-      - \"8081:80\"", "+      - \"8080:80\"",
	} {
		if !strings.Contains(d, line+"\n") {
			t.Errorf("the diff has no line %q:\n%s", line, d)
		}
	}
	shown := Diff("compose.yaml", []byte(secretUser), []byte(secretUpstream), true)
	for _, s := range allSecrets {
		if !strings.Contains(shown, s) {
			t.Errorf("with showSecrets the diff does not show %q:\n%s", s, shown)
		}
	}
}

// TestReportRedactsSecretsByValue: the merge's report (its text and JSON in the plan) never
// shows a secret the diff hides.
func TestReportRedactsSecretsByValue(t *testing.T) {
	for _, base := range [][]byte{nil, []byte(secretUpstream)} {
		_, rep, err := MergeWith(base, []byte(secretUser), []byte(secretUpstream), Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(rep)
		wantNone(t, "the report", string(b))
		if !strings.Contains(string(b), "8081:80") || !strings.Contains(string(b), "example/app:") {
			t.Errorf("the report lost an ordinary value: %s", b)
		}
		_, rep, _ = MergeWith(base, []byte(secretUser), []byte(secretUpstream), Options{ShowSecrets: true})
		if b, _ := json.Marshal(rep); !strings.Contains(string(b), rGitHubPAT) {
			t.Errorf("with ShowSecrets the report does not show the token: %s", b)
		}
	}
}
