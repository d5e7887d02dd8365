// Package composemerge owns the merge of a user's compose file into a release's new one: it
// produces the text of the new compose file that carries the user's own edits, a report of
// every rule it applied, and the unified diff of the user's file against the result. It works
// on yaml.v3 nodes (not compose-go types), so the new upstream file's comments and key order
// survive; it does not interpolate ${VAR}s, read env files, touch the disk or the engine.
//
// Three-way (Merge with a base, the release's previous upstream file): what the user changed
// relative to base is applied onto the new upstream file: changed and added keys and values,
// environment and labels entries (list and map forms, matched by name), ports (matched by
// container port), volumes and binds (matched by container target), depends_on and service
// networks (matched by name), pinned image tags, added services and top-level definitions,
// removed keys and services. When both sides changed the same key differently, upstream's
// value is kept and the rule is reported as a conflict. Entries are matched by key, never by
// position: the result keeps upstream's order, and a user's reorder alone is not a change.
//
// Two-way (no base): under a service both files have, the user's values for keys (and list
// entries) both files have are kept; user-only services and user-only top-level definitions
// (volumes, networks, secrets, configs) are kept; user-only keys inside a shared service are
// dropped (they cannot be told apart from what the release removed) and reported. The user's
// image tag is kept only on upstream's image name when upstream's tag floats (none, latest,
// a variable): a tag upstream fixes may be the one the user's file had from the old release.
//
// In both modes the top-level name: is the user's file's, or absent when it has none
// (RuleProjectName): a release never renames the project.
//
// The report also lists the services that appear and disappear and the binds that move (same
// container target, another host source; or a host source the new file no longer mounts).
// Secrets are redacted in the report and in Diff unless asked otherwise: the values of keys
// that look secret (config.SecretKey) and whatever package redact finds in a value.
package composemerge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"reflect"
	"sort"
	"strings"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/config"
	"github.com/docker-maim/docker-maim/internal/redact"
	yaml "go.yaml.in/yaml/v3"
)

// Mode names.
const (
	ThreeWay = "three-way"
	TwoWay   = "two-way"
)

// Rule names, as they appear in Change.Rule.
const (
	RuleUserValue        = "user-value"             // the user changed a value upstream kept: the user's is written
	RuleUserAdded        = "user-added"             // a key, entry or service only the user added
	RuleUserRemoved      = "user-removed"           // the user removed a key, entry or service upstream kept
	RuleImagePinned      = "image-tag-pinned"       // the user's tag on upstream's image name
	RuleImageRenamed     = "image-renamed-upstream" // upstream changed the image name: the user's tag is not carried
	RuleBothChanged      = "both-changed"           // both changed a value differently: upstream's kept (conflict)
	RuleUpstreamRemoved  = "upstream-removed"       // upstream removed what the user changed or kept: gone
	RuleTwoWayUserValue  = "two-way-user-value"     // two-way: the user's value for a key both files have
	RuleTwoWayUserKept   = "two-way-user-kept"      // two-way: a user-only service or top-level definition kept
	RuleTwoWayDropped    = "two-way-dropped"        // two-way: a user-only key of a shared service not carried
	RuleKnownRemoved     = "release-removed"        // a service the caller says the release removed (Options.RemovedServices)
	RuleDanglingDepends  = "dangling-depends-on"    // depends_on on a service the result no longer has: dropped
	RuleTwoWayReleaseTag = "two-way-release-tag"    // two-way: upstream names a version: its tag, not the user's
	RuleProjectName      = "project-name-kept"      // the top-level name: is the user's (or absent as in the user's file)
)

// Change is one rule the merge applied (api.ComposeMergeChange; Rule is one of the
// Rule* constants).
type Change = api.ComposeMergeChange

// BindMove is a bind mount of the user's file that the result mounts elsewhere or not at all.
type BindMove = api.BindMove

// Report is what a merge did (api.ComposeMergeReport: Mode is ThreeWay or TwoWay;
// LayoutChanged tells a swap that counts as breaking).
type Report = api.ComposeMergeReport

// Options tune a merge.
type Options struct {
	// RemovedServices are services the release is known to have removed (MaiBot 1.x's
	// "adapters"): in a two-way merge a user-only service of that name is not kept.
	RemovedServices []string
	// ShowSecrets keeps secret-looking values in the report.
	ShowSecrets bool
}

// Merge merges user's edits into upstream: three-way when base is not nil, two-way when base is
// nil (see the package doc). The result is upstream byte for byte when nothing of the user's
// needs carrying.
func Merge(base, user, upstream []byte) ([]byte, Report, error) {
	return MergeWith(base, user, upstream, Options{})
}

// MergeWith is Merge with options.
func MergeWith(base, user, upstream []byte, opts Options) ([]byte, Report, error) {
	m := &merger{opts: opts, twoWay: base == nil}
	m.rep.Mode = ThreeWay
	if m.twoWay {
		m.rep.Mode = TwoWay
	}
	upDoc, up, err := parseDoc("upstream", upstream)
	if err != nil {
		return nil, Report{}, err
	}
	_, us, err := parseDoc("user", user)
	if err != nil {
		return nil, Report{}, err
	}
	var bs *yaml.Node
	if !m.twoWay {
		if _, bs, err = parseDoc("base", base); err != nil {
			return nil, Report{}, err
		}
	}
	own := dependsPairs(up)
	m.mergeTop(bs, us, up)
	m.dropDanglingDepends(up, own)
	out := upstream
	if m.dirty {
		fixAliases(upDoc, map[*yaml.Node]bool{})
		if out, err = encode(upDoc, indentOf(upstream)); err != nil {
			return nil, Report{}, fmt.Errorf("compose merge: writing the result: %w", err)
		}
		if _, _, err := parseDoc("result", out); err != nil {
			return nil, Report{}, fmt.Errorf("compose merge: the result does not parse (a bug): %w", err)
		}
	}
	for _, c := range m.rep.Changes {
		if c.Conflict {
			m.rep.Conflicts++
		}
	}
	layout(us, up, &m.rep)
	if m.rep.Changes == nil {
		m.rep.Changes = []Change{}
	}
	return out, m.rep, nil
}

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

// merger carries one merge's state.
type merger struct {
	opts   Options
	twoWay bool
	rep    Report
	dirty  bool
}

// add records a change: every report line goes through here, so unless ShowSecrets the
// values hide what redact finds in them (a token of a known shape, a URL's password, a
// private key, a command's password argument, a secret-looking NAME=value), whatever key
// they are under; change and redact hide the whole value of a secret-looking key before.
func (m *merger) add(c Change) {
	if !m.opts.ShowSecrets {
		for _, p := range []*string{&c.Old, &c.New, &c.User} {
			if r := redact.Text(*p); r != *p {
				*p, c.Redacted = r, true
			}
		}
	}
	m.rep.Changes = append(m.rep.Changes, c)
}

// definitions are the top-level sections whose user-only entries a two-way merge keeps.
var definitions = map[string]bool{"volumes": true, "networks": true, "secrets": true, "configs": true}

func (m *merger) mergeTop(base, user, up *yaml.Node) {
	m.keepName(user, up)
	for _, k := range mapKeys(user) {
		uv, bv, pv := mapGet(user, k), mapGet(base, k), mapGet(up, k)
		switch {
		case k == "name":
			continue // keepName
		case k == "services":
			if resolve(uv).Kind == yaml.MappingNode && (pv == nil || resolve(pv).Kind == yaml.MappingNode) &&
				(bv == nil || resolve(bv).Kind == yaml.MappingNode) {
				if pv == nil {
					pv = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
					mapSet(up, "services", pv, mapKeyNode(user, k))
				}
				m.mergeServices(bv, uv, resolve(pv))
				continue
			}
		case m.twoWay && definitions[k] && pv != nil && resolve(uv).Kind == yaml.MappingNode && resolve(pv).Kind == yaml.MappingNode:
			pv = resolve(pv)
			for _, name := range mapKeys(uv) {
				if mapGet(pv, name) == nil {
					mapSet(pv, name, clone(mapGet(uv, name)), mapKeyNode(uv, name))
					m.dirty = true
					m.add(Change{Path: k + "." + name, Rule: RuleTwoWayUserKept, New: show(mapGet(uv, name))})
				} else {
					m.mergeValue("", k+"."+name, nil, mapGet(uv, name), pv, name, mapKeyNode(uv, name))
				}
			}
			continue
		case m.twoWay && definitions[k] && pv == nil:
			mapSet(up, k, clone(uv), mapKeyNode(user, k))
			m.dirty = true
			m.add(Change{Path: k, Rule: RuleTwoWayUserKept, New: show(uv)})
			continue
		}
		m.mergeValue("", k, bv, uv, up, k, mapKeyNode(user, k))
	}
	if !m.twoWay {
		for _, k := range mapKeys(base) {
			if mapGet(user, k) == nil && k != "name" {
				m.removed("", k, mapGet(base, k), up, k)
			}
		}
	}
}

// keepName makes the result's top-level name: the user's file's, or absent when the user's
// file has none, whatever the release's file (and a base) say. The name is the project's
// identity: compose derives it from -p, COMPOSE_PROJECT_NAME, this key, else the directory,
// and a project whose name changes finds none of its containers, its named volumes (prefixed
// with the name) or its backups. A release that names its project (name: maibot) would
// otherwise move every user who runs it under another name.
func (m *merger) keepName(user, up *yaml.Node) {
	uv, pv := mapGet(user, "name"), mapGet(up, "name")
	switch {
	case uv == nil && pv == nil, uv != nil && pv != nil && equal(uv, pv):
		return
	case uv == nil:
		i := mapIndex(up, "name")
		if k := up.Content[i]; k.HeadComment != "" && i+2 < len(up.Content) {
			// a comment above the name (the file's head) stays above the next key
			next := up.Content[i+2]
			next.HeadComment = strings.TrimSpace(k.HeadComment + "\n" + next.HeadComment)
		}
		mapDelete(up, "name")
		m.add(Change{Path: "name", Rule: RuleProjectName, Old: show(pv)})
	default:
		if pv == nil {
			// first, where compose files put it
			k := clone(mapKeyNode(user, "name"))
			up.Content = append([]*yaml.Node{k, clone(uv)}, up.Content...)
		} else {
			mapSet(up, "name", clone(uv), mapKeyNode(user, "name"))
		}
		m.add(Change{Path: "name", Rule: RuleProjectName, Old: show(pv), New: show(uv)})
	}
	m.dirty = true
}

func (m *merger) known(name string) bool {
	for _, s := range m.opts.RemovedServices {
		if s == name {
			return true
		}
	}
	return false
}

func (m *merger) mergeServices(base, user, up *yaml.Node) {
	for _, name := range mapKeys(user) {
		uv, bv, pv := mapGet(user, name), mapGet(base, name), mapGet(up, name)
		switch {
		case pv == nil && m.twoWay:
			if m.known(name) {
				m.add(Change{Service: name, Path: "services." + name, Rule: RuleKnownRemoved, User: "(service)"})
				continue
			}
			mapSet(up, name, clone(uv), mapKeyNode(user, name))
			m.dirty = true
			m.add(Change{Service: name, Path: "services." + name, Rule: RuleTwoWayUserKept, New: "(service)"})
		case pv == nil && bv == nil:
			mapSet(up, name, clone(uv), mapKeyNode(user, name))
			m.dirty = true
			m.add(Change{Service: name, Path: "services." + name, Rule: RuleUserAdded, New: "(service)"})
		case pv == nil:
			m.add(Change{Service: name, Path: "services." + name, Rule: RuleUpstreamRemoved, Old: "", User: "(service)",
				Conflict: !equal(bv, uv)})
		case resolve(uv).Kind != yaml.MappingNode || resolve(pv).Kind != yaml.MappingNode ||
			(bv != nil && resolve(bv).Kind != yaml.MappingNode):
			m.mergeValue(name, "services."+name, bv, uv, up, name, mapKeyNode(user, name))
		default:
			if pv.Kind == yaml.AliasNode { // writing into a shared node would change its other users
				c := clone(pv)
				mapSet(up, name, c, nil)
				pv = c
			}
			m.mergeService(name, bv, uv, pv)
		}
	}
	if !m.twoWay {
		for _, name := range mapKeys(base) {
			if mapGet(user, name) != nil {
				continue
			}
			bv, pv := mapGet(base, name), mapGet(up, name)
			switch {
			case pv == nil:
			case equal(bv, pv):
				mapDelete(up, name)
				m.dirty = true
				m.add(Change{Service: name, Path: "services." + name, Rule: RuleUserRemoved, Old: "(service)"})
			default:
				m.add(Change{Service: name, Path: "services." + name, Rule: RuleBothChanged, Old: "(service)",
					New: "(service)", User: "(removed)", Conflict: true})
			}
		}
	}
}

// keyed are the service keys merged entry by entry.
var keyed = map[string]bool{"environment": true, "labels": true, "ports": true, "volumes": true,
	"depends_on": true, "networks": true, "annotations": true, "extra_hosts": true}

func (m *merger) mergeService(svc string, base, user, up *yaml.Node) {
	for _, k := range mapKeys(user) {
		uv, bv, pv := mapGet(user, k), mapGet(base, k), mapGet(up, k)
		if m.twoWay && pv == nil {
			m.add(Change{Service: svc, Path: k, Rule: RuleTwoWayDropped, User: m.redact(svc, k, show(uv))})
			continue
		}
		if keyed[k] && pv != nil {
			if m.mergeKeyed(svc, k, bv, uv, up) {
				continue
			}
		}
		if k == "image" && pv != nil {
			m.mergeImage(svc, bv, uv, up)
			continue
		}
		m.mergeValue(svc, k, bv, uv, up, k, mapKeyNode(user, k))
	}
	if !m.twoWay {
		for _, k := range mapKeys(base) {
			if mapGet(user, k) == nil {
				m.removed(svc, k, mapGet(base, k), up, k)
			}
		}
	}
}

// redact hides a value when its key (the last part of path) looks secret.
func (m *merger) redact(svc, key, v string) string {
	if m.opts.ShowSecrets || v == "" {
		return v
	}
	if config.SecretKey(key) {
		return config.Redacted
	}
	return v
}

func (m *merger) change(c Change, key string) {
	if !m.opts.ShowSecrets && config.SecretKey(key) {
		for _, p := range []*string{&c.Old, &c.New, &c.User} {
			if *p != "" {
				*p = config.Redacted
			}
		}
		c.Redacted = true
	}
	m.add(c)
}

// mergeValue merges one key of mapping up (user value uv, base value bv; bv nil when the user
// added the key or in a two-way merge).
func (m *merger) mergeValue(svc, p string, bv, uv, up *yaml.Node, key string, keyNode *yaml.Node) {
	pv := mapGet(up, key)
	last := key
	switch {
	case bv != nil && equal(bv, uv):
		return // the user did not change it
	case pv == nil && m.twoWay:
		m.add(Change{Service: svc, Path: p, Rule: RuleTwoWayDropped, User: m.redact(svc, last, show(uv))})
		return
	case pv == nil && bv == nil:
		mapSet(up, key, clone(uv), keyNode)
		m.dirty = true
		m.change(Change{Service: svc, Path: p, Rule: RuleUserAdded, New: show(uv)}, last)
		return
	case pv == nil:
		m.change(Change{Service: svc, Path: p, Rule: RuleUpstreamRemoved, User: show(uv), Conflict: true}, last)
		return
	case equal(pv, uv):
		return
	}
	// Both mappings: merge key by key (user changes deep inside, upstream changes elsewhere).
	if rp, ru := resolve(pv), resolve(uv); rp.Kind == yaml.MappingNode && ru.Kind == yaml.MappingNode &&
		(bv == nil || resolve(bv).Kind == yaml.MappingNode) {
		if pv.Kind == yaml.AliasNode {
			rp = clone(pv)
			mapSet(up, key, rp, nil)
		}
		for _, k := range mapKeys(ru) {
			m.mergeValue(svc, p+"."+k, mapGet(bv, k), mapGet(ru, k), rp, k, mapKeyNode(ru, k))
		}
		if bv != nil {
			for _, k := range mapKeys(bv) {
				if mapGet(ru, k) == nil {
					m.removed(svc, p+"."+k, mapGet(bv, k), rp, k)
				}
			}
		}
		return
	}
	switch {
	case m.twoWay:
		mapSet(up, key, clone(uv), nil)
		m.dirty = true
		m.change(Change{Service: svc, Path: p, Rule: RuleTwoWayUserValue, Old: show(pv), New: show(uv)}, last)
	case bv != nil && equal(bv, pv):
		mapSet(up, key, clone(uv), nil)
		m.dirty = true
		m.change(Change{Service: svc, Path: p, Rule: RuleUserValue, Old: show(pv), New: show(uv)}, last)
	default:
		m.change(Change{Service: svc, Path: p, Rule: RuleBothChanged, Old: show(pv), New: show(pv), User: show(uv), Conflict: true}, last)
	}
}

// removed handles a key of base the user removed (three-way only).
func (m *merger) removed(svc, p string, bv, up *yaml.Node, key string) {
	pv := mapGet(up, key)
	switch {
	case pv == nil:
	case equal(bv, pv):
		mapDelete(resolve(up), key)
		m.dirty = true
		m.change(Change{Service: svc, Path: p, Rule: RuleUserRemoved, Old: show(pv)}, key)
	default:
		m.change(Change{Service: svc, Path: p, Rule: RuleBothChanged, Old: show(pv), New: show(pv), User: "(removed)", Conflict: true}, key)
	}
}

// splitImage splits an image reference into its name and tag (or digest) part, leaving ${...}
// alone: "${BOT_REPO}:${V:-1.0.0}" is "${BOT_REPO}" and "${V:-1.0.0}".
func splitImage(ref string) (name, tag string) {
	depth, slash, colon, at := 0, -1, -1, -1
	for i := 0; i < len(ref); i++ {
		switch {
		case ref[i] == '$' && i+1 < len(ref) && ref[i+1] == '{':
			depth++
			i++
		case ref[i] == '}' && depth > 0:
			depth--
		case depth > 0:
		case ref[i] == '/':
			slash, colon = i, -1
		case ref[i] == ':':
			colon = i
		case ref[i] == '@' && at < 0:
			at = i
		}
	}
	if at >= 0 {
		return ref[:at], ref[at:]
	}
	if colon > slash {
		return ref[:colon], ref[colon+1:]
	}
	return ref, ""
}

// floating tells whether an image reference names no fixed version: no tag, "latest", or a
// tag written with a variable.
func floating(ref string) bool {
	_, tag := splitImage(ref)
	return tag == "" || tag == "latest" || strings.Contains(tag, "${")
}

func (m *merger) mergeImage(svc string, bv, uv, up *yaml.Node) {
	pv := mapGet(up, "image")
	u, p := resolve(uv), resolve(pv)
	if u.Kind != yaml.ScalarNode || p.Kind != yaml.ScalarNode || (bv != nil && resolve(bv).Kind != yaml.ScalarNode) {
		m.mergeValue(svc, "image", bv, uv, up, "image", nil)
		return
	}
	if u.Value == p.Value || (bv != nil && resolve(bv).Value == u.Value) {
		return
	}
	uName, _ := splitImage(u.Value)
	pName, _ := splitImage(p.Value)
	set := func(rule string) {
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: u.Value, Style: p.Style, LineComment: p.LineComment}
		mapSet(up, "image", n, nil)
		m.dirty = true
		m.add(Change{Service: svc, Path: "image", Rule: rule, Old: p.Value, New: u.Value})
	}
	switch {
	case m.twoWay && uName == pName && floating(p.Value):
		set(RuleImagePinned)
	case m.twoWay && uName == pName:
		// Without a base the user's tag may be the old release's own: the release's tag wins.
		m.add(Change{Service: svc, Path: "image", Rule: RuleTwoWayReleaseTag, Old: p.Value, New: p.Value, User: u.Value})
	case m.twoWay:
		m.add(Change{Service: svc, Path: "image", Rule: RuleImageRenamed, Old: p.Value, New: p.Value, User: u.Value})
	case bv == nil: // the user added an image key upstream also has
		m.add(Change{Service: svc, Path: "image", Rule: RuleBothChanged, Old: p.Value, New: p.Value, User: u.Value, Conflict: true})
	case resolve(bv).Value == p.Value: // upstream kept the image: the user's edit stands
		bName, _ := splitImage(resolve(bv).Value)
		if uName == bName {
			set(RuleImagePinned)
		} else {
			set(RuleUserValue)
		}
	default:
		bName, _ := splitImage(resolve(bv).Value)
		rule := RuleBothChanged
		if pName != bName {
			rule = RuleImageRenamed
		}
		m.add(Change{Service: svc, Path: "image", Rule: rule, Old: p.Value, New: p.Value, User: u.Value, Conflict: true})
	}
}

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
	label := func(k string) string {
		if kind == "environment" || kind == "labels" || kind == "annotations" || kind == "depends_on" {
			return kind + "." + k
		}
		return kind + "[" + k + "]"
	}
	shown := func(e entry) string {
		if e.val == nil {
			return ""
		}
		if kind == "environment" || kind == "labels" {
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
	// The key whose name decides whether an entry's value is secret: a NAME=value entry's
	// name (environment, labels, annotations), as the diff decides it for the same line.
	secretKey := func(k string) string {
		if kind == "environment" || kind == "labels" || kind == "annotations" {
			return k
		}
		return ""
	}
	find := func(k string) int { // position in target (recomputed: target changes as we go)
		es, _ := entriesOf(kind, target)
		if i, ok := es.index[k]; ok {
			return i
		}
		return -1
	}
	replace := func(k string, u entry) {
		i := find(k)
		if target.Kind == yaml.MappingNode {
			kn, n := render(kind, pes, u, target.Content[2*i+1])
			_ = kn
			target.Content[2*i+1] = n
		} else {
			_, n := render(kind, pes, u, target.Content[i])
			target.Content[i] = n
		}
		m.dirty = true
	}
	appendEntry := func(u entry) {
		kn, n := render(kind, pes, u, nil)
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
		m.dirty = true
	}
	remove := func(k string) {
		i := find(k)
		if target.Kind == yaml.MappingNode {
			target.Content = append(target.Content[:2*i:2*i], target.Content[2*i+2:]...)
		} else {
			target.Content = append(target.Content[:i:i], target.Content[i+1:]...)
		}
		m.dirty = true
	}
	for _, u := range ues.list {
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
		case m.twoWay && !inUp:
			m.change(Change{Service: svc, Path: label(u.key), Rule: RuleTwoWayDropped, User: shown(u)}, secretKey(u.key))
		case m.twoWay:
			if p.text != u.text {
				replace(u.key, u)
				m.change(Change{Service: svc, Path: label(u.key), Rule: RuleTwoWayUserValue, Old: shown(p), New: shown(u)}, secretKey(u.key))
			}
		case inUp && p.text == u.text:
		case !inBase && !inUp:
			appendEntry(u)
			m.change(Change{Service: svc, Path: label(u.key), Rule: RuleUserAdded, New: shown(u)}, secretKey(u.key))
		case !inUp:
			m.change(Change{Service: svc, Path: label(u.key), Rule: RuleUpstreamRemoved, User: shown(u), Conflict: true}, secretKey(u.key))
		case inBase && b.text == p.text:
			replace(u.key, u)
			m.change(Change{Service: svc, Path: label(u.key), Rule: RuleUserValue, Old: shown(p), New: shown(u)}, secretKey(u.key))
		default:
			m.change(Change{Service: svc, Path: label(u.key), Rule: RuleBothChanged, Old: shown(p), New: shown(p), User: shown(u), Conflict: true}, secretKey(u.key))
		}
	}
	if !m.twoWay {
		for _, b := range bes.list {
			if _, inUser := ues.index[b.key]; inUser {
				continue
			}
			pi, inUp := pes.index[b.key]
			switch {
			case !inUp:
			case pes.list[pi].text == b.text:
				remove(b.key)
				m.change(Change{Service: svc, Path: label(b.key), Rule: RuleUserRemoved, Old: shown(b)}, secretKey(b.key))
			default:
				p := pes.list[pi]
				m.change(Change{Service: svc, Path: label(b.key), Rule: RuleBothChanged, Old: shown(p), New: shown(p), User: "(removed)", Conflict: true}, secretKey(b.key))
			}
		}
	}
	return true
}

// dependsPairs lists the (service, dependency) pairs of a file's depends_on entries.
func dependsPairs(root *yaml.Node) map[[2]string]bool {
	out := map[[2]string]bool{}
	svcs := resolve(mapGet(root, "services"))
	for _, s := range mapKeys(svcs) {
		es, _ := entriesOf("depends_on", mapGet(mapGet(svcs, s), "depends_on"))
		for _, e := range es.list {
			out[[2]string{s, e.key}] = true
		}
	}
	return out
}

// dropDanglingDepends removes depends_on entries naming a service the result does not have
// (a service the release removed that the user's edits still referred to); upstream's own
// entries (own) are left as the release wrote them.
func (m *merger) dropDanglingDepends(up *yaml.Node, own map[[2]string]bool) {
	svcs := resolve(mapGet(up, "services"))
	if svcs == nil || svcs.Kind != yaml.MappingNode {
		return
	}
	have := map[string]bool{}
	for _, s := range mapKeys(svcs) {
		have[s] = true
	}
	for _, s := range mapKeys(svcs) {
		sv := resolve(mapGet(svcs, s))
		if sv == nil || sv.Kind != yaml.MappingNode {
			continue
		}
		dep := mapGet(sv, "depends_on")
		es, ok := entriesOf("depends_on", dep)
		if !ok || dep == nil {
			continue
		}
		var gone []string
		for _, e := range es.list {
			if !have[e.key] && !own[[2]string{s, e.key}] {
				gone = append(gone, e.key)
			}
		}
		if len(gone) == 0 {
			continue
		}
		d := resolve(dep)
		if dep.Kind == yaml.AliasNode {
			d = clone(dep)
			mapSet(sv, "depends_on", d, nil)
		}
		for _, g := range gone {
			es, _ := entriesOf("depends_on", d)
			i := es.index[g]
			if d.Kind == yaml.MappingNode {
				d.Content = append(d.Content[:2*i:2*i], d.Content[2*i+2:]...)
			} else {
				d.Content = append(d.Content[:i:i], d.Content[i+1:]...)
			}
			m.add(Change{Service: s, Path: "depends_on." + g, Rule: RuleDanglingDepends, Old: g})
		}
		if len(d.Content) == 0 {
			mapDelete(sv, "depends_on")
		}
		m.dirty = true
	}
}

// bind is a host bind of a service.
type bind struct{ service, source, target string }

// binds lists a compose file's bind mounts (sources that are host paths: ./, ../, /, ~ or ${...}).
func binds(root *yaml.Node) []bind {
	var out []bind
	svcs := resolve(mapGet(root, "services"))
	for _, s := range mapKeys(svcs) {
		vols := resolve(mapGet(mapGet(svcs, s), "volumes"))
		if vols == nil || vols.Kind != yaml.SequenceNode {
			continue
		}
		for _, it := range vols.Content {
			it = resolve(it)
			var src, tgt string
			switch it.Kind {
			case yaml.ScalarNode:
				src, tgt, _ = volumeParts(it.Value)
			case yaml.MappingNode:
				if t := mapGet(it, "type"); t != nil && resolve(t).Value != "bind" {
					continue
				}
				if sn, tn := mapGet(it, "source"), mapGet(it, "target"); sn != nil && tn != nil {
					src, tgt = resolve(sn).Value, path.Clean(resolve(tn).Value)
				}
			}
			if isHostPath(src) {
				out = append(out, bind{s, src, tgt})
			}
		}
	}
	return out
}

func isHostPath(s string) bool {
	return strings.HasPrefix(s, ".") || strings.HasPrefix(s, "/") || strings.HasPrefix(s, "~") || strings.HasPrefix(s, "$")
}

func cleanSource(s string) string {
	if strings.HasPrefix(s, "$") || strings.HasPrefix(s, "~") {
		return s
	}
	c := path.Clean(s)
	if strings.HasPrefix(s, "./") || s == "." {
		c = "./" + strings.TrimPrefix(c, "./")
		if c == "./." {
			c = "."
		}
	}
	return c
}

// layout fills the services that appear and disappear and the binds that move, from the
// user's file to the result.
func layout(user, result *yaml.Node, r *Report) {
	us, rs := resolve(mapGet(user, "services")), resolve(mapGet(result, "services"))
	inUser, inResult := map[string]bool{}, map[string]bool{}
	for _, s := range mapKeys(us) {
		inUser[s] = true
	}
	for _, s := range mapKeys(rs) {
		inResult[s] = true
		if !inUser[s] {
			r.ServicesAdded = append(r.ServicesAdded, s)
		}
	}
	for _, s := range mapKeys(us) {
		if !inResult[s] {
			r.ServicesRemoved = append(r.ServicesRemoved, s)
		}
	}
	mounted := map[string]bool{}
	now := map[[2]string]string{}
	for _, b := range binds(result) {
		mounted[cleanSource(b.source)] = true
		now[[2]string{b.service, b.target}] = b.source
	}
	seen := map[[3]string]bool{}
	for _, b := range binds(user) {
		src := cleanSource(b.source)
		key := [3]string{b.service, b.target, src}
		if seen[key] {
			continue
		}
		seen[key] = true
		newSrc, ok := now[[2]string{b.service, b.target}]
		switch {
		case !mounted[src]:
			r.BindsMoved = append(r.BindsMoved, BindMove{Service: b.service, Target: b.target, OldSource: b.source, NewSource: newSrc, Unmounted: true})
		case ok && cleanSource(newSrc) != src:
			r.BindsMoved = append(r.BindsMoved, BindMove{Service: b.service, Target: b.target, OldSource: b.source, NewSource: newSrc})
		}
	}
	sort.Strings(r.ServicesAdded)
	sort.Strings(r.ServicesRemoved)
	if r.ServicesAdded == nil {
		r.ServicesAdded = []string{}
	}
	if r.ServicesRemoved == nil {
		r.ServicesRemoved = []string{}
	}
	if r.BindsMoved == nil {
		r.BindsMoved = []BindMove{}
	}
}
