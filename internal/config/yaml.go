package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	yaml "go.yaml.in/yaml/v3"
)

var yamlLineRE = regexp.MustCompile(`line (\d+)(?:, column (\d+))?: `)

func yamlParseError(name string, err error) error {
	pe := &ParseError{File: name, Format: YAML, Line: 1, Msg: err.Error(), Err: err}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		pe.Msg = te.Errors[0]
	}
	if m := yamlLineRE.FindStringSubmatchIndex(pe.Msg); m != nil {
		pe.Line, _ = strconv.Atoi(pe.Msg[m[2]:m[3]])
		if m[4] >= 0 {
			pe.Column, _ = strconv.Atoi(pe.Msg[m[4]:m[5]])
		}
		pe.Msg = pe.Msg[m[1]:]
	}
	return pe
}

func parseYAML(name string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // empty document
		}
		return nil, yamlParseError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &ParseError{File: name, Format: YAML, Line: extra.Line, Column: extra.Column,
			Msg: "more than one YAML document; only single-document files can be merged"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlParseError(name, err)
	}
	if err := yamlCheckDuplicates(name, &doc); err != nil {
		return nil, err
	}
	return &doc, nil
}

func yamlCheckDuplicates(name string, n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode {
				if seen[k.Value] {
					return &ParseError{File: name, Format: YAML, Line: k.Line, Column: k.Column,
						Msg: fmt.Sprintf("mapping key %q already defined", k.Value)}
				}
				seen[k.Value] = true
			}
		}
	}
	for _, c := range n.Content {
		if err := yamlCheckDuplicates(name, c); err != nil {
			return err
		}
	}
	return nil
}

func yamlRoot(doc *yaml.Node) *yaml.Node {
	if doc == nil {
		return nil
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil
		}
		return doc.Content[0]
	}
	return doc
}

func yamlTypeName(n *yaml.Node) string {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return "string"
		case "!!int":
			return "integer"
		case "!!float":
			return "float"
		case "!!bool":
			return "bool"
		case "!!null":
			return "null"
		case "!!timestamp":
			return "timestamp"
		}
		return n.ShortTag()
	}
	return "unknown"
}

// yamlCompatible: integer and float are one type (number); a null on either
// side accepts the other (null means "no default" / "unset").
func yamlCompatible(t, u *yaml.Node) bool {
	a, b := yamlTypeName(t), yamlTypeName(u)
	num := func(s string) bool { return s == "integer" || s == "float" }
	return a == b || (num(a) && num(b)) || a == "null" || b == "null"
}

func yamlEqual(a, b *yaml.Node) bool {
	if a.Kind != b.Kind || a.Value != b.Value || a.ShortTag() != b.ShortTag() || len(a.Content) != len(b.Content) {
		return false
	}
	for i := range a.Content {
		if !yamlEqual(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}

func yamlMergeMapping(tm, um *yaml.Node, prefix []string, opts Options, rep *Report) {
	ukeys := map[string]int{}
	for i := 0; i+1 < len(um.Content); i += 2 {
		ukeys[um.Content[i].Value] = i
	}
	tkeys := map[string]bool{}
	for i := 0; i+1 < len(tm.Content); i += 2 {
		k, tv := tm.Content[i], tm.Content[i+1]
		tkeys[k.Value] = true
		parts := append(append([]string(nil), prefix...), k.Value)
		path := joinPath(parts)
		ui, ok := ukeys[k.Value]
		if opts.isVersionKey(path) {
			rep.Version = &VersionChange{Key: path, To: tv.Value}
			if ok {
				rep.Version.From = um.Content[ui+1].Value
			}
			continue
		}
		if !ok {
			rep.New = append(rep.New, path)
			continue
		}
		uv := um.Content[ui+1]
		if tv.Kind == yaml.MappingNode && uv.Kind == yaml.MappingNode {
			yamlMergeMapping(tv, uv, parts, opts, rep)
			continue
		}
		if !yamlCompatible(tv, uv) {
			rep.TypeChanged = append(rep.TypeChanged, TypeChange{Key: path, Template: yamlTypeName(tv), Current: yamlTypeName(uv)})
			continue
		}
		if yamlEqual(tv, uv) {
			continue
		}
		rep.Changed = append(rep.Changed, path)
		nv := *uv
		if nv.LineComment == "" || nv.LineComment == tv.LineComment {
			nv.LineComment = tv.LineComment
		}
		if nv.HeadComment == "" {
			nv.HeadComment = tv.HeadComment
		}
		if nv.FootComment == "" {
			nv.FootComment = tv.FootComment
		}
		tm.Content[i+1] = &nv
	}
	for i := 0; i+1 < len(um.Content); i += 2 {
		k := um.Content[i]
		if tkeys[k.Value] {
			continue
		}
		path := joinPath(append(append([]string(nil), prefix...), k.Value))
		if !opts.KeepUnknown {
			rep.Removed = append(rep.Removed, path)
			continue
		}
		rep.KeptUnknown = append(rep.KeptUnknown, path)
		tm.Content = append(tm.Content, k, um.Content[i+1])
	}
}

// yamlIndent finds the template's indentation step (2 when it has no nesting).
func yamlIndent(n *yaml.Node) int {
	if n == nil {
		return 2
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind == yaml.MappingNode && len(v.Content) > 0 && v.Style&yaml.FlowStyle == 0 {
				if d := v.Content[0].Column - k.Column; d > 0 {
					return d
				}
			}
		}
	}
	for _, c := range n.Content {
		if d := yamlIndent(c); d != 2 {
			return d
		}
	}
	return 2
}

func mergeYAML(template, current []byte, opts Options, rep *Report) ([]byte, error) {
	tdoc, err := parseYAML(opts.TemplateName, template)
	if err != nil {
		return nil, err
	}
	udoc, err := parseYAML(opts.CurrentName, current)
	if err != nil {
		return nil, err
	}
	troot, uroot := yamlRoot(tdoc), yamlRoot(udoc)
	if troot == nil {
		return append([]byte(nil), template...), nil
	}
	switch {
	case uroot == nil:
		if troot.Kind == yaml.MappingNode {
			yamlMergeMapping(troot, &yaml.Node{Kind: yaml.MappingNode}, nil, opts, rep)
		}
	case troot.Kind == yaml.MappingNode && uroot.Kind == yaml.MappingNode:
		yamlMergeMapping(troot, uroot, nil, opts, rep)
	case !yamlCompatible(troot, uroot):
		rep.TypeChanged = append(rep.TypeChanged, TypeChange{Key: "(document)", Template: yamlTypeName(troot), Current: yamlTypeName(uroot)})
	case !yamlEqual(troot, uroot):
		rep.Changed = append(rep.Changed, "(document)")
		tdoc.Content[0] = uroot
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(yamlIndent(troot))
	if err := enc.Encode(tdoc); err != nil {
		return nil, fmt.Errorf("encoding merged YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding merged YAML: %w", err)
	}
	if _, err := parseYAML("merged output", buf.Bytes()); err != nil {
		return nil, fmt.Errorf("internal error: merged YAML does not parse: %w", err)
	}
	return buf.Bytes(), nil
}
