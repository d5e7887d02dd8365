package config

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

var mbOpts = Options{Format: TOML, VersionKeys: []string{maibotVersionKey}, TemplateName: "template", CurrentName: "bot_config.toml"}

// userBotConfig builds a user's bot_config.toml from an older template: changed
// values (one with the user's own inline comment), edited arrays, a regex list
// with backslashes in basic and literal strings, a multi-line literal string
// and a key no template knows.
func userBotConfig(t *testing.T, old string) string {
	t.Helper()
	doc := readTemplate(t, old, "bot_config_template.toml")
	s := string(doc)
	s = setTOML(t, s, "bot", "nickname", `"小麦 \"Mai\" \\o/ 🎉"`)
	s = setTOML(t, s, "bot", "alias_names", "[\n    \"麦叠\",\n    'C:\\Users\\mai', # 路径\n]")
	s = setTOML(t, s, "chat", "max_context_size", "25 # 我改的：上下文短一点")
	s = setTOML(t, s, "message_receive", "ban_msgs_regex", "[\n    \"https?://[^\\\\s]+\", # 链接\n    '\\d{4}-\\d{2}-\\d{2}',\n    \"\\\\bQQ\\\\d+\\\\b\",\n]")
	s = setTOML(t, s, "message_receive", "ban_words", `["广告", "代练"]`)
	s = setTOML(t, s, "emoji", "max_reg_num", "64")
	s = setTOML(t, s, "log", "date_style", `'%Y-%m-%d \ %H'`)
	s = setTOML(t, s, "maim_message", "auth_token", `["tok-1\\u00e9", "tok-2"]`)
	s = setTOML(t, s, "bot", "my_private_setting", `"only mine"`)
	return s
}

func TestMergeMaiBotBotConfig(t *testing.T) {
	for _, c := range []struct{ old, new string }{
		{"0.8.1-alpha", "0.10.0-alpha"},
		{"0.8.1-alpha", "0.11.0-beta"},
		{"0.10.0-alpha", "0.11.0-beta"},
	} {
		t.Run(c.old+"->"+c.new, func(t *testing.T) {
			cur := userBotConfig(t, c.old)
			tmpl := readTemplate(t, c.new, "bot_config_template.toml")
			out, rep, err := Merge(tmpl, []byte(cur), mbOpts)
			if err != nil {
				t.Fatal(err)
			}
			checkCarried(t, tmpl, []byte(cur), out, mbOpts.VersionKeys, false)

			// The user's texts, byte for byte (no doubled backslashes).
			for _, want := range []string{
				`nickname = "小麦 \"Mai\" \\o/ 🎉"`,
				"ban_msgs_regex = [\n    \"https?://[^\\\\s]+\", # 链接\n    '\\d{4}-\\d{2}-\\d{2}',\n    \"\\\\bQQ\\\\d+\\\\b\",\n]",
				"alias_names = [\n    \"麦叠\",\n    'C:\\Users\\mai', # 路径\n]",
				"max_context_size = 25 # 我改的：上下文短一点\n",
				`date_style = '%Y-%m-%d \ %H'`,
			} {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q", want)
				}
			}
			o := newOracle(t, out)
			if got := o.leaves["message_receive\x00ban_msgs_regex"]; !slices.Equal(toStrings(got), []string{`https?://[^\s]+`, `\d{4}-\d{2}-\d{2}`, `\bQQ\d+\b`}) {
				t.Errorf("regexes decode to %q", got)
			}

			// Template text kept: every comment, header and blank line, in order.
			if a, b := skeleton(tmpl), skeleton(out); a != b {
				t.Errorf("template skeleton changed:\n--- template\n%s\n--- output\n%s", a, b)
			}

			// The version key is the template's, the report says from what.
			tv := newOracle(t, tmpl).leaves["inner\x00version"]
			if got := o.leaves["inner\x00version"]; got != tv {
				t.Errorf("inner.version = %v, want the template's %v", got, tv)
			}
			uv := newOracle(t, []byte(cur)).leaves["inner\x00version"]
			if rep.Version == nil || rep.Version.From != uv || rep.Version.To != tv {
				t.Errorf("report version = %+v, want %v -> %v", rep.Version, uv, tv)
			}

			if !slices.Contains(rep.Removed, "bot.my_private_setting") {
				t.Errorf("removed lacks bot.my_private_setting: %v", rep.Removed)
			}
			if strings.Contains(string(out), "my_private_setting") {
				t.Error("a user-only key was written")
			}
			for _, k := range []string{"bot.nickname", "chat.max_context_size", "message_receive.ban_msgs_regex", "emoji.max_reg_num"} {
				if !slices.Contains(rep.Changed, k) {
					t.Errorf("changed lacks %s: %v", k, rep.Changed)
				}
			}
			// Report lists are exactly the key-set differences.
			to, uo := newOracle(t, tmpl), newOracle(t, []byte(cur))
			for k := range to.leaves {
				dk := strings.ReplaceAll(k, "\x00", ".")
				_, inU := uo.leaves[k]
				if inU == slices.Contains(rep.New, dk) && dk != maibotVersionKey {
					t.Errorf("key %s: in user file %v, but reported new %v", dk, inU, slices.Contains(rep.New, dk))
				}
				if inU && to.class[k] != uo.class[k] && !slices.ContainsFunc(rep.TypeChanged, func(tc TypeChange) bool { return tc.Key == dk }) {
					t.Errorf("key %s changed type (%s -> %s) but is not reported", dk, uo.class[k], to.class[k])
				}
			}
			for k := range uo.leaves {
				dk := strings.ReplaceAll(k, "\x00", ".")
				if _, inT := to.leaves[k]; !inT && !slices.Contains(rep.Removed, dk) {
					t.Errorf("user-only key %s not reported removed", dk)
				}
			}

			// Deterministic and idempotent.
			again, _, err := Merge(tmpl, []byte(cur), mbOpts)
			if err != nil || !bytes.Equal(again, out) {
				t.Errorf("second merge differs (err %v)", err)
			}
			twice, rep2, err := Merge(tmpl, out, mbOpts)
			if err != nil || !bytes.Equal(twice, out) {
				t.Errorf("merging the output again changes it (err %v)", err)
			}
			if len(rep2.New)+len(rep2.Removed)+len(rep2.TypeChanged) != 0 {
				t.Errorf("merging the output again reports differences: %+v", rep2)
			}

			// --keep-unknown keeps the user-only keys, and the result parses.
			kept, krep, err := Merge(tmpl, []byte(cur), Options{Format: TOML, VersionKeys: mbOpts.VersionKeys, KeepUnknown: true})
			if err != nil {
				t.Fatal(err)
			}
			checkCarried(t, tmpl, []byte(cur), kept, mbOpts.VersionKeys, true)
			ko := newOracle(t, kept)
			for k, uv := range uo.leaves {
				if _, inT := to.leaves[k]; inT {
					continue
				}
				if got, ok := ko.leaves[k]; !ok || !equalValue(got, uv) {
					t.Errorf("keep-unknown: %q = %v, want %v", k, got, uv)
				}
			}
			if !slices.Contains(krep.KeptUnknown, "bot.my_private_setting") || len(krep.Removed) != 0 {
				t.Errorf("keep-unknown report: kept %v removed %v", krep.KeptUnknown, krep.Removed)
			}
		})
	}
}

func TestMergeMaiBotTypeChange(t *testing.T) {
	// 0.8.1 writes qq_account as an integer, 0.11 as a string.
	cur := setTOML(t, string(readTemplate(t, "0.8.1-alpha", "bot_config_template.toml")), "bot", "qq_account", "123456789")
	tmpl := readTemplate(t, "0.11.0-beta", "bot_config_template.toml")
	out, rep, err := Merge(tmpl, []byte(cur), mbOpts)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(rep.TypeChanged, func(tc TypeChange) bool { return tc.Key == "bot.qq_account" })
	if i < 0 || rep.TypeChanged[i].Current != "integer" || rep.TypeChanged[i].Template != "string" {
		t.Fatalf("type change not reported: %+v", rep.TypeChanged)
	}
	if got := newOracle(t, out).leaves["bot\x00qq_account"]; got != "1145141919810" {
		t.Errorf("qq_account = %v, want the template default", got)
	}
	if !strings.Contains(rep.Text(), "bot.qq_account: yours integer, template string") {
		t.Errorf("text report:\n%s", rep.Text())
	}
}

func TestMergeMaiBotOwnTemplate(t *testing.T) {
	for _, rel := range []string{"0.8.1-alpha", "0.10.0-alpha", "0.11.0-beta"} {
		for _, name := range []string{"bot_config_template.toml", "model_config_template.toml"} {
			if rel == "0.8.1-alpha" && name == "model_config_template.toml" {
				continue
			}
			tmpl := readTemplate(t, rel, name)
			out, rep, err := Merge(tmpl, tmpl, mbOpts)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, tmpl) || rep.HasDifferences() || len(rep.Changed) != 0 {
				t.Errorf("%s/%s: merging with its own template changed it: %+v", rel, name, rep)
			}
			// Only the version differs: only the version changes back.
			older := strings.Replace(string(tmpl), `version = "`, `version = "0.0.1-`, 1)
			out, rep, err = Merge(tmpl, []byte(older), mbOpts)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, tmpl) || rep.Version == nil || !strings.HasPrefix(rep.Version.From, "0.0.1-") {
				t.Errorf("%s/%s: version-only difference: out equal %v, report %+v", rel, name, bytes.Equal(out, tmpl), rep.Version)
			}
		}
	}
}

func TestMergeMaiBotModelConfig(t *testing.T) {
	old := string(readTemplate(t, "0.10.0-alpha", "model_config_template.toml"))
	// The user's providers with real keys, and one provider of their own.
	cur := strings.Replace(old, `api_key = "your-api-key-here"`, `api_key = "sk-1234\\5678-深度求索"   # 我的key`, 1)
	cur = strings.Replace(cur, `api_key = "your-siliconflow-api-key"`, `api_key = 'sk-silicon\raw'`, 1)
	cur = strings.Replace(cur, "\n[[models]]", "\n[[api_providers]] # 我自己的\nname = \"Mine\"\nbase_url = \"http://10.0.0.2:8000/v1\"\napi_key = \"k\"\nclient_type = \"openai\"\n\n[[models]]", 1)
	cur = setTOML(t, cur, "model_task_config.replyer", "temperature", "0.5")
	cur = setTOML(t, cur, "model_task_config.replyer", "max_tokens", "1024")
	tmpl := readTemplate(t, "0.11.0-beta", "model_config_template.toml")
	out, rep, err := Merge(tmpl, []byte(cur), mbOpts)
	if err != nil {
		t.Fatal(err)
	}
	checkCarried(t, tmpl, []byte(cur), out, mbOpts.VersionKeys, false)
	for _, want := range []string{
		`api_key = "sk-1234\\5678-深度求索"   # 我的key`,
		`api_key = 'sk-silicon\raw'`,
		"[[api_providers]] # 我自己的\nname = \"Mine\"",
		"[models.extra_params] # 可选的额外参数配置\nenable_thinking = false # 不启用思考", // the user's models, with sub-tables
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// Arrays of tables come whole from the user: no template provider is added.
	if strings.Contains(string(out), `name = "BaiLian"`) {
		t.Error("a template-only array-of-tables element was mixed into the user's")
	}
	o := newOracle(t, out)
	if n := len(o.leaves["api_providers"].([]any)); n != 4 {
		t.Errorf("%d providers, want the user's 4", n)
	}
	if !slices.Contains(rep.Changed, "api_providers") || !slices.Contains(rep.Changed, "models") {
		t.Errorf("changed = %v", rep.Changed)
	}
	for _, k := range []string{"model_task_config.emotion.model_list"} {
		if !slices.Contains(rep.Removed, k) {
			t.Errorf("removed lacks %s: %v", k, rep.Removed)
		}
	}
	// The task sections after the arrays keep their template comments.
	if !strings.Contains(string(out), "\n\n\n[model_task_config.utils] # 在麦麦的一些组件中使用的模型，例如表情包模块，取名模块，关系模块，麦麦的情绪变化等，是麦麦必须的模型\n") {
		t.Error("the text after the arrays of tables was not kept")
	}
	twice, _, err := Merge(tmpl, out, mbOpts)
	if err != nil || !bytes.Equal(twice, out) {
		t.Errorf("not idempotent (err %v)", err)
	}
}

func TestMergeMaiBotDotenv(t *testing.T) {
	old := string(readTemplate(t, "0.8.1-alpha", "template.env"))
	cur := strings.Replace(old, "PORT=8000", "PORT=8080 # 我改的端口", 1)
	cur = strings.Replace(cur, "DEEP_SEEK_KEY=", "DEEP_SEEK_KEY=sk-ds-秘密", 1)
	cur = strings.Replace(cur, "BAILIAN_KEY = ", `BAILIAN_KEY = "bl key # not a comment \"q\""`, 1)
	cur += "\n# my own\nMY_TOKEN='a\\b$c'\n"
	for _, rel := range []string{"0.10.0-alpha", "0.11.0-beta"} {
		t.Run(rel, func(t *testing.T) {
			tmpl := readTemplate(t, rel, "template.env")
			opts := Options{Format: Dotenv}
			out, rep, err := Merge(tmpl, []byte(cur), opts)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(out), "HOST=127.0.0.1\nPORT=8080 # 我改的端口\n") {
				t.Errorf("template part:\n%s", out)
			}
			od, err := parseDotenv("out", out)
			if err != nil {
				t.Fatal(err)
			}
			ud, _ := parseDotenv("cur", []byte(cur))
			for k, ue := range ud.last {
				oe, ok := od.last[k]
				if !ok || oe.value != ue.value {
					t.Errorf("%s: got %+v, want %q", k, oe, ue.value)
				}
			}
			if od.last["BAILIAN_KEY"].value != `bl key # not a comment "q"` || od.last["MY_TOKEN"].value != `a\b$c` {
				t.Errorf("quoted values: %q %q", od.last["BAILIAN_KEY"].value, od.last["MY_TOKEN"].value)
			}
			if !strings.Contains(string(out), "\n# 定义你要用的api的key(需要去对应网站申请哦)\nDEEP_SEEK_KEY=sk-ds-秘密\n") ||
				!strings.Contains(string(out), "\n# my own\nMY_TOKEN='a\\b$c'\n") {
				t.Errorf("kept keys lost their comments:\n%s", out)
			}
			if len(rep.KeptUnknown) != 11 || !slices.Contains(rep.KeptUnknown, "MY_TOKEN") || len(rep.Removed) != 0 || len(rep.New) != 0 {
				t.Errorf("report: %+v", rep)
			}
			twice, _, err := Merge(tmpl, out, opts)
			if err != nil || !bytes.Equal(twice, out) {
				t.Errorf("not idempotent:\n%s\n---\n%s", out, twice)
			}
		})
	}
	// The other way: new template keys come with their defaults and comments.
	tmpl := readTemplate(t, "0.8.1-alpha", "template.env")
	cur2 := "HOST=0.0.0.0\nPORT=9000"
	out, rep, err := Merge(tmpl, []byte(cur2), Options{Format: Dotenv})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(strings.Replace(string(tmpl), "HOST=127.0.0.1", "HOST=0.0.0.0", 1), "PORT=8000", "PORT=9000", 1)
	if string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	if len(rep.New) != 10 || !slices.Contains(rep.New, "SILICONFLOW_KEY") {
		t.Errorf("new = %v", rep.New)
	}
}

// skeleton is the sequence of comment-only, header and blank lines outside
// values (lines inside multi-line arrays and strings are the values').
func skeleton(b []byte) string {
	var out []string
	inArray, inString := false, false
	for _, l := range strings.Split(string(b), "\n") {
		tl := strings.TrimSpace(l)
		switch {
		case inArray:
			inArray = !strings.HasPrefix(tl, "]")
			continue
		case inString:
			inString = strings.Count(l, `"""`)%2 == 0
			continue
		}
		if i := strings.Index(l, "="); i > 0 && !strings.HasPrefix(tl, "#") && !strings.HasPrefix(tl, "[") {
			v := strings.TrimSpace(l[i+1:])
			inArray = strings.HasPrefix(v, "[") && strings.Count(v, "[") > strings.Count(v, "]")
			inString = strings.Count(v, `"""`)%2 == 1
			continue
		}
		if tl == "" || strings.HasPrefix(tl, "#") || strings.HasPrefix(l, "[") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func toStrings(v any) []string {
	a, _ := v.([]any)
	var s []string
	for _, x := range a {
		str, _ := x.(string)
		s = append(s, str)
	}
	return s
}

func equalValue(a, b any) bool {
	return strings.TrimSpace(strings.ReplaceAll(fmtValue(a), " ", "")) == strings.TrimSpace(strings.ReplaceAll(fmtValue(b), " ", ""))
}
