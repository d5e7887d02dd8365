package config

import (
	"strings"
	"testing"
)

func TestSecretKey(t *testing.T) {
	for key, want := range map[string]bool{
		"api_key": true, "apiKey": true, "API_KEY": true, "ApiKey": true, "APIKey": true, "apikey": true,
		"SILICONFLOW_KEY": true, "siliconflowkey": true, "auth_token": true, "authToken": true, "password": true,
		"DB_PASSWORD": true, "db_pass": true, "passwd": true, "PWD": true, "client_secret": true, "secrets": true,
		"access_key": true, "private_key": true, "credentials": true, "auth": true, "Cookie": true,
		"session": true, "SESSION_ID": true, "salt": true, "key_file": true, "api_providers.api_key": true,
		"secrets.openai": true,
		"keywords":       false, "keyword_rules": false, "max_tokens": false, "tokenizer": false, "nickname": false,
		"base_url": false, "private_plan_style": false, "monkeys": false, "passage": false, "": false,
		"inner.version": false, "qq_account": false, "author": false,
	} {
		if got := SecretKey(key); got != want {
			t.Errorf("SecretKey(%q) = %v, want %v", key, got, want)
		}
	}
}

// maibotModelConfig is a user's model_config.toml from the 0.10 template with real-looking keys.
func maibotModelConfig(t *testing.T) (string, []string) {
	t.Helper()
	s := string(readTemplate(t, "0.10.0-alpha", "model_config_template.toml"))
	var keys []string
	for i, placeholder := range []string{"your-api-key-here", "your-siliconflow-api-key", "your-google-api-key-1"} {
		key := "sk-user-secret-" + string(rune('a'+i)) + "9f3c2b"
		if !strings.Contains(s, `"`+placeholder+`"`) {
			t.Fatalf("the 0.10 template has no %q", placeholder)
		}
		s = strings.Replace(s, `"`+placeholder+`"`, `"`+key+`"`, 1)
		keys = append(keys, key)
	}
	return s, keys
}

func wantNoSecrets(t *testing.T, what, diff string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(diff, s) {
			t.Errorf("%s shows the secret %q:\n%s", what, s, diff)
		}
	}
}

func TestDiffRedactsMaiBotModelConfig(t *testing.T) {
	cur, keys := maibotModelConfig(t)
	tmpl := readTemplate(t, "0.11.0-beta", "model_config_template.toml")
	merged, _, err := Merge(tmpl, []byte(cur), Options{Format: TOML, VersionKeys: []string{maibotVersionKey}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(merged), keys[0]) {
		t.Fatalf("the merge did not carry the user's key over")
	}
	d := Diff("f", []byte(cur), merged, TOML, false)
	if d == "" {
		t.Fatal("no diff between the 0.10 config and its 0.11 merge")
	}
	wantNoSecrets(t, "the merge diff", d, keys...)

	// Back to the template (as a reset would): every key line changes, each is shown
	// redacted and marked changed; nothing else is hidden.
	d = Diff("f", []byte(cur), tmpl, TOML, false)
	wantNoSecrets(t, "the diff to the template", d, keys...)
	if n := strings.Count(d, "-api_key = <redacted: changed>"); n != 3 {
		t.Errorf("%d redacted old api_key lines, want 3:\n%s", n, d)
	}
	if n := strings.Count(d, "+api_key = <redacted: changed>"); n < 3 {
		t.Errorf("%d redacted new api_key lines, want at least 3:\n%s", n, d)
	}
	if !strings.Contains(d, `base_url = "https://`) {
		t.Errorf("a value that is not secret was hidden:\n%s", d)
	}
	shown := Diff("f", []byte(cur), tmpl, TOML, true)
	for _, k := range keys {
		if !strings.Contains(shown, `-api_key = "`+k+`"`) {
			t.Errorf("with showSecrets the diff does not show %s:\n%s", k, shown)
		}
	}
	if strings.Contains(shown, Redacted[:9]) {
		t.Errorf("with showSecrets the diff still redacts:\n%s", shown)
	}
}

func TestDiffRedactsMaiBotBotConfigTokens(t *testing.T) {
	cur := userBotConfig(t, "0.10.0-alpha")
	cur = strings.Replace(cur, `"tok-2"]`, `"tok-2", "tok-secret-xyz"]`, 1)
	d := Diff("f", []byte(cur), readTemplate(t, "0.11.0-beta", "bot_config_template.toml"), TOML, false)
	wantNoSecrets(t, "the bot_config diff", d, "tok-1", "tok-2", "tok-secret-xyz")
	if !strings.Contains(d, "-auth_token = [<redacted: changed>, <redacted: changed>, <redacted: changed>]") {
		t.Errorf("the auth_token line is not shown redacted:\n%s", d)
	}
	if !strings.Contains(d, "小麦") { // the nickname is no secret
		t.Errorf("the nickname change is not shown:\n%s", d)
	}
}

func TestDiffRedactsEveryDotenvValue(t *testing.T) {
	cur := "# keys\nSILICONFLOW_KEY=sk-silicon-111\nHOST=10.1.2.3 # mine\nDEEP_SEEK_KEY='sk-deep-222'\nMULTI=\"line one\nline two-333\"\n"
	merged := "# keys\nSILICONFLOW_KEY=sk-silicon-111\nHOST=10.1.2.3 # the host\nPORT=8000\nMULTI=\"line one\nline two-444\"\nDEEP_SEEK_KEY='sk-deep-222'\n"
	d := Diff("f", []byte(cur), []byte(merged), Dotenv, false)
	wantNoSecrets(t, "the .env diff", d, "sk-silicon", "10.1.2.3", "sk-deep", "8000", "333", "444", "line")
	for _, line := range []string{
		"-HOST=<redacted: unchanged>", "+HOST=<redacted: unchanged>", // only its comment changed
		"+PORT=<redacted: changed>",                                // new
		"-MULTI=<redacted: changed>", "+MULTI=<redacted: changed>", // moved, and its value changed
		"-<redacted: changed>", "+<redacted: changed>", // MULTI's second line
		" SILICONFLOW_KEY=<redacted: unchanged>", // context, redacted too
		" DEEP_SEEK_KEY=<redacted: unchanged>",   // context: MULTI moved around it
	} {
		if !strings.Contains(d, "\n"+line+"\n") {
			t.Errorf("the .env diff has no line %q:\n%s", line, d)
		}
	}
	if strings.Contains(d, "-SILICONFLOW_KEY") || strings.Contains(d, "+SILICONFLOW_KEY") {
		t.Errorf("an unchanged line is shown changed:\n%s", d)
	}
	if shown := Diff("f", []byte(cur), []byte(merged), Dotenv, true); !strings.Contains(shown, "+PORT=8000\n") {
		t.Errorf("with showSecrets: %s", shown)
	}
}

func TestDiffRedactsYAMLAndJSON(t *testing.T) {
	for _, c := range []struct {
		f           Format
		a, b        string
		secrets     []string
		want, shown []string
	}{
		{YAML,
			"db:\n  url: postgres://app:pw-in-url@db/app\n  apiKey: sk-yaml-1 # mine\n  token: |\n    tok-line-1\n    tok-line-2\n  creds:\n    - cred-a\n  port: 5432\n",
			"db:\n  url: postgres://app:pw-in-url@db/app2\n  apiKey: sk-yaml-2 # mine\n  token: |\n    tok-line-1\n    tok-line-3\n  creds:\n    - cred-b\n  port: 5433\n",
			[]string{"pw-in-url", "sk-yaml", "tok-line", "cred-"},
			[]string{"-  url: <redacted: changed>", "+  apiKey: <redacted: changed> # mine", "+<redacted: changed>", "+    - <redacted: changed>", "+  port: 5433"},
			[]string{"+  apiKey: sk-yaml-2 # mine", "+    tok-line-3"}},
		{JSON,
			"{\n  \"api_key\": \"sk-json-1\",\n  \"auth\": {\"user\": \"u-1\", \"n\": 1},\n  \"n\": 1\n}\n",
			"{\n  \"api_key\": \"sk-json-1\",\n  \"auth\": {\"user\": \"u-2\", \"n\": 1},\n  \"n\": 2\n}\n",
			[]string{"sk-json", "u-1", "u-2"},
			[]string{`-  "auth": {"user": <redacted: changed>, "n": <redacted: unchanged>},`, `+  "n": 2`},
			[]string{`+  "auth": {"user": "u-2", "n": 1},`}},
	} {
		d := Diff("f", []byte(c.a), []byte(c.b), c.f, false)
		wantNoSecrets(t, string(c.f)+" diff", d, c.secrets...)
		for _, l := range c.want {
			if !strings.Contains(d, l+"\n") {
				t.Errorf("%s diff has no line %q:\n%s", c.f, l, d)
			}
		}
		shown := Diff("f", []byte(c.a), []byte(c.b), c.f, true)
		for _, l := range c.shown {
			if !strings.Contains(shown, l+"\n") {
				t.Errorf("%s diff with secrets has no line %q:\n%s", c.f, l, shown)
			}
		}
	}
}

func TestDiffRedactsUnparsableAndMultiline(t *testing.T) {
	// A TOML multi-line string under a secret key: each of its lines is redacted.
	a := "private_key = '''\n-----BEGIN KEY-----\nAAAA\n-----END KEY-----'''\nname = \"x\"\n"
	b := "private_key = '''\n-----BEGIN KEY-----\nBBBB\n-----END KEY-----'''\nname = \"y\"\n"
	d := Diff("f", []byte(a), []byte(b), TOML, false)
	wantNoSecrets(t, "multi-line secret", d, "AAAA", "BBBB")
	// The context lines are redacted too (as the old file has them).
	if want := "--- a/f\n+++ b/f\n@@ -1,5 +1,5 @@\n private_key = <redacted: changed>\n <redacted: changed>\n" +
		"-<redacted: changed>\n+<redacted: changed>\n <redacted: changed>\n-name = \"x\"\n+name = \"y\"\n"; d != want {
		t.Errorf("diff %q, want %q", d, want)
	}
	// YAML: a value's continuation lines are those indented deeper than its key, not
	// the next key of the same mapping in a sequence. The note (no secret) is shown as
	// context, as it is.
	a = "items:\n  - token: tok-aaa\n    name: one\n    note: >\n      folded tok-bbb\n      more\n  - name: two\n"
	b = "items:\n  - token: tok-ccc\n    name: uno\n    note: >\n      folded tok-bbb\n      more\n  - name: two\n"
	d = Diff("f", []byte(a), []byte(b), YAML, false)
	wantNoSecrets(t, "YAML sequence of mappings", d, "tok-aaa", "tok-ccc")
	if want := "--- a/f\n+++ b/f\n@@ -1,6 +1,6 @@\n items:\n-  - token: <redacted: changed>\n-    name: one\n" +
		"+  - token: <redacted: changed>\n+    name: uno\n     note: >\n       folded tok-bbb\n       more\n"; d != want {
		t.Errorf("diff %q, want %q", d, want)
	}
	// A file that does not parse shows no line of itself.
	d = Diff("f", []byte("api_key = \"sk-broken\n"), []byte("api_key = \"sk-other\"\n"), TOML, false)
	wantNoSecrets(t, "unparsable file", d, "sk-broken", "sk-other")
}

// TestDiffLines: the diff is a unified diff, byte for byte what GNU `diff -u --label a/f
// --label b/f` prints for the same two files (checked with diffutils 3.10): headers,
// hunk ranges (-0,0 for an empty side), three lines of context, and "\ No newline at
// end of file" after a last line without one.
func TestDiffLines(t *testing.T) {
	if d := Diff("f", []byte("a\nb\n"), []byte("a\nb\n"), TOML, false); d != "" {
		t.Errorf("equal: %q", d)
	}
	const h, nonl = "--- a/f\n+++ b/f\n", "\\ No newline at end of file\n"
	for _, c := range []struct{ a, b, want string }{
		{"a\nb\nc", "a\nB\nc", h + "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n" + nonl},
		{"a\nc", "a\nb\nc", h + "@@ -1,2 +1,3 @@\n a\n+b\n c\n" + nonl},
		{"a\nb\nc", "a\nc", h + "@@ -1,3 +1,2 @@\n a\n-b\n c\n" + nonl},
		{"", "x", h + "@@ -0,0 +1 @@\n+x\n" + nonl},
		{"a", "a\nb", h + "@@ -1 +1,2 @@\n-a\n" + nonl + "+a\n+b\n" + nonl},
		{"a\nb", "a", h + "@@ -1,2 +1 @@\n-a\n-b\n" + nonl + "+a\n" + nonl},
		{"x\na", "a", h + "@@ -1,2 +1 @@\n-x\n a\n" + nonl},
		{"a\nb\nc\nd", "a\nX\nc\nY", h + "@@ -1,4 +1,4 @@\n a\n-b\n+X\n c\n-d\n" + nonl + "+Y\n" + nonl},
		{"k = 1\n[s]\nv = 2\n", "k = 1\n[s]\nv = 3\nw = 4\n", h + "@@ -1,3 +1,4 @@\n k = 1\n [s]\n-v = 2\n+v = 3\n+w = 4\n"},
	} {
		if got := Diff("f", []byte(c.a), []byte(c.b), TOML, true); got != c.want {
			t.Errorf("Diff(%q, %q) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}

// TestDiffEmptyYAML: an empty YAML file (a compose file emptied by hand) diffs like any
// other; finding its secrets dereferenced the document it does not have.
func TestDiffEmptyYAML(t *testing.T) {
	if d := Diff("compose.yaml", []byte(""), []byte("a: 1\n"), YAML, false); d != "--- a/compose.yaml\n+++ b/compose.yaml\n@@ -0,0 +1 @@\n+a: 1\n" {
		t.Errorf("diff %q", d)
	}
	if d := Diff("compose.yaml", []byte("token: tok-x\n"), []byte(""), YAML, false); d != "--- a/compose.yaml\n+++ b/compose.yaml\n@@ -1 +0,0 @@\n-token: <redacted: changed>\n" {
		t.Errorf("diff %q", d)
	}
}
