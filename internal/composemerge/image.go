package composemerge

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

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
