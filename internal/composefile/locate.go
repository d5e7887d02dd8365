package composefile

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"go.yaml.in/yaml/v3"
)

// file is one compose or env file as read.
type file struct {
	path string
	b    []byte
	doc  *yaml.Node // compose files only
}

// state is a project's files as read once for a plan.
type state struct {
	src     Sources
	compose []*file
	env     []*file
	vals    map[string]string // the env files' variables (a later file wins)
}

func load(src Sources) (*state, error) {
	st := &state{src: src}
	for _, p := range src.ComposeFiles {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		doc, err := parseYAML(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		st.compose = append(st.compose, &file{path: p, b: b, doc: doc})
	}
	for _, p := range src.EnvFiles {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		st.env = append(st.env, &file{path: p, b: b})
	}
	vals, err := envValues(src, st.env, nil)
	if err != nil {
		return nil, err
	}
	st.vals = vals
	return st, nil
}

func parseYAML(b []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	return &doc, nil
}

// envValues reads the env files as compose does (each file may use the shell's and the
// earlier files' variables), with edits applied to their bytes first.
func envValues(src Sources, files []*file, edits []Edit) (map[string]string, error) {
	vals := map[string]string{}
	for _, f := range files {
		b, err := edited(f, edits)
		if err != nil {
			return nil, err
		}
		m, err := dotenv.ParseWithLookup(bytes.NewReader(b), func(k string) (string, bool) {
			if v, ok := src.shell(k); ok {
				return v, true
			}
			v, ok := vals[k]
			return v, ok
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.path, err)
		}
		for k, v := range m {
			vals[k] = v
		}
	}
	return vals, nil
}

func edited(f *file, edits []Edit) ([]byte, error) {
	var mine []Edit
	for _, e := range edits {
		if e.File == f.path {
			mine = append(mine, e)
		}
	}
	if len(mine) == 0 {
		return f.b, nil
	}
	return splice(f.b, mine)
}

// lookup is a variable as compose sees it: the shell first, then the env files.
func (st *state) lookup(vals map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if v, ok := st.src.shell(k); ok {
			return v, true
		}
		v, ok := vals[k]
		return v, ok
	}
}

// images is every service's image reference (interpolated) as the files give it, with
// edits applied first.
func (st *state) images(edits []Edit) (map[string]string, error) {
	raw := map[string]string{}
	for _, f := range st.compose {
		doc := f.doc
		if len(edits) > 0 {
			b, err := edited(f, edits)
			if err != nil {
				return nil, err
			}
			if doc, err = parseYAML(b); err != nil {
				return nil, fmt.Errorf("%s: %w", f.path, err)
			}
		}
		svcs := mapValue(root(doc), "services")
		if svcs == nil || svcs.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(svcs.Content); i += 2 {
			if loc := findImage(svcs.Content[i+1]); loc != nil {
				raw[svcs.Content[i].Value] = loc.scalar().Value
			}
		}
	}
	vals, err := envValues(st.src, st.env, edits)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for s, t := range raw {
		v, err := expand(t, st.lookup(vals))
		if err != nil {
			return nil, fmt.Errorf("image of %s: %w", s, err)
		}
		out[s] = v
	}
	return out, nil
}

func root(doc *yaml.Node) *yaml.Node {
	if doc != nil && doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		return doc.Content[0]
	}
	return nil
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// mapValue is the value of key in mapping m (aliases followed), nil when absent.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	m = deref(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i].Tag != "!!merge" {
			return m.Content[i+1]
		}
	}
	return nil
}

// location is where a service's image value sits in one compose file.
type location struct {
	value *yaml.Node // the value of the image key (may be an alias)
	// merged is the anchored mapping the key came from through "<<" (nil: the service's own).
	merged *yaml.Node
}

func (l *location) scalar() *yaml.Node { return deref(l.value) }

// findImage finds the image key of a service mapping, also through merge keys ("<<: *x").
func findImage(svc *yaml.Node) *location {
	svc = deref(svc)
	if svc == nil || svc.Kind != yaml.MappingNode {
		return nil
	}
	if v := mapValue(svc, "image"); v != nil {
		if s := deref(v); s == nil || s.Kind != yaml.ScalarNode || s.Tag == "!!null" || s.Tag == "!reset" {
			return nil
		}
		return &location{value: v}
	}
	// Merge keys: the first mapping that has the key wins (YAML merge semantics).
	for i := 0; i+1 < len(svc.Content); i += 2 {
		if svc.Content[i].Tag != "!!merge" {
			continue
		}
		v := svc.Content[i+1]
		srcs := []*yaml.Node{v}
		if d := deref(v); d != nil && d.Kind == yaml.SequenceNode {
			srcs = d.Content
		}
		for _, m := range srcs {
			if loc := findImage(m); loc != nil {
				if loc.merged == nil {
					loc.merged = deref(m)
				}
				return loc
			}
		}
	}
	return nil
}

// find is the last compose file that sets the service's image, and where.
func (st *state) find(svc string) (*file, *location) {
	var f *file
	var loc *location
	for _, cf := range st.compose {
		if l := findImage(mapValue(mapValue(root(cf.doc), "services"), svc)); l != nil {
			f, loc = cf, l
		}
	}
	return f, loc
}

// uses counts what takes its value from node n of doc: every alias of it, and n itself
// unless it sits under a top-level extension key ("x-..."), which compose ignores.
func uses(doc *yaml.Node, n *yaml.Node) (aliases int, own bool) {
	var walk func(x *yaml.Node, inExt bool)
	walk = func(x *yaml.Node, inExt bool) {
		if x == nil {
			return
		}
		if x.Kind == yaml.AliasNode {
			if x.Alias == n {
				aliases++
			}
			return
		}
		if x == n && !inExt {
			own = true
		}
		for i, c := range x.Content {
			ext := inExt
			if x == root(doc) && x.Kind == yaml.MappingNode && i%2 == 1 && strings.HasPrefix(x.Content[i-1].Value, "x-") {
				ext = true
			}
			walk(c, ext)
		}
	}
	walk(doc, false)
	return aliases, own
}

// shared says why editing the service's image value would change other nodes too, "" when
// it would not.
func shared(f *file, svc string, loc *location) string {
	s := loc.scalar()
	if loc.value.Kind == yaml.AliasNode {
		if a, own := uses(f.doc, s); a > 1 || own {
			return fmt.Sprintf("its image is the alias *%s in %s, which other nodes use too", loc.value.Value, f.path)
		}
	} else if s.Anchor != "" {
		if a, _ := uses(f.doc, s); a > 0 {
			return fmt.Sprintf("its image is the anchor &%s in %s, which other nodes use too", s.Anchor, f.path)
		}
	}
	if m := loc.merged; m != nil {
		if a, own := uses(f.doc, m); a > 1 || own {
			return fmt.Sprintf("its image comes from the mapping &%s in %s (through <<), which other nodes use too", m.Anchor, f.path)
		}
	}
	return ""
}

// offsetOf is the byte offset of a node's line and (rune) column in b.
func offsetOf(b []byte, line, col int) (int, bool) {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			return 0, false
		}
		off += i + 1
	}
	if line == 1 && bytes.HasPrefix(b, []byte("\ufeff")) {
		off += 3
	}
	for c := 1; c < col; c++ {
		if off >= len(b) || b[off] == '\n' {
			return 0, false
		}
		_, w := utf8.DecodeRune(b[off:])
		off += w
	}
	return off, true
}

// content is the byte offset of a scalar's text in the file (inside its quotes); the
// text there equals the scalar's value (plain or quoted, on one line, without escapes).
func content(f *file, s *yaml.Node) (int, error) {
	off, ok := offsetOf(f.b, s.Line, s.Column)
	if !ok {
		return 0, fmt.Errorf("%s:%d:%d: position not found", f.path, s.Line, s.Column)
	}
	// Skip an anchor (&a) and a tag (!!str) before the scalar.
	for off < len(f.b) && (f.b[off] == '&' || f.b[off] == '!') {
		for off < len(f.b) && f.b[off] != ' ' && f.b[off] != '\t' && f.b[off] != '\n' && f.b[off] != '\r' {
			off++
		}
		for off < len(f.b) && (f.b[off] == ' ' || f.b[off] == '\t') {
			off++
		}
	}
	switch s.Style &^ yaml.TaggedStyle {
	case 0:
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		q := byte('"')
		if s.Style&yaml.SingleQuotedStyle != 0 {
			q = '\''
		}
		if off >= len(f.b) || f.b[off] != q {
			return 0, fmt.Errorf("%s:%d: the quoted value was not found where YAML put it", f.path, s.Line)
		}
		off++
		end := off + len(s.Value)
		if end >= len(f.b) || f.b[end] != q {
			return 0, fmt.Errorf("%s:%d: the quoted value %q uses escapes or spans lines", f.path, s.Line, s.Value)
		}
	default:
		return 0, fmt.Errorf("%s:%d: the value is a block scalar (| or >)", f.path, s.Line)
	}
	if strings.ContainsAny(s.Value, "\r\n") || off+len(s.Value) > len(f.b) || string(f.b[off:off+len(s.Value)]) != s.Value {
		return 0, fmt.Errorf("%s:%d: the value %q is not written on one line as it reads", f.path, s.Line, s.Value)
	}
	return off, nil
}
