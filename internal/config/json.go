package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// jnode is a JSON value that keeps object key order and scalar text as written.
type jnode struct {
	kind byte // '{', '[', or 's' (scalar: string, number, bool, null)
	raw  json.RawMessage
	keys []string
	vals []*jnode
}

func jsonParseError(name string, data []byte, off int64, msg string, err error) error {
	line, col := lineCol(data, int(off))
	return &ParseError{File: name, Format: JSON, Line: line, Column: col, Msg: msg, Err: err}
}

func parseJSON(name string, data []byte) (*jnode, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			// Offset is just past the offending byte.
			return nil, jsonParseError(name, data, max(se.Offset-1, 0), se.Error(), err)
		}
		return nil, jsonParseError(name, data, int64(len(data)), err.Error(), err)
	}
	return parseJSONValue(name, data, bytes.TrimSpace(data), int64(len(data)-len(bytes.TrimLeft(data, " \t\r\n"))))
}

// parseJSONValue parses raw, which starts at offset base of data (for errors).
func parseJSONValue(name string, data []byte, raw []byte, base int64) (*jnode, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, jsonParseError(name, data, base, "empty value", nil)
	}
	switch raw[0] {
	case '{', '[':
	default:
		return &jnode{kind: 's', raw: append(json.RawMessage(nil), raw...)}, nil
	}
	n := &jnode{kind: raw[0]}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, jsonParseError(name, data, base, err.Error(), err)
	}
	seen := map[string]bool{}
	for dec.More() {
		var key string
		if n.kind == '{' {
			tok, err := dec.Token()
			if err != nil {
				return nil, jsonParseError(name, data, base+dec.InputOffset(), err.Error(), err)
			}
			key, _ = tok.(string)
			if seen[key] {
				return nil, jsonParseError(name, data, base+dec.InputOffset()-int64(len(key))-2,
					fmt.Sprintf("duplicate key %q", key), nil)
			}
			seen[key] = true
		}
		start := dec.InputOffset()
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil && !errors.Is(err, io.EOF) {
			return nil, jsonParseError(name, data, base+start, err.Error(), err)
		}
		// InputOffset before Decode points before the separator; find the value.
		vstart := base + start + int64(bytes.Index(raw[start:], v[:1]))
		child, err := parseJSONValue(name, data, v, vstart)
		if err != nil {
			return nil, err
		}
		n.keys = append(n.keys, key)
		n.vals = append(n.vals, child)
	}
	return n, nil
}

func (n *jnode) typeName() string {
	switch n.kind {
	case '{':
		return "object"
	case '[':
		return "array"
	}
	switch c := n.raw[0]; {
	case c == '"':
		return "string"
	case c == 't' || c == 'f':
		return "bool"
	case c == 'n':
		return "null"
	}
	return "number"
}

func (n *jnode) encode(b *bytes.Buffer) {
	switch n.kind {
	case 's':
		_ = json.Compact(b, n.raw)
	case '[', '{':
		b.WriteByte(n.kind)
		for i, v := range n.vals {
			if i > 0 {
				b.WriteByte(',')
			}
			if n.kind == '{' {
				k, _ := json.Marshal(n.keys[i])
				b.Write(k)
				b.WriteByte(':')
			}
			v.encode(b)
		}
		if n.kind == '[' {
			b.WriteByte(']')
		} else {
			b.WriteByte('}')
		}
	}
}

func (n *jnode) equal(o *jnode) bool {
	var a, b bytes.Buffer
	n.encode(&a)
	o.encode(&b)
	return bytes.Equal(a.Bytes(), b.Bytes())
}

func jsonMergeObject(t, u *jnode, prefix []string, opts Options, rep *Report) {
	uidx := map[string]int{}
	for i, k := range u.keys {
		uidx[k] = i
	}
	tkeys := map[string]bool{}
	for i, k := range t.keys {
		tkeys[k] = true
		parts := append(append([]string(nil), prefix...), k)
		path := joinPath(parts)
		tv := t.vals[i]
		ui, ok := uidx[k]
		if opts.isVersionKey(path) {
			rep.Version = &VersionChange{Key: path, To: jsonScalarText(tv)}
			if ok {
				rep.Version.From = jsonScalarText(u.vals[ui])
			}
			continue
		}
		if !ok {
			rep.New = append(rep.New, path)
			continue
		}
		uv := u.vals[ui]
		if tv.kind == '{' && uv.kind == '{' {
			jsonMergeObject(tv, uv, parts, opts, rep)
			continue
		}
		a, b := tv.typeName(), uv.typeName()
		if a != b && a != "null" && b != "null" {
			rep.TypeChanged = append(rep.TypeChanged, TypeChange{Key: path, Template: a, Current: b})
			continue
		}
		if tv.equal(uv) {
			continue
		}
		rep.Changed = append(rep.Changed, path)
		t.vals[i] = uv
	}
	for i, k := range u.keys {
		if tkeys[k] {
			continue
		}
		path := joinPath(append(append([]string(nil), prefix...), k))
		if !opts.KeepUnknown {
			rep.Removed = append(rep.Removed, path)
			continue
		}
		rep.KeptUnknown = append(rep.KeptUnknown, path)
		t.keys = append(t.keys, k)
		t.vals = append(t.vals, u.vals[i])
	}
}

func jsonScalarText(n *jnode) string {
	if n.kind != 's' {
		var b bytes.Buffer
		n.encode(&b)
		return b.String()
	}
	var s string
	if json.Unmarshal(n.raw, &s) == nil {
		return s
	}
	return string(n.raw)
}

// jsonIndent returns the template's indentation unit ("" when it is compact).
func jsonIndent(data []byte) string {
	lines := bytes.Split(data, []byte("\n"))
	for _, l := range lines[1:] {
		l = bytes.TrimRight(l, "\r")
		t := bytes.TrimLeft(l, " \t")
		if len(t) == 0 || len(t) == len(l) {
			continue
		}
		return string(l[:len(l)-len(t)])
	}
	if len(lines) > 1 {
		return "  "
	}
	return ""
}

func mergeJSON(template, current []byte, opts Options, rep *Report) ([]byte, error) {
	t, err := parseJSON(opts.TemplateName, template)
	if err != nil {
		return nil, err
	}
	var u *jnode
	if len(bytes.TrimSpace(current)) == 0 {
		u = &jnode{kind: '{'}
	} else if u, err = parseJSON(opts.CurrentName, current); err != nil {
		return nil, err
	}
	switch {
	case t.kind == '{' && u.kind == '{':
		jsonMergeObject(t, u, nil, opts, rep)
	case t.typeName() != u.typeName():
		rep.TypeChanged = append(rep.TypeChanged, TypeChange{Key: "(document)", Template: t.typeName(), Current: u.typeName()})
	case !t.equal(u):
		rep.Changed = append(rep.Changed, "(document)")
		t = u
	}
	var compact bytes.Buffer
	t.encode(&compact)
	out := compact.Bytes()
	if ind := jsonIndent(template); ind != "" {
		var b bytes.Buffer
		if err := json.Indent(&b, out, "", ind); err != nil {
			return nil, fmt.Errorf("internal error: indenting merged JSON: %w", err)
		}
		out = b.Bytes()
	}
	if bytes.HasSuffix(template, []byte("\n")) {
		out = append(out, '\n')
	}
	if !json.Valid(out) {
		return nil, errors.New("internal error: merged JSON is invalid")
	}
	return out, nil
}
