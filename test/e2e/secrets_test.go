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
