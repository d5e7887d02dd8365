package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// maibotVersionKey is the version key of MaiBot's TOML configs (maibot.VersionKey; this
// package's tests cannot import maibot, which imports config).
const maibotVersionKey = "inner.version"

// maibotTemplates is ../shared/maibot-templates beside the repository (the
// package dir is <repo>/internal/config).
func maibotTemplates(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "maibot-templates"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		t.Skipf("MaiBot templates not found at %s", dir)
	}
	return dir
}

func readTemplate(t testing.TB, release, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(maibotTemplates(t), release, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// setTOML replaces, in doc, the value of key in [section] ("" = root) with
// raw (TOML text), written independently of the code under test: it finds the
// header line, then the key's line, and replaces the value up to an inline
// comment or, for an array spanning lines, up to the line starting with "]".
// When the key is absent it is added right after the header.
func setTOML(t testing.TB, doc, section, key, raw string) string {
	t.Helper()
	lines := strings.SplitAfter(doc, "\n")
	i := 0
	if section != "" {
		hdr := regexp.MustCompile(`^\[` + regexp.QuoteMeta(section) + `\]\s*(#.*)?$`)
		for ; i < len(lines) && !hdr.MatchString(strings.TrimRight(lines[i], "\r\n")); i++ {
		}
		if i == len(lines) {
			t.Fatalf("setTOML: no [%s]", section)
		}
		i++
	}
	kre := regexp.MustCompile(`^` + regexp.QuoteMeta(key) + `\s*=\s*`)
	for j := i; j < len(lines) && !strings.HasPrefix(lines[j], "["); j++ {
		m := kre.FindStringIndex(lines[j])
		if m == nil {
			continue
		}
		rest := lines[j][m[1]:]
		end := j
		if strings.HasPrefix(rest, "[") && strings.Count(rest, "[") > strings.Count(rest, "]") {
			for end = j + 1; end < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[end]), "]"); end++ {
			}
			lines[end] = "" // the closing line; rewritten below
		}
		comment := ""
		if end == j && !strings.Contains(raw, " #") {
			if k := strings.Index(rest, " #"); k >= 0 && !strings.Contains(rest[:k], `"`) {
				comment = strings.TrimRight(rest[k:], "\r\n")
			}
		}
		lines[j] = lines[j][:m[1]] + raw + comment + "\n"
		for k := j + 1; k <= end; k++ {
			lines[k] = ""
		}
		return strings.Join(lines, "")
	}
	return strings.Join(lines[:i], "") + key + " = " + raw + "\n" + strings.Join(lines[i:], "")
}

// oracle is an independent view of a TOML document: its values decoded by
// go-toml, flattened to leaf paths. Inline tables and arrays (of tables, too)
// are leaves; the streaming parser is used only to learn which tables were
// written inline and which arrays are arrays of tables.
type oracle struct {
	leaves map[string]any
	class  map[string]string
}

func newOracle(t testing.TB, data []byte) oracle {
	t.Helper()
	var m map[string]any
	if err := toml.Unmarshal(data, &m); err != nil {
		t.Fatalf("does not parse: %v\n%s", err, data)
	}
	inline, aot := map[string]bool{}, map[string]bool{}
	p := unstable.Parser{}
	p.Reset(data)
	var cur []string
	for p.NextExpression() {
		e := p.Expression()
		parts, _ := keyParts(e.Key())
		switch e.Kind {
		case unstable.Table:
			cur = parts
		case unstable.ArrayTable:
			cur = parts
			aot[strings.Join(parts, "\x00")] = true
		case unstable.KeyValue:
			full := append(append([]string(nil), cur...), parts...)
			if e.Value().Kind == unstable.InlineTable {
				inline[strings.Join(full, "\x00")] = true
			}
		}
	}
	o := oracle{leaves: map[string]any{}, class: map[string]string{}}
	var walk func(prefix []string, v any)
	walk = func(prefix []string, v any) {
		key := strings.Join(prefix, "\x00")
		if mm, ok := v.(map[string]any); ok && !inline[key] {
			for k, c := range mm {
				walk(append(append([]string(nil), prefix...), k), c)
			}
			return
		}
		o.leaves[key] = v
		switch v.(type) {
		case int64, float64:
			o.class[key] = "number"
		case map[string]any:
			o.class[key] = "inline"
		case []any:
			o.class[key] = "array"
			if aot[key] {
				o.class[key] = "aot"
			}
		case time.Time, toml.LocalDate, toml.LocalTime, toml.LocalDateTime:
			o.class[key] = "datetime"
		default:
			o.class[key] = fmt.Sprintf("%T", v)
		}
	}
	walk(nil, m)
	return o
}

// checkCarried asserts the merge rules on decoded values: every template key
// has the user's value when the user has it with a compatible type (and it is
// not a version key), else the template's; a user-only key is absent unless
// keepUnknown.
func checkCarried(t testing.TB, tmpl, cur, out []byte, versionKeys []string, keepUnknown bool) {
	t.Helper()
	to, uo, oo := newOracle(t, tmpl), newOracle(t, cur), newOracle(t, out)
	isVersion := func(k string) bool {
		for _, v := range versionKeys {
			if strings.Join(splitDots(v), "\x00") == k {
				return true
			}
		}
		return false
	}
	for k, tv := range to.leaves {
		want := tv
		if uv, ok := uo.leaves[k]; ok && !isVersion(k) && uo.class[k] == to.class[k] {
			want = uv
		}
		if got, ok := oo.leaves[k]; !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("key %q: got %#v, want %#v", strings.ReplaceAll(k, "\x00", "."), got, want)
		}
	}
	for k := range uo.leaves {
		if _, inT := to.leaves[k]; inT {
			continue
		}
		_, inOut := oo.leaves[k]
		if !keepUnknown && inOut {
			t.Errorf("user-only key %q was written", strings.ReplaceAll(k, "\x00", "."))
		}
	}
}

func splitDots(s string) []string { return strings.Split(s, ".") }

func fmtValue(v any) string { return fmt.Sprintf("%#v", v) }
