package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The JSON documents of docs/json.md are checked against the JSON Schema files under
// docs/schema with github.com/santhosh-tekuri/jsonschema/v6 (draft 2020-12, formats
// asserted). The published schemas accept unknown members (readers ignore members they do
// not know, docs/json.md), so the tests check against a strict copy of them: every object
// schema with properties gets "additionalProperties": false there, and a member we print
// that the schema does not describe fails the test.

const schemaDir = "../../docs/schema"

// schemaSet holds the published schemas and their strict copies, compiled.
type schemaSet struct {
	raw    map[string]map[string]any // file name -> the published schema, parsed
	open   map[string]*jsonschema.Schema
	strict map[string]*jsonschema.Schema
}

func loadSchemas(t testing.TB) schemaSet {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(schemaDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schema files in %s: %v", schemaDir, err)
	}
	s := schemaSet{raw: map[string]map[string]any{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		s.raw[filepath.Base(f)] = m
	}
	s.open = compileSchemas(t, s.raw, false)
	s.strict = compileSchemas(t, s.raw, true)
	return s
}

// schemaURL is where a schema file is registered, so that "defs.json#/..." resolves.
func schemaURL(file string) string { return "file:///docker-maim/docs/schema/" + file }

// compileSchemas compiles every file (strict: the strict copy) with formats asserted.
func compileSchemas(t testing.TB, raw map[string]map[string]any, strict bool) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for f, m := range raw {
		var doc any = m
		if strict {
			doc = strictCopy(m)
		}
		if err := c.AddResource(schemaURL(f), doc); err != nil {
			t.Fatalf("docs/schema/%s: %v", f, err)
		}
	}
	out := map[string]*jsonschema.Schema{}
	for f := range raw {
		sch, err := c.Compile(schemaURL(f))
		if err != nil {
			t.Fatalf("docs/schema/%s does not compile: %v", f, err)
		}
		out[f] = sch
	}
	return out
}

// strictCopy is a deep copy of a schema in which every object schema that lists
// properties refuses any other member, unless it describes the others with a schema of
// their own (a map's values).
func strictCopy(node any) any {
	switch x := node.(type) {
	case map[string]any:
		out := make(map[string]any, len(x)+1)
		for k, v := range x {
			out[k] = strictCopy(v)
		}
		if _, ok := x["properties"].(map[string]any); ok {
			if _, schema := x["additionalProperties"].(map[string]any); !schema {
				out["additionalProperties"] = false
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, v := range x {
			out[i] = strictCopy(v)
		}
		return out
	}
	return node
}

// decode parses one JSON document keeping numbers as json.Number (integers stay integers).
func decode(t testing.TB, what, s string) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
	if err != nil {
		t.Fatalf("%s: not one JSON document: %v\n%s", what, err, s)
	}
	return v
}

// validate checks v against the strict copy of the schema file and returns every
// disagreement (a member the schema does not describe is one).
func (s schemaSet) validate(file string, v any) []string {
	return validateWith(s.strict, file, v)
}

// validatePublished checks v against the schema file as published.
func (s schemaSet) validatePublished(file string, v any) []string {
	return validateWith(s.open, file, v)
}

func validateWith(set map[string]*jsonschema.Schema, file string, v any) []string {
	sch, ok := set[file]
	if !ok {
		return []string{"no schema " + file}
	}
	err := sch.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []string{err.Error()}
	}
	var out []string
	var leaves func(u jsonschema.OutputUnit)
	leaves = func(u jsonschema.OutputUnit) {
		if u.Error != nil && len(u.Errors) == 0 {
			out = append(out, "$"+u.InstanceLocation+": "+u.Error.String())
		}
		for _, e := range u.Errors {
			leaves(e)
		}
	}
	leaves(*ve.BasicOutput())
	if len(out) == 0 {
		out = []string{ve.Error()}
	}
	return out
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
// schemas define, the published schemas accept unknown members while the tests' strict
// copies refuse them, and the validation catches what it should (no engine needed).
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
			if x["additionalProperties"] == false {
				t.Errorf("docs/schema/%s refuses unknown members (additionalProperties: false); readers must be able to ignore new members", file)
			}
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
	for f, sch := range s.raw {
		if !strings.Contains(md, "schema/"+f) {
			t.Errorf("docs/json.md does not name docs/schema/%s", f)
		}
		walk(f, sch)
	}
	// every example validates against the schema of its section
	examples := 0
	var backupExample map[string]any
	for _, sec := range strings.Split(md, "\n## ")[1:] {
		file := regexp.MustCompile(`\(schema/([a-z-]+\.json)\)`).FindStringSubmatch(sec)
		ex := regexp.MustCompile("(?s)```json\n(.*?)```").FindStringSubmatch(sec)
		if file == nil || ex == nil {
			continue
		}
		examples++
		doc := decode(t, "example", ex[1])
		for _, e := range s.validate(file[1], doc) {
			t.Errorf("docs/json.md example of %s: %s", file[1], e)
		}
		if file[1] == "backup.json" {
			backupExample, _ = doc.(map[string]any)
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
	// a progress line is a task line or an event line, with schema_version, never both
	badLines := map[string]string{
		"no schema_version":   `{"time":"2026-01-02T03:04:05Z","event":"e"}`,
		"task and event":      `{"schema_version":1,"time":"2026-01-02T03:04:05Z","event":"e","task":"t","bytes":0,"total":0,"rate":0,"status":"running"}`,
		"task without status": `{"schema_version":1,"time":"2026-01-02T03:04:05Z","task":"t","bytes":0,"total":0,"rate":0}`,
		"unknown status":      `{"schema_version":1,"time":"2026-01-02T03:04:05Z","task":"t","bytes":0,"total":0,"rate":0,"status":"paused"}`,
		"undocumented member": `{"schema_version":1,"time":"2026-01-02T03:04:05Z","event":"e","level":"info"}`,
	}
	for what, doc := range badLines {
		if errs := s.validate("progress.json", decode(t, what, doc)); len(errs) == 0 {
			t.Errorf("progress line, %s: %s passes the schema", what, doc)
		}
	}
	if errs := s.validate("progress.json", decode(t, "event", `{"schema_version":1,"time":"2026-01-02T03:04:05Z","op":"upgrade","phase":"stop","event":"stopping bot"}`)); len(errs) > 0 {
		t.Errorf("a good event line fails: %v", errs)
	}
	if errs := s.validate("version.json", decode(t, "good", `{"schema_version":1,"version":"x"}`)); len(errs) > 0 {
		t.Errorf("a good document fails: %v", errs)
	}
	// a reader of the published schema accepts a member it does not know, in a nested object too
	newer := map[string]string{
		"version.json": `{"schema_version":1,"version":"x","new_member":1}`,
		"error.json":   `{"schema_version":1,"error":{"code":1,"message":"m","hint":"h"}}`,
	}
	for file, doc := range newer {
		if errs := s.validatePublished(file, decode(t, "newer", doc)); len(errs) > 0 {
			t.Errorf("published docs/schema/%s refuses a new member: %s: %v", file, doc, errs)
		}
		if errs := s.validate(file, decode(t, "newer", doc)); len(errs) == 0 {
			t.Errorf("the strict copy of docs/schema/%s accepts an undocumented member: %s", file, doc)
		}
	}
	// formats are asserted: a time that is not RFC 3339
	if backupExample == nil {
		t.Fatal("docs/json.md has no backup example")
	}
	backupExample["time"] = "2026-01-02 03:04:05"
	if errs := s.validate("backup.json", backupExample); len(errs) == 0 {
		t.Errorf("a backup time that is not RFC 3339 passes the schema")
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

	// 2.0.0 crashes (BOT_FAIL_ON): rolled back, the result and the error in one document;
	// its progress lines name the plan's steps, then the rollback's
	r = bp.maim("upgrade", "--accept-breaking", "--format", "json", "--progress", "json", "--timeout", "60s")
	m = wantErrorDoc(t, s, "upgrade.json", r, 10)
	if m["outcome"] != "rolled-back" || m["rollback"] == nil {
		t.Errorf("rolled-back upgrade --format json: %v", m)
	}
	steps := progressSteps(progressLines(t, r.Stderr))
	wantPlanSteps(t, m, steps, "upgrade/stop", "upgrade/backup", "upgrade/recreate", "upgrade/gate", "rollback/restore", "rollback/gate")
	bp.wantBot("1.0.0")

	bp.setEnv("BOT_VERSION", "2.0.0")
	bp.setEnv("BOT_FAIL", "")
	r = mustOK(t, bp.maim("upgrade", "--accept-breaking", "--format", "json", "--progress", "json"))
	if m = wantDoc(t, s, "upgrade.json", "upgrade", r.Stdout); m["outcome"] != "upgraded" || m["backup_id"] == "" {
		t.Errorf("upgrade --format json: %v", m)
	}
	steps = progressSteps(progressLines(t, r.Stderr))
	wantPlanSteps(t, m, steps, "upgrade/backup-hot", "upgrade/stop", "upgrade/backup", "upgrade/recreate", "upgrade/gate")
	if slices.ContainsFunc(steps, func(s string) bool { return !strings.HasPrefix(s, "upgrade/") }) {
		t.Errorf("an upgrade that succeeded shows steps of another operation: %q", steps)
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

// wantPlanSteps checks the steps an upgrade's progress lines showed ("op/phase", in the order
// first seen): the upgrade's are the names its plan lists (plan.phases of the result m), in
// the plan's order, and not skipped; then come the rollback's, if any. Each of must shows.
func wantPlanSteps(t *testing.T, m map[string]any, steps []string, must ...string) {
	t.Helper()
	plan, _ := m["plan"].(map[string]any)
	var planned []string
	for _, ph := range plan["phases"].([]any) {
		p := ph.(map[string]any)
		if p["skipped"] != true {
			planned = append(planned, "upgrade/"+p["name"].(string))
		}
	}
	i, rollback := 0, false
	for _, st := range steps {
		if strings.HasPrefix(st, "rollback/") {
			rollback = true
			continue
		}
		if rollback || !strings.HasPrefix(st, "upgrade/") {
			t.Errorf("step %q out of place in %q", st, steps)
			continue
		}
		for i < len(planned) && planned[i] != st {
			i++
		}
		if i == len(planned) {
			t.Errorf("progress step %q is not a step of the plan %q (or out of its order): %q", st, planned, steps)
		}
	}
	for _, st := range must {
		if !slices.Contains(steps, st) {
			t.Errorf("no progress line in step %q: %q", st, steps)
		}
	}
}
