package composemerge

import (
	"path"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

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
