package composemerge

import (
	"path"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// entry is one element of a keyed list or mapping: environment and labels entries by name,
// ports by container port, volumes by container target, depends_on and networks by name.
type entry struct {
	key  string
	val  *yaml.Node // the element (a list item, or a mapping's value)
	kn   *yaml.Node // the mapping key node (mapping form only)
	text string     // compared value
}

type entries struct {
	form  yaml.Kind // SequenceNode or MappingNode
	list  []entry
	index map[string]int
}

// entriesOf reads a keyed value; ok is false when it has another shape or repeats a key (the
// caller then merges it as one value).
func entriesOf(kind string, n *yaml.Node) (entries, bool) {
	n = resolve(n)
	es := entries{index: map[string]int{}}
	if n == nil {
		return es, true
	}
	add := func(e entry) bool {
		if _, dup := es.index[e.key]; dup || e.key == "" {
			return false
		}
		es.index[e.key] = len(es.list)
		es.list = append(es.list, e)
		return true
	}
	switch n.Kind {
	case yaml.SequenceNode:
		es.form = yaml.SequenceNode
		for _, it := range n.Content {
			k, text, ok := itemKey(kind, it)
			if !ok || !add(entry{key: k, val: it, text: text}) {
				return es, false
			}
		}
	case yaml.MappingNode:
		if kind == "ports" || kind == "volumes" {
			return es, false
		}
		es.form = yaml.MappingNode
		for i := 0; i+1 < len(n.Content); i += 2 {
			v := n.Content[i+1]
			if !add(entry{key: n.Content[i].Value, val: v, kn: n.Content[i], text: valueText(kind, v)}) {
				return es, false
			}
		}
	default:
		return es, false
	}
	return es, true
}

// valueText is the compared text of a mapping-form value ("\x00" for null: a name without value).
func valueText(kind string, v *yaml.Node) string {
	v = resolve(v)
	if v.Kind == yaml.ScalarNode {
		if v.Tag == "!!null" && (kind == "environment" || kind == "labels" || kind == "annotations") {
			return "\x00"
		}
		return v.Value
	}
	return show(v)
}

// itemKey reads a list element of a keyed kind.
func itemKey(kind string, it *yaml.Node) (key, text string, ok bool) {
	it = resolve(it)
	switch kind {
	case "environment", "labels", "annotations", "extra_hosts":
		if it.Kind != yaml.ScalarNode {
			return "", "", false
		}
		sep := "="
		if kind == "extra_hosts" && !strings.Contains(it.Value, "=") {
			sep = ":"
		}
		k, v, has := strings.Cut(it.Value, sep)
		if !has {
			return it.Value, "\x00", true
		}
		return k, v, true
	case "depends_on", "networks":
		if it.Kind != yaml.ScalarNode {
			return "", "", false
		}
		return it.Value, "", true
	case "ports":
		if it.Kind == yaml.MappingNode {
			t := mapGet(it, "target")
			if t == nil {
				return "", "", false
			}
			proto := "tcp"
			if pr := mapGet(it, "protocol"); pr != nil {
				proto = resolve(pr).Value
			}
			return resolve(t).Value + "/" + proto, show(it), true
		}
		if it.Kind != yaml.ScalarNode {
			return "", "", false
		}
		s, proto, _ := strings.Cut(it.Value, "/")
		if proto == "" {
			proto = "tcp"
		}
		parts := SplitColons(s)
		return parts[len(parts)-1] + "/" + proto, it.Value, true
	case "volumes":
		if it.Kind == yaml.MappingNode {
			t := mapGet(it, "target")
			if t == nil {
				return "", "", false
			}
			return path.Clean(resolve(t).Value), show(it), true
		}
		if it.Kind != yaml.ScalarNode {
			return "", "", false
		}
		_, target, _ := volumeParts(it.Value)
		return target, it.Value, true
	}
	return "", "", false
}

// SplitColons splits a compose short-syntax entry (a volume, a port) at ':' outside ${...},
// on the file's text as written (before interpolation).
func SplitColons(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
			i++
		case s[i] == '}' && depth > 0:
			depth--
		case s[i] == ':' && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// volumeParts splits a short volume "SOURCE:TARGET[:MODE]" (or "TARGET").
func volumeParts(v string) (source, target, mode string) {
	parts := SplitColons(v)
	switch {
	case len(parts) == 1:
		return "", path.Clean(parts[0]), ""
	case len(parts) == 2:
		return parts[0], path.Clean(parts[1]), ""
	default:
		return parts[0], path.Clean(parts[1]), strings.Join(parts[2:], ":")
	}
}

// render builds an element of entries es's form for key k from the user's entry u.
func render(kind string, es entries, u entry, old *yaml.Node) (*yaml.Node, *yaml.Node) {
	uv := resolve(u.val)
	var n *yaml.Node
	var kn *yaml.Node
	switch {
	case es.form == yaml.MappingNode && u.kn == nil: // list item "K=V" into a mapping
		kn = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: u.key}
		if u.text == "\x00" {
			n = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
		} else {
			n = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: u.text}
			if kind == "depends_on" || kind == "networks" {
				n = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			}
		}
		n.LineComment = uv.LineComment
	case es.form == yaml.SequenceNode && u.kn != nil: // mapping entry into a list
		switch {
		case kind == "depends_on" || kind == "networks":
			n = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: u.key}
		case u.text == "\x00":
			n = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: u.key}
		default:
			sep := "="
			if kind == "extra_hosts" {
				sep = ":"
			}
			n = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: u.key + sep + u.text}
		}
		n.LineComment = uv.LineComment
	default:
		n = clone(u.val)
		if u.kn != nil {
			kn = clone(u.kn)
		}
	}
	if old != nil && n.LineComment == "" && n.HeadComment == "" {
		n.LineComment = resolve(old).LineComment
	}
	return kn, n
}

// mergeKeyed merges a keyed service key entry by entry into up's value; false when one of
// the values has another shape (the caller merges it as one value).
func (m *merger) mergeKeyed(svc, kind string, bv, uv, up *yaml.Node) bool {
	pv := mapGet(up, kind)
	bes, okb := entriesOf(kind, bv)
	ues, oku := entriesOf(kind, uv)
	pes, okp := entriesOf(kind, pv)
	if !okb || !oku || !okp || pes.form == 0 || ues.form == 0 {
		return false
	}
	if bv != nil && equal(bv, uv) {
		return true
	}
	if !m.twoWay && bv == nil && equal(uv, pv) {
		return true
	}
	target := resolve(pv)
	if pv.Kind == yaml.AliasNode {
		target = clone(pv)
		mapSet(up, kind, target, nil)
	}
	k := &keyedMerge{m: m, svc: svc, kind: kind, target: target, pes: pes}
	for _, u := range ues.list {
		k.userEntry(u, bes)
	}
	if !m.twoWay {
		for _, b := range bes.list {
			if _, inUser := ues.index[b.key]; inUser {
				continue
			}
			k.removedEntry(b)
		}
	}
	return true
}

// keyedMerge is one mergeKeyed run: the service svc's key kind, upstream's entries (pes)
// and the value the result's entries are written into (target: upstream's own, or a copy
// of what upstream's alias stood for).
type keyedMerge struct {
	m         *merger
	svc, kind string
	target    *yaml.Node
	pes       entries
}

// userEntry merges the user's entry u (bes: base's entries). Three-way, the user's value
// is written where upstream kept base's, an entry only the user added is appended, and
// one upstream removed or changed too is a conflict; two-way, the user's value is written
// where upstream has the entry and dropped where it has not.
func (k *keyedMerge) userEntry(u entry, bes entries) {
	pes := k.pes
	bi, inBase := bes.index[u.key]
	pi, inUp := pes.index[u.key]
	var b, p entry
	if inBase {
		b = bes.list[bi]
	}
	if inUp {
		p = pes.list[pi]
	}
	sameBU := inBase && b.text == u.text
	switch {
	case sameBU:
	case k.m.twoWay && !inUp:
		k.change(u.key, Change{Rule: RuleTwoWayDropped, User: k.shown(u)})
	case k.m.twoWay:
		if p.text != u.text {
			k.replace(u.key, u)
			k.change(u.key, Change{Rule: RuleTwoWayUserValue, Old: k.shown(p), New: k.shown(u)})
		}
	case inUp && p.text == u.text:
	case !inBase && !inUp:
		k.appendEntry(u)
		k.change(u.key, Change{Rule: RuleUserAdded, New: k.shown(u)})
	case !inUp:
		k.change(u.key, Change{Rule: RuleUpstreamRemoved, User: k.shown(u), Conflict: true})
	case inBase && b.text == p.text:
		k.replace(u.key, u)
		k.change(u.key, Change{Rule: RuleUserValue, Old: k.shown(p), New: k.shown(u)})
	default:
		k.change(u.key, Change{Rule: RuleBothChanged, Old: k.shown(p), New: k.shown(p), User: k.shown(u), Conflict: true})
	}
}

// removedEntry handles base's entry b the user removed (three-way only): removed from the
// result when upstream kept it as it was, a conflict when upstream changed it.
func (k *keyedMerge) removedEntry(b entry) {
	pi, inUp := k.pes.index[b.key]
	switch {
	case !inUp:
	case k.pes.list[pi].text == b.text:
		k.remove(b.key)
		k.change(b.key, Change{Rule: RuleUserRemoved, Old: k.shown(b)})
	default:
		p := k.pes.list[pi]
		k.change(b.key, Change{Rule: RuleBothChanged, Old: k.shown(p), New: k.shown(p), User: "(removed)", Conflict: true})
	}
}

// change reports c for the entry named key, with the entry's path, redacting its values
// when the entry's name looks secret.
func (k *keyedMerge) change(key string, c Change) {
	c.Service, c.Path = k.svc, k.label(key)
	k.m.change(c, k.secretKey(key))
}

// label is the report's path of the entry named key.
func (k *keyedMerge) label(key string) string {
	if k.kind == "environment" || k.kind == "labels" || k.kind == "annotations" || k.kind == "depends_on" {
		return k.kind + "." + key
	}
	return k.kind + "[" + key + "]"
}

// shown is an entry's value as the report shows it.
func (k *keyedMerge) shown(e entry) string {
	if e.val == nil {
		return ""
	}
	if k.kind == "environment" || k.kind == "labels" {
		if e.text == "\x00" {
			return e.key
		}
		return e.text
	}
	if e.kn != nil {
		return e.key + ": " + e.text
	}
	return show(e.val)
}

// secretKey is the key whose name decides whether an entry's value is secret: a
// NAME=value entry's name (environment, labels, annotations), as the diff decides it for
// the same line.
func (k *keyedMerge) secretKey(key string) string {
	if k.kind == "environment" || k.kind == "labels" || k.kind == "annotations" {
		return key
	}
	return ""
}

// find is the position of the entry named key in target (recomputed: target changes as
// the merge goes).
func (k *keyedMerge) find(key string) int {
	es, _ := entriesOf(k.kind, k.target)
	if i, ok := es.index[key]; ok {
		return i
	}
	return -1
}

// replace writes the user's entry u in place of target's entry named key.
func (k *keyedMerge) replace(key string, u entry) {
	target := k.target
	i := k.find(key)
	if target.Kind == yaml.MappingNode {
		kn, n := render(k.kind, k.pes, u, target.Content[2*i+1])
		_ = kn
		target.Content[2*i+1] = n
	} else {
		_, n := render(k.kind, k.pes, u, target.Content[i])
		target.Content[i] = n
	}
	k.m.dirty = true
}

// appendEntry adds the user's entry u at the end of target (without comments in a flow
// collection).
func (k *keyedMerge) appendEntry(u entry) {
	target := k.target
	kn, n := render(k.kind, k.pes, u, nil)
	if target.Kind == yaml.MappingNode {
		if kn == nil {
			kn = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: u.key}
		}
		target.Content = append(target.Content, kn, n)
	} else {
		target.Content = append(target.Content, n)
	}
	if target.Style&yaml.FlowStyle != 0 {
		n.LineComment, n.HeadComment = "", ""
	}
	k.m.dirty = true
}

// remove deletes target's entry named key.
func (k *keyedMerge) remove(key string) {
	target := k.target
	i := k.find(key)
	if target.Kind == yaml.MappingNode {
		target.Content = append(target.Content[:2*i:2*i], target.Content[2*i+2:]...)
	} else {
		target.Content = append(target.Content[:i:i], target.Content[i+1:]...)
	}
	k.m.dirty = true
}
