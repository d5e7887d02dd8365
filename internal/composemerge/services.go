package composemerge

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

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
