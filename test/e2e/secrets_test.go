package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestUpgradePlanRedactsSecrets: the config diffs of `upgrade --dry-run` (text and
// --format json) and of a refused upgrade never show an API key of bot_config.toml nor any
// value of a merged .env file; they say <redacted: changed> or <redacted: unchanged>
// instead. --show-secrets shows them. Today's code printed every value.
func TestUpgradePlanRedactsSecrets(t *testing.T) {
	t.Parallel()
	const apiKey, envKey, envHost = "sk-e2e-9f3c2b71d0a4", "sk-env-5e6f7a8b", "10.9.8.7"
	bp := makeBotProject(t, "secrets", "")
	// The user's config holds an API key that 2.0.0's template no longer has (the diff
	// removes its line), and a .env merged from a host template.
	bp.WriteFile("config/bot_config.toml", strings.Replace(userConfig, "[bot]\n", "[bot]\napi_key = \""+apiKey+"\"\n", 1))
	bp.WriteFile("config/bot.env", "OPENAI_KEY="+envKey+"\nHOST="+envHost+" # mine\n")
	bp.WriteFile("tpl/template.env", "OPENAI_KEY=\nHOST=127.0.0.1 # the host\nPORT=8000\n")
	compose := fmt.Sprintf(botUpgradeCompose, bp.repo)
	compose = strings.Replace(compose, "      version_key: inner.version\n",
		"      version_key: inner.version\n    - file: ./config/bot.env\n      template: {host_path: ./tpl/template.env}\n", 1)
	bp.WriteCompose(compose)
	bp.start()
	bp.setEnv("BOT_VERSION", "2.0.0")

	noSecrets := func(what string, r Result) {
		t.Helper()
		for _, s := range []string{apiKey, envKey, envHost} {
			if strings.Contains(r.Stdout, s) || strings.Contains(r.Stderr, s) {
				t.Errorf("%s shows the secret %q:\n%s", what, s, r)
			}
		}
	}
	r := mustOK(t, bp.maim("upgrade", "--dry-run"))
	noSecrets("upgrade --dry-run", r)
	for _, want := range []string{"-api_key = <redacted: changed>", "+PORT=<redacted: changed>", "+platform = \"qq\""} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("upgrade --dry-run does not show %q:\n%s", want, r)
		}
	}

	// A refused upgrade (breaking, no --accept-breaking) prints the plan: redacted too.
	r = bp.maim("upgrade")
	noSecrets("a refused upgrade", r)
	wantFail(t, r, 12, "breaking")

	diffs := func(args ...string) string {
		t.Helper()
		r := mustOK(t, bp.maim(append([]string{"upgrade", "--dry-run", "--format", "json"}, args...)...))
		var res struct {
			Plan struct {
				Merges []struct {
					File string `json:"file"`
					Diff string `json:"diff"`
				} `json:"config_merges"`
			} `json:"plan"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
			t.Fatalf("--format json: %v\n%s", err, r)
		}
		if len(res.Plan.Merges) != 2 {
			t.Fatalf("want 2 config merges (bot_config.toml, bot.env): %+v", res.Plan.Merges)
		}
		if len(args) == 0 {
			noSecrets("upgrade --dry-run --format json", r)
		}
		return res.Plan.Merges[0].Diff + res.Plan.Merges[1].Diff
	}
	if d := diffs(); !strings.Contains(d, "-api_key = <redacted: changed>") || !strings.Contains(d, "+PORT=<redacted: changed>") {
		t.Errorf("the JSON diffs are not redacted as expected:\n%s", d)
	}
	if d := diffs("--show-secrets"); !strings.Contains(d, `-api_key = "`+apiKey+`"`) || !strings.Contains(d, "+PORT=8000") {
		t.Errorf("--show-secrets does not show the values:\n%s", d)
	}
}

// Secrets of the shapes a compose file may carry under keys that do not look secret (test
// values, none of them live).
const (
	adoptGitHubPAT = "ghp_R8xK2mQ7vL4nP9sT1wY6zB3cD5fG0hJ2kM4n"
	adoptFinePAT   = "github_pat_11ABCDEFG0aBcDeFgHiJkL_mNoPqRsTuVwXyZ0123456789abcdefghij"
	adoptOpenAI    = "sk-proj-Q9wE8rT7yU6iO5pA4sD3fG2hJ1kL0zXc"
	adoptSlack     = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
	adoptAWS       = "AKIAIOSFODNN7EXAMPLE"
	adoptJWT       = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	adoptURLPass   = "pg-pass-7f3a9c"
	adoptPEMLine   = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"

	// The user's file: the secrets in the running service's environment and in a key of its
	// own, a password in the arguments of a tools service (a profile up does not start).
	adoptSecretUser = `services:
  web:
    image: {{bot:1.0.0}}
    restart: unless-stopped
    environment:
      TZ: UTC
      GITHUB_PAT: ` + adoptGitHubPAT + `
      DATABASE_URL: postgres://app:` + adoptURLPass + `@db:5432/app
      OPENAI: "` + adoptOpenAI + `"
      GH_FINE: ` + adoptFinePAT + `
      SLACK: ` + adoptSlack + `
      AWS_ID: ` + adoptAWS + `
      ID_JWT: ` + adoptJWT + `
    x-identity: |
      -----BEGIN OPENSSH PRIVATE KEY-----
      ` + adoptPEMLine + `
      -----END OPENSSH PRIVATE KEY-----
  tools:
    image: {{bot:1.0.0}}
    profiles: [tools]
    command: ["serve", "--password=cmd-pass-1", "-p", "cmd-pass-2"]
    entrypoint: /run.sh --token cmd-tok-3 --port 8080
`
	// The release's file has none of them: a two-way merge drops the user-only keys, so each
	// secret is on a line of the plan's diff and in a change of its report.
	adoptSecretNew = `services:
  web:
    image: {{bot:2.0.0}}
    restart: unless-stopped
    environment:
      TZ: UTC
  tools:
    image: {{bot:2.0.0}}
    profiles: [tools]
`
)

// TestUpgradeComposeFilePlanRedactsSecrets: the plan of `upgrade --compose-file --dry-run`
// (text and --format json: the compose file's diff and the merge report) shows no byte of a
// secret under a key that does not look secret: tokens by their shape, a URL's password,
// the lines of a private key, a command's password arguments. The image tag and a port in
// the same lines still show; --show-secrets shows the secrets.
func TestUpgradeComposeFilePlanRedactsSecrets(t *testing.T) {
	t.Parallel()
	p := newProject(t, "adopt-secrets", adoptSecretUser)
	p.WriteFile("new.yaml", p.Expand(adoptSecretNew))
	compose(t, p, "up", "-d", "--wait")
	secrets := []string{adoptGitHubPAT, adoptFinePAT, adoptOpenAI, adoptSlack, adoptAWS, adoptJWT[:40], adoptURLPass,
		adoptPEMLine, "cmd-pass-1", "cmd-pass-2", "cmd-tok-3"}
	noSecrets := func(what string, r Result) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(r.Stdout, s) || strings.Contains(r.Stderr, s) {
				t.Errorf("%s shows the secret %q:\n%s", what, s, r)
			}
		}
	}

	r := mustOK(t, p.maim("upgrade", "--dry-run", "--compose-file", "new.yaml"))
	noSecrets("upgrade --compose-file --dry-run", r)
	for _, want := range []string{
		"-      GITHUB_PAT: <redacted: changed>", "-      DATABASE_URL: <redacted: changed>",
		"-    x-identity: <redacted: changed>",
		`-    command: ["serve", "--password=<redacted: changed>", "-p", <redacted: changed>]`,
		"-    entrypoint: /run.sh --token <redacted: changed> --port 8080",
		"+    image: " + p.Bot("2.0.0"),
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("upgrade --compose-file --dry-run does not show %q:\n%s", want, r)
		}
	}

	plan := func(args ...string) (Result, string) {
		t.Helper()
		r := mustOK(t, p.maim(append([]string{"upgrade", "--dry-run", "--format", "json", "--compose-file", "new.yaml"}, args...)...))
		var res struct {
			Plan struct {
				Adoption struct {
					Files []struct {
						Diff   string          `json:"diff"`
						Report json.RawMessage `json:"report"`
					} `json:"files"`
				} `json:"adoption"`
			} `json:"plan"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil || len(res.Plan.Adoption.Files) != 1 {
			t.Fatalf("--format json: %v\n%s", err, r)
		}
		f := res.Plan.Adoption.Files[0]
		return r, f.Diff + string(f.Report)
	}
	r, d := plan()
	noSecrets("upgrade --compose-file --dry-run --format json", r)
	for _, want := range []string{"+    image: " + p.Bot("2.0.0"), "--port 8080", "<redacted: changed>", `"redacted"`} {
		if !strings.Contains(d, want) {
			t.Errorf("the JSON plan's adoption lacks %q:\n%s", want, d)
		}
	}
	if _, d := plan("--show-secrets"); !strings.Contains(d, adoptGitHubPAT) || !strings.Contains(d, "cmd-pass-2") || !strings.Contains(d, adoptPEMLine) {
		t.Errorf("--show-secrets does not show the secrets:\n%s", d)
	}
}
