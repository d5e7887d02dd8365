package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/docker-maim/docker-maim/internal/redact"
	"github.com/pelletier/go-toml/v2/unstable"
	yaml "go.yaml.in/yaml/v3"
)

// Redacted stands for a secret value in diffs and reports; Diff adds whether the value
// changed: "<redacted: changed>", "<redacted: unchanged>".
const Redacted = redact.Redacted

// SecretKey tells whether a config key's value is a secret by the key's name (case
// does not matter): redact.Key, the one word list of every plan. A dotted path is secret
// when any of its parts is (every key of a [secrets] table is).
func SecretKey(key string) bool { return redact.Key(key) }

// secretSpan is one secret value in a config text: bytes [start, end) of data, and the
// key it belongs to (with an occurrence number, to match the same value in another
// version of the file), and the value as the format reads it (quotes, escapes and
// comments do not make a value differ).
type secretSpan struct {
	id         string
	start, end int
	value      string
}

// secretSpans finds the secret values of data: every dotenv value; in TOML, YAML and
// JSON the values of keys SecretKey names (every scalar inside an array or table
// value) and any value that holds a secret by itself (redact.Find: a token of a known
// shape, a URL's password, a private key, a command line's password argument). A YAML
// value on one line hides only what redact.Find finds in it; every other value is
// hidden whole.
//
// find is redact.Find, or a function that gives its answers (Diff remembers them for
// the two files it compares, whatever their size).
func secretSpans(data []byte, f Format, find func(string) [][2]int) ([]secretSpan, error) {
	c := &spanCollector{seen: map[string]int{}, find: find}
	var err error
	switch f {
	case Dotenv:
		var d *envDoc
		if d, err = parseDotenv("", data); err == nil {
			for _, e := range d.entries {
				c.add(e.key, e.valStart, e.valEnd, e.value)
			}
		}
	case TOML:
		err = tomlSecrets(data, c)
	case YAML:
		err = yamlSecrets(data, c)
	case JSON:
		err = jsonSecrets(data, c)
	default:
		err = fmt.Errorf("%w %q", ErrUnsupportedFormat, f)
	}
	sort.Slice(c.spans, func(i, j int) bool { return c.spans[i].start < c.spans[j].start })
	return c.spans, err
}

type spanCollector struct {
	spans []secretSpan
	seen  map[string]int
	find  func(string) [][2]int // redact.Find
}

func (c *spanCollector) add(path string, start, end int, value string) {
	if end <= start {
		return
	}
	n := c.seen[path]
	c.seen[path] = n + 1
	c.spans = append(c.spans, secretSpan{id: fmt.Sprintf("%s#%d", path, n), start: start, end: end, value: value})
}

func anySecret(parts []string) bool {
	for _, p := range parts {
		if SecretKey(p) {
			return true
		}
	}
	return false
}

func tomlSecrets(data []byte, c *spanCollector) error {
	var table []string
	p := unstable.Parser{}
	p.Reset(data)
	var walk func(path []string, secret bool, n *unstable.Node)
	walk = func(path []string, secret bool, n *unstable.Node) {
		switch n.Kind {
		case unstable.Array:
			for it := n.Children(); it.Next(); {
				walk(path, secret, it.Node())
			}
		case unstable.InlineTable:
			for it := n.Children(); it.Next(); {
				kv := it.Node()
				if kv.Kind != unstable.KeyValue {
					continue
				}
				parts, _ := keyParts(kv.Key())
				walk(append(append([]string(nil), path...), parts...), secret || anySecret(parts), kv.Value())
			}
		default:
			if secret || len(c.find(string(n.Data))) > 0 {
				start := int(n.Raw.Offset)
				c.add(strings.Join(path, "."), start, start+int(n.Raw.Length), string(n.Data))
			}
		}
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table, _ = keyParts(e.Key())
		case unstable.KeyValue:
			parts, _ := keyParts(e.Key())
			full := append(append([]string(nil), table...), parts...)
			walk(full, anySecret(full), e.Value())
		}
	}
	return p.Error()
}

func jsonSecrets(data []byte, c *spanCollector) error {
	type frame struct {
		obj, expectKey, secret bool
		key, path              string
	}
	var stack []*frame
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	valueCtx := func() (secret bool, path string) {
		if len(stack) == 0 {
			return false, ""
		}
		top := stack[len(stack)-1]
		if top.obj {
			return top.secret || SecretKey(top.key), top.path + "." + top.key
		}
		return top.secret, top.path + "[]"
	}
	for {
		prev := int(dec.InputOffset())
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		end := int(dec.InputOffset())
		start := prev
		for start < end && (data[start] == ' ' || data[start] == '\t' || data[start] == '\r' || data[start] == '\n' || data[start] == ',' || data[start] == ':') {
			start++
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				secret, path := valueCtx()
				stack = append(stack, &frame{obj: d == '{', expectKey: d == '{', secret: secret, path: path})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].obj {
					stack[len(stack)-1].expectKey = true
				}
			}
			continue
		}
		if top != nil && top.obj && top.expectKey {
			top.key, _ = tok.(string)
			top.expectKey = false
			continue
		}
		secret, path := valueCtx()
		if s, ok := tok.(string); secret || (ok && len(c.find(s)) > 0) {
			c.add(path, start, end, fmt.Sprint(tok))
		}
		if top != nil && top.obj {
			top.expectKey = true
		}
	}
}

// yamlSecrets records the secret values of a YAML text: walking the parsed
// document for the values to hide, and finding each in the text by its line and
// column.
func yamlSecrets(data []byte, c *spanCollector) error {
	doc, err := parseYAML("", data)
	if err != nil || doc == nil { // nil: an empty file, no value
		return err
	}
	y := &yamlSpans{data: data, c: c}
	y.lineStarts = append(y.lineStarts, 0)
	for i, b := range data {
		if b == '\n' {
			y.lineStarts = append(y.lineStarts, i+1)
		}
	}
	y.walk("", false, doc, -1)
	return nil
}

// yamlSpans finds the YAML nodes' values in the text they were parsed from.
// Lines are 0-based.
type yamlSpans struct {
	data       []byte
	lineStarts []int
	c          *spanCollector
}

// lineEnd is the index of line l's '\n' (or len(data)).
func (y *yamlSpans) lineEnd(l int) int {
	if l+1 < len(y.lineStarts) {
		return y.lineStarts[l+1] - 1
	}
	return len(y.data)
}

func (y *yamlSpans) indent(l int) int {
	i := y.lineStarts[l]
	for i < y.lineEnd(l) && y.data[i] == ' ' {
		i++
	}
	return i - y.lineStarts[l]
}

func (y *yamlSpans) blank(l int) bool {
	return len(bytes.TrimSpace(y.data[y.lineStarts[l]:y.lineEnd(l)])) == 0
}

// walk visits n at path: a value is secret when a key above it is (SecretKey)
// or, in a sequence, when the item before is a flag that takes a secret; any
// other value is searched for secrets of a known shape (redact.Find). base is the
// indentation n's continuation lines exceed.
func (y *yamlSpans) walk(path string, secret bool, n *yaml.Node, base int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, ch := range n.Content {
			y.walk(path, secret, ch, -1)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			y.walk(path+"."+k.Value, secret || SecretKey(k.Value), n.Content[i+1], k.Column-1)
		}
	case yaml.SequenceNode:
		for i, ch := range n.Content {
			// An argument list (command: [...]): the item after a secret-looking flag.
			afterFlag := i > 0 && n.Content[i-1].Kind == yaml.ScalarNode && redact.FlagTakesSecret(n.Content[i-1].Value)
			y.walk(path+"[]", secret || afterFlag, ch, n.Column-1)
		}
	case yaml.ScalarNode:
		if secret {
			y.scalar(path, n, base, nil)
		} else if rs := y.c.find(n.Value); len(rs) > 0 {
			y.scalar(path, n, base, rs)
		}
	}
}

// scalar records n; base is the indentation its value's continuation lines exceed
// (its key's column, or its sequence's dash). With ranges (of n.Value, from
// redact.Find) only those parts are recorded when the value is written on one line as
// it reads (plain, or quoted without escapes); otherwise the whole value is.
func (y *yamlSpans) scalar(path string, n *yaml.Node, base int, ranges [][2]int) {
	l := n.Line - 1
	if l < 0 || l >= len(y.lineStarts) {
		return
	}
	// The column counts characters.
	start := y.lineStarts[l]
	for col := 1; col < n.Column && start < y.lineEnd(l); col++ {
		_, size := utf8.DecodeRune(y.data[start:])
		start += size
	}
	end := y.continued(l, base, y.firstLineEnd(n, l, start))
	if ranges != nil && end <= y.lineEnd(l) {
		if off := rawValueOffset(n, string(y.data[start:end]), start); off >= 0 {
			for _, r := range ranges {
				y.c.add(path, off+r[0], off+r[1], n.Value[r[0]:r[1]])
			}
			return
		}
	}
	y.c.add(path, start, end, n.Value)
}

// firstLineEnd is where n's value, starting at start on line l, ends on that
// line: after the closing quote of a quoted value, before the comment (or the
// flow collection's ',', ']' or '}') after a plain one; a block scalar takes the
// whole line.
func (y *yamlSpans) firstLineEnd(n *yaml.Node, l, start int) int {
	end := y.lineEnd(l)
	line := y.data[start:end]
	switch {
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 && len(line) > 0:
		q := line[0]
		for i := 1; i < len(line); i++ {
			if line[i] == '\\' && q == '"' {
				i++
				continue
			}
			if line[i] == q {
				if q == '\'' && i+1 < len(line) && line[i+1] == '\'' {
					i++
					continue
				}
				return start + i + 1
			}
		}
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0:
		for i := 0; i < len(line); i++ {
			if (line[i] == '#' && i > 0 && (line[i-1] == ' ' || line[i-1] == '\t')) ||
				(n.Style&yaml.FlowStyle != 0 && (line[i] == ',' || line[i] == ']' || line[i] == '}')) {
				return start + len(bytes.TrimRight(line[:i], " \t"))
			}
		}
		return start + len(bytes.TrimRight(line, " \t\r"))
	}
	return end
}

// continued extends a value that ends at end on line l over the lines below
// indented deeper than base: they continue the value (block scalars, folded
// plain or quoted strings).
func (y *yamlSpans) continued(l, base, end int) int {
	for k := l + 1; k < len(y.lineStarts); k++ {
		if y.blank(k) {
			continue
		}
		if y.indent(k) <= base {
			break
		}
		end = len(bytes.TrimRight(y.data[:y.lineEnd(k)], " \t\r"))
	}
	return end
}

// rawValueOffset is where n.Value starts in the text when raw, the value as
// written at start, reads as it is (plain, or quoted without escapes); -1 when
// it does not.
func rawValueOffset(n *yaml.Node, raw string, start int) int {
	switch {
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 && raw == n.Value:
		return start
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 && len(raw) == len(n.Value)+2 && raw[1:len(raw)-1] == n.Value:
		return start + 1
	}
	return -1
}

// redactedLines splits data into lines (as Diff does) with every secret value replaced
// by a placeholder; a value spanning lines leaves a placeholder on each, so line i of
// the result is line i of data. spans and err are secretSpans' of data; label gives the
// placeholder of each span. When data does not parse (err), every line is replaced.
func redactedLines(data []byte, spans []secretSpan, err error, label func(id string) string) []string {
	if err != nil {
		lines := strings.Split(string(data), "\n")
		for i := range lines {
			lines[i] = Redacted + " (the file does not parse)"
		}
		return lines
	}
	var b strings.Builder
	pos := 0
	for _, s := range spans {
		if s.start < pos {
			continue
		}
		b.Write(data[pos:s.start])
		ph := label(s.id)
		b.WriteString(ph)
		for range bytes.Count(data[s.start:s.end], []byte("\n")) {
			b.WriteString("\n" + ph)
		}
		pos = s.end
	}
	b.Write(data[pos:])
	return strings.Split(b.String(), "\n")
}

// secretValues maps each secret span to its value.
func secretValues(spans []secretSpan) map[string]string {
	out := make(map[string]string, len(spans))
	for _, s := range spans {
		out[s.id] = s.value
	}
	return out
}
