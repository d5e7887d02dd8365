package composemerge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// parseDoc parses a compose file into its document node and top-level mapping (an empty file
// is an empty mapping).
func parseDoc(name string, b []byte) (*yaml.Node, *yaml.Node, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			return &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{m}}, m, nil
		}
		return nil, nil, fmt.Errorf("compose merge: %s file: %w", name, err)
	}
	if len(doc.Content) == 0 {
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		doc.Content = []*yaml.Node{m}
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		*root = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	if root.Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("compose merge: %s file: the top level is not a mapping", name)
	}
	// The merge compares decoded values: a file that does not decode (duplicate keys, an
	// unknown anchor) is refused here rather than half-merged.
	var v any
	if err := doc.Decode(&v); err != nil {
		return nil, nil, fmt.Errorf("compose merge: %s file: %w", name, err)
	}
	return &doc, root, nil
}

func encode(doc *yaml.Node, indent int) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(indent)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// indentOf guesses the file's indentation: the smallest leading run of spaces of a content line.
func indentOf(b []byte) int {
	best := 0
	for _, line := range strings.Split(string(b), "\n") {
		t := strings.TrimLeft(line, " ")
		if t == "" || strings.HasPrefix(t, "#") || strings.HasPrefix(t, "- ") {
			continue
		}
		if n := len(line) - len(t); n > 0 && (best == 0 || n < best) {
			best = n
		}
	}
	if best < 2 || best > 8 {
		return 2
	}
	return best
}

// fixAliases replaces an alias whose anchor no longer comes before it (the anchored node was
// removed or replaced) with a copy of the value it stood for, so the result always parses.
func fixAliases(n *yaml.Node, seen map[*yaml.Node]bool) {
	if n == nil {
		return
	}
	if n.Kind == yaml.AliasNode {
		if !seen[n.Alias] {
			*n = *clone(n.Alias)
		}
		return
	}
	if n.Anchor != "" {
		seen[n] = true
	}
	for _, c := range n.Content {
		fixAliases(c, seen)
	}
}

// clone deep-copies a node, resolving aliases and dropping anchors (a node moved from the
// user's file into upstream's must not bring names that could clash).
func clone(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		c := clone(n.Alias)
		if n.LineComment != "" {
			c.LineComment = n.LineComment
		}
		return c
	}
	c := *n
	c.Anchor = ""
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, x := range n.Content {
		c.Content[i] = clone(x)
	}
	return &c
}

// resolve follows an alias.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// equal compares two nodes as the values they decode to.
func equal(a, b *yaml.Node) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var va, vb any
	ea, eb := a.Decode(&va), b.Decode(&vb)
	if ea != nil || eb != nil {
		return show(a) == show(b)
	}
	return reflect.DeepEqual(va, vb)
}

// show renders a node's value on one line for the report.
func show(n *yaml.Node) string {
	n = resolve(n)
	if n == nil {
		return ""
	}
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	c := clone(n)
	stripComments(c)
	c.Style = yaml.FlowStyle
	b, err := yaml.Marshal(c)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func stripComments(n *yaml.Node) {
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	n.Style &^= yaml.LiteralStyle | yaml.FoldedStyle
	for _, c := range n.Content {
		stripComments(c)
	}
}

// mapGet returns the value node of key in a mapping (nil when absent or not a mapping).
func mapGet(m *yaml.Node, key string) *yaml.Node {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func mapIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

func mapKeys(m *yaml.Node) []string {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	var ks []string
	for i := 0; i+1 < len(m.Content); i += 2 {
		ks = append(ks, m.Content[i].Value)
	}
	return ks
}

// mapSet sets key to val in m (appending the key when absent; keyNode gives its comments).
func mapSet(m *yaml.Node, key string, val *yaml.Node, keyNode *yaml.Node) {
	if i := mapIndex(m, key); i >= 0 {
		old := m.Content[i+1]
		if val.LineComment == "" && val.HeadComment == "" && val.FootComment == "" {
			val.LineComment = old.LineComment
		}
		m.Content[i+1] = val
		return
	}
	k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}
	if keyNode != nil {
		k = clone(keyNode)
	}
	m.Content = append(m.Content, k, val)
}

func mapDelete(m *yaml.Node, key string) {
	if i := mapIndex(m, key); i >= 0 {
		m.Content = append(m.Content[:i:i], m.Content[i+2:]...)
	}
}

func mapKeyNode(m *yaml.Node, key string) *yaml.Node {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	if i := mapIndex(m, key); i >= 0 {
		return m.Content[i]
	}
	return nil
}
