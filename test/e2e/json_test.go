package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// The JSON documents of docs/json.md are checked against the JSON Schema files under
// docs/schema by the small validator below. It knows the subset of JSON Schema those files
// use ($ref, type, const, enum, properties, required, additionalProperties, items, format
// date-time) and fails on any other keyword, so a schema cannot say more than is checked.

const schemaDir = "../../docs/schema"

type schemaSet map[string]map[string]any // file name -> parsed schema

func loadSchemas(t testing.TB) schemaSet {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(schemaDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schema files in %s: %v", schemaDir, err)
	}
	s := schemaSet{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		s[filepath.Base(f)] = m
	}
	return s
}

// decode parses one JSON document keeping numbers as json.Number (integers stay integers).
func decode(t testing.TB, what, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", what, err, s)
	}
	if dec.More() {
		t.Fatalf("%s: more than one JSON document:\n%s", what, s)
	}
	return v
}

// validate checks v against the schema file and returns every disagreement.
func (s schemaSet) validate(file string, v any) []string {
	var errs []string
	sch, ok := s[file]
	if !ok {
		return []string{"no schema " + file}
	}
	s.check(file, sch, v, "$", &errs)
	return errs
}

func (s schemaSet) resolve(file, ref string) (string, map[string]any, error) {
	f, ptr, _ := strings.Cut(ref, "#")
	if f == "" {
		f = file
	}
	var node any = s[f]
	if node == nil {
		return "", nil, fmt.Errorf("$ref %s: no file %s", ref, f)
	}
	for _, part := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		if part == "" {
			continue
		}
		m, ok := node.(map[string]any)
		if !ok {
			return "", nil, fmt.Errorf("$ref %s: %s is not an object", ref, part)
		}
		node = m[part]
	}
	m, ok := node.(map[string]any)
	if !ok {
		return "", nil, fmt.Errorf("$ref %s: not found", ref)
	}
	return f, m, nil
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if strings.ContainsAny(x.String(), ".eE") {
			return "number"
		}
		return "integer"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

func (s schemaSet) check(file string, sch map[string]any, v any, path string, errs *[]string) {
	fail := func(format string, a ...any) { *errs = append(*errs, path+": "+fmt.Sprintf(format, a...)) }
	if ref, ok := sch["$ref"].(string); ok {
		f, target, err := s.resolve(file, ref)
		if err != nil {
			fail("%v", err)
			return
		}
		s.check(f, target, v, path, errs)
		return
	}
	for k := range sch {
		switch k {
		case "$schema", "$defs", "description", "type", "const", "enum", "properties", "required", "additionalProperties", "items", "format":
		default:
			fail("schema keyword %q is not supported by this validator", k)
		}
	}
	if t, ok := sch["type"]; ok {
		var types []string
		switch x := t.(type) {
		case string:
			types = []string{x}
		case []any:
			for _, e := range x {
				types = append(types, e.(string))
			}
		}
		got := jsonType(v)
		if !slices.Contains(types, got) && !(got == "integer" && slices.Contains(types, "number")) {
			fail("type %s, schema says %v", got, types)
			return
		}
	}
	if c, ok := sch["const"]; ok && fmt.Sprint(c) != fmt.Sprint(v) {
		fail("%v, schema says const %v", v, c)
	}
	if e, ok := sch["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return fmt.Sprint(x) == fmt.Sprint(v) }) {
		fail("%v is not one of %v", v, e)
	}
	if sch["format"] == "date-time" {
		if str, ok := v.(string); ok {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				fail("not a date-time: %q", str)
			}
		}
	}
	if obj, ok := v.(map[string]any); ok {
		props, _ := sch["properties"].(map[string]any)
		for _, r := range asStrings(sch["required"]) {
			if _, ok := obj[r]; !ok {
				fail("required member %q missing", r)
			}
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k].(map[string]any); ok {
				s.check(file, ps, obj[k], path+"."+k, errs)
				continue
			}
			switch ap := sch["additionalProperties"].(type) {
			case bool:
				if !ap {
					fail("member %q is not in the schema", k)
				}
			case map[string]any:
				s.check(file, ap, obj[k], path+"."+k, errs)
			}
		}
	}
	if arr, ok := v.([]any); ok {
		if it, ok := sch["items"].(map[string]any); ok {
			for i, e := range arr {
				s.check(file, it, e, fmt.Sprintf("%s[%d]", path, i), errs)
			}
		}
	}
}

func asStrings(v any) []string {
	var out []string
	if a, ok := v.([]any); ok {
		for _, e := range a {
			out = append(out, e.(string))
		}
	}
	return out
}

// wantDoc checks that out is one JSON document matching docs/schema/<schema> and returns it.
func wantDoc(t testing.TB, s schemaSet, schema, what, out string) map[string]any {
	t.Helper()
	v := decode(t, what, out)
	for _, e := range s.validate(schema, v) {
		t.Errorf("%s does not match docs/schema/%s: %s", what, schema, e)
	}
	m, _ := v.(map[string]any)
	return m
}

// wantErrorDoc checks a failed command's JSON document: its exit code in "error".
func wantErrorDoc(t testing.TB, s schemaSet, schema string, r Result, code int) map[string]any {
	t.Helper()
	if r.Code != code {
		t.Fatalf("want exit %d: %s", code, r)
	}
	m := wantDoc(t, s, schema, strings.Join(r.Args, " "), r.Stdout)
	e, _ := m["error"].(map[string]any)
	if e == nil || fmt.Sprint(e["code"]) != fmt.Sprint(code) || e["message"] == "" {
		t.Errorf("%v: error member %v, want code %d", r.Args, m["error"], code)
	}
	return m
}

// TestJSONSchemaDocumented: docs/json.md names every schema file and every member the
// schemas define, and the validator catches what it should (no engine needed).
func TestJSONSchemaDocumented(t *testing.T) {
	s := loadSchemas(t)
	b, err := os.ReadFile("../../docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	var walk func(file string, node any)
	walk = func(file string, node any) {
		switch x := node.(type) {
		case map[string]any:
			if props, ok := x["properties"].(map[string]any); ok {
				for k := range props {
					if !strings.Contains(md, "`"+k+"`") {
						t.Errorf("docs/json.md does not describe member `%s` (docs/schema/%s)", k, file)
					}
				}
			}
			for _, v := range x {
				walk(file, v)
			}
		case []any:
			for _, v := range x {
				walk(file, v)
			}
		}
	}
	for f, sch := range s {
		if !strings.Contains(md, "schema/"+f) {
			t.Errorf("docs/json.md does not name docs/schema/%s", f)
		}
		walk(f, sch)
	}
	// every example validates against the schema of its section
	examples := 0
	for _, sec := range strings.Split(md, "\n## ")[1:] {
		file := regexp.MustCompile(`\(schema/([a-z-]+\.json)\)`).FindStringSubmatch(sec)
		ex := regexp.MustCompile("(?s)```json\n(.*?)```").FindStringSubmatch(sec)
		if file == nil || ex == nil {
			continue
		}
		examples++
		for _, e := range s.validate(file[1], decode(t, "example", ex[1])) {
			t.Errorf("docs/json.md example of %s: %s", file[1], e)
		}
	}
	if examples < 11 {
		t.Errorf("docs/json.md has %d examples checked, want one per command", examples)
	}
	// the validator refuses what the schema does not allow
	bad := map[string]string{
		"wrong schema_version":   `{"schema_version":2,"version":"x"}`,
		"member not documented":  `{"schema_version":1,"version":"x","extra":true}`,
		"required member absent": `{"schema_version":1}`,
		"wrong type":             `{"schema_version":1,"version":3}`,
		"error without code":     `{"schema_version":1,"version":"x","error":{"message":"m"}}`,
	}
	for what, doc := range bad {
		if errs := s.validate("version.json", decode(t, what, doc)); len(errs) == 0 {
			t.Errorf("%s: %s passes the schema", what, doc)
		}
	}
	if errs := s.validate("version.json", decode(t, "good", `{"schema_version":1,"version":"x"}`)); len(errs) > 0 {
		t.Errorf("a good document fails: %v", errs)
	}
}

// TestJSONEveryCommand runs every command with --format json on a bot project (backup,
// list, verify, status, a refused upgrade, a dry run, an upgrade that is rolled back, one that succeeds, a
// rollback, a restore, prune, config merge, version, and failures) and checks each
// document against docs/schema.
func TestJSONEveryCommand(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	s := loadSchemas(t)
	bp := newBotProject(t, "json-all", "BOT_FAIL=crash\nBOT_FAIL_ON=2.0.0\n")

	r := mustOK(t, bp.maim("version", "--format", "json"))
	if m := wantDoc(t, s, "version.json", "version", r.Stdout); m["version"] != TestVersion {
		t.Errorf("version: %v", m)
	}

	r = mustOK(t, bp.maim("backup", "--format", "json"))
	m := wantDoc(t, s, "backup.json", "backup", r.Stdout)
	id, _ := m["id"].(string)
	if id == "" || m["project"] != bp.Name || !bp.manifest(id).has("botdata") {
		t.Fatalf("backup --format json: %v", m)
	}

	r = mustOK(t, bp.maim("backups", "--format", "json"))
	m = wantDoc(t, s, "backups.json", "backups", r.Stdout)
	if list, _ := m["backups"].([]any); len(list) != 1 || list[0].(map[string]any)["id"] != id {
		t.Errorf("backups --format json: %v", m)
	}

	r = mustOK(t, bp.maim("verify", id, "--format", "json"))
	if m = wantDoc(t, s, "verify.json", "verify", r.Stdout); m["id"] != id || m["intact"] != true {
		t.Errorf("verify --format json: %v", m)
	}

	r = mustOK(t, bp.maim("status", "--format", "json"))
	if m = wantDoc(t, s, "status.json", "status", r.Stdout); m["project"] != bp.Name {
		t.Errorf("status --format json: %v", m)
	}

	bp.setEnv("BOT_VERSION", "2.0.0")
	// 2.0.0 is a breaking change: refused, the plan and the error in one document
	r = bp.maim("upgrade", "--format", "json")
	if m = wantErrorDoc(t, s, "upgrade.json", r, 12); m["outcome"] != "refused" || m["plan"] == nil {
		t.Errorf("refused upgrade --format json: %v", m)
	}
	r = mustOK(t, bp.maim("upgrade", "--dry-run", "--accept-breaking", "--format", "json"))
	if m = wantDoc(t, s, "upgrade.json", "upgrade --dry-run", r.Stdout); m["outcome"] != "dry-run" {
		t.Errorf("upgrade --dry-run --format json: %v", m)
	}

	// 2.0.0 crashes (BOT_FAIL_ON): rolled back, the result and the error in one document
	r = bp.maim("upgrade", "--accept-breaking", "--format", "json", "--timeout", "60s")
	m = wantErrorDoc(t, s, "upgrade.json", r, 10)
	if m["outcome"] != "rolled-back" || m["rollback"] == nil {
		t.Errorf("rolled-back upgrade --format json: %v", m)
	}
	bp.wantBot("1.0.0")

	bp.setEnv("BOT_VERSION", "2.0.0")
	bp.setEnv("BOT_FAIL", "")
	r = mustOK(t, bp.maim("upgrade", "--accept-breaking", "--format", "json"))
	if m = wantDoc(t, s, "upgrade.json", "upgrade", r.Stdout); m["outcome"] != "upgraded" || m["backup_id"] == "" {
		t.Errorf("upgrade --format json: %v", m)
	}
	bp.wantBot("2.0.0")

	r = mustOK(t, bp.maim("rollback", "--format", "json"))
	if m = wantDoc(t, s, "rollback.json", "rollback", r.Stdout); m["backup_id"] == "" || m["project"] != bp.Name {
		t.Errorf("rollback --format json: %v", m)
	}
	bp.wantBot("1.0.0")

	r = mustOK(t, bp.maim("restore", id, "--format", "json"))
	if m = wantDoc(t, s, "restore.json", "restore", r.Stdout); m["backup_id"] != id {
		t.Errorf("restore --format json: %v", m)
	}

	r = mustOK(t, bp.maim("prune", "--keep", "1", "--dry-run", "--format", "json"))
	if m = wantDoc(t, s, "prune.json", "prune", r.Stdout); m["dry_run"] != true {
		t.Errorf("prune --format json: %v", m)
	}

	// config merge: the merged file on stdout, the report document on stderr
	tmpl := filepath.Join(t.TempDir(), "bot_config_template.toml")
	if err := os.WriteFile(tmpl, []byte("[inner]\nversion = \"9.9.9\"\n\n[bot]\nnickname = \"x\"\nnew_key = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = mustOK(t, bp.maim("config", "merge", "--template", tmpl, "--current", bp.Path("config/bot_config.toml"), "--report", "json"))
	if m = wantDoc(t, s, "config-merge.json", "config merge --report json", r.Stderr); !slices.Contains(asStrings(m["new"]), "bot.new_key") {
		t.Errorf("config merge --report json: %v", m)
	}
	if !regexp.MustCompile(`(?m)^new_key = 1$`).MatchString(r.Stdout) {
		t.Errorf("config merge: merged file\n%s", r.Stdout)
	}

	// failures: the error document with the exit code of text mode
	wantErrorDoc(t, s, "error.json", bp.maim("verify", "19990101T000000Z", "--format", "json"), 6)
	wantFail(t, bp.maim("verify", "19990101T000000Z"), 6, "19990101T000000Z")
	wantErrorDoc(t, s, "error.json", bp.maim("backup", "--compression", "lz4", "--format", "json"), 125)
	wantErrorDoc(t, s, "error.json", bp.maim("config", "merge", "--template", tmpl, "--current", "/nonexistent.toml", "--report", "json"), 1)

	bp.wantUpChangesNothing()
}
