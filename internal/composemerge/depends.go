package composemerge

import (
	yaml "go.yaml.in/yaml/v3"
)

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
