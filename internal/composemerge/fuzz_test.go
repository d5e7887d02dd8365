package composemerge

import (
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// edit applies random edits, driven by ops, to a decoded compose file: the kinds of edits users
// and releases make (env values added, changed and removed in list and map form, ports and
// binds changed and added, images re-tagged, scalars changed, services added and removed).
func edit(v map[string]any, ops []byte) {
	svcs, _ := v["services"].(map[string]any)
	if svcs == nil {
		svcs = map[string]any{}
		v["services"] = svcs
	}
	next := func() int {
		if len(ops) == 0 {
			return 0
		}
		b := ops[0]
		ops = ops[1:]
		return int(b)
	}
	for len(ops) > 0 {
		names := sortedKeys(svcs)
		op, n := next()%10, next()
		if len(names) == 0 {
			op = 8
		}
		var s map[string]any
		var name string
		if len(names) > 0 {
			name = names[n%len(names)]
			s, _ = svcs[name].(map[string]any)
			if s == nil {
				s = map[string]any{}
				svcs[name] = s
			}
		}
		val := fmt.Sprintf("v%d", next())
		switch op {
		case 0, 1: // set an env value (list or map form)
			key := fmt.Sprintf("K%d", next()%4)
			switch e := s["environment"].(type) {
			case []any:
				out := []any{}
				for _, it := range e {
					if str, _ := it.(string); !strings.HasPrefix(str, key+"=") && str != key {
						out = append(out, it)
					}
				}
				s["environment"] = append(out, key+"="+val)
			case map[string]any:
				e[key] = val
			default:
				s["environment"] = []any{key + "=" + val}
			}
		case 2: // remove an env entry
			switch e := s["environment"].(type) {
			case []any:
				if len(e) > 0 {
					i := next() % len(e)
					s["environment"] = append(e[:i:i], e[i+1:]...)
				}
			case map[string]any:
				for _, k := range sortedKeys(e) {
					delete(e, k)
					break
				}
			}
		case 3: // publish a port / change its host port
			target := 8000 + next()%3
			p, _ := s["ports"].([]any)
			out := []any{}
			for _, it := range p {
				if str, _ := it.(string); !strings.HasSuffix(str, fmt.Sprintf(":%d", target)) {
					out = append(out, it)
				}
			}
			s["ports"] = append(out, fmt.Sprintf("%d:%d", 9000+next(), target))
		case 4: // bind a host dir at a target (new or moved)
			target := fmt.Sprintf("/t%d", next()%3)
			vs, _ := s["volumes"].([]any)
			out := []any{}
			for _, it := range vs {
				if str, _ := it.(string); !strings.HasSuffix(str, ":"+target) {
					out = append(out, it)
				}
			}
			s["volumes"] = append(out, "./"+val+":"+target)
		case 5: // re-tag or rename the image
			img, _ := s["image"].(string)
			nm, _ := splitImage(img)
			if nm == "" || next()%4 == 0 {
				nm = "repo/" + val
			}
			s["image"] = nm + ":" + val
		case 6: // change a scalar
			s[[]string{"restart", "container_name", "user", "working_dir"}[next()%4]] = val
		case 7: // remove a key
			for _, k := range sortedKeys(s) {
				if next()%3 == 0 {
					delete(s, k)
					break
				}
			}
		case 8: // add a service
			svcs["s"+val] = map[string]any{"image": "extra:" + val, "environment": []any{"A=" + val}}
		case 9: // remove a service
			delete(svcs, name)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}

func edited(t *testing.T, base []byte, ops []byte) []byte {
	var v map[string]any
	if err := yaml.Unmarshal(base, &v); err != nil || v == nil {
		t.Skip()
	}
	edit(v, ops)
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// semantic is a decoded compose file with environment lists as maps, depends_on entries
// on services the file does not have dropped (the merge drops those), and the keyed lists in
// sorted order: their entries are matched by key, and a reorder alone is not carried (the
// engine gives ports, mounts, dependencies and networks no order).
func semantic(t *testing.T, b []byte) map[string]any {
	v := decoded(t, b)
	svcs, _ := v["services"].(map[string]any)
	for _, s := range svcs {
		sm, _ := s.(map[string]any)
		for _, k := range []string{"ports", "volumes", "depends_on", "networks", "extra_hosts"} {
			if l, ok := sm[k].([]any); ok {
				l = append([]any(nil), l...)
				sort.SliceStable(l, func(i, j int) bool { return fmt.Sprint(l[i]) < fmt.Sprint(l[j]) })
				sm[k] = l
			}
		}
		if d, ok := sm["depends_on"].([]any); ok {
			out := []any{}
			for _, x := range d {
				if _, ok := svcs[fmt.Sprint(x)]; ok {
					out = append(out, x)
				}
			}
			sm["depends_on"] = out
			if len(out) == 0 {
				delete(sm, "depends_on")
			}
		}
	}
	return v
}

func FuzzComposeMerge(f *testing.F) {
	var seeds [][]byte
	for _, n := range []string{"maibot-0.12-upstream.yaml", "maibot-0.12-user.yaml", "maibot-1.x-upstream.yaml", "anchors.yaml"} {
		b, err := os.ReadFile("testdata/" + n)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	f.Add(uint8(0), []byte{0, 0, 1, 5, 3, 1, 2, 8, 9, 9}, []byte{5, 0, 7, 1, 1, 4})
	f.Add(uint8(1), []byte{9, 0, 1, 4, 2, 7, 6, 2, 3}, []byte{3, 1, 1, 0, 0, 0, 0})
	f.Add(uint8(3), []byte{7, 2, 0, 0, 8, 1, 1, 5, 0, 4, 4}, []byte{2, 0, 5, 9, 1})
	f.Add(uint8(2), []byte{}, []byte{8, 8, 8})
	f.Fuzz(func(t *testing.T, seed uint8, userOps, upOps []byte) {
		if len(userOps) > 64 || len(upOps) > 64 {
			t.Skip()
		}
		base := seeds[int(seed)%len(seeds)]
		user, up := edited(t, base, userOps), edited(t, base, upOps)
		for _, b := range [][]byte{base, nil} {
			out, _, err := Merge(b, user, up)
			if err != nil {
				t.Fatalf("merge: %v", err)
			}
			var v any
			if err := yaml.Unmarshal(out, &v); err != nil {
				t.Fatalf("result does not parse: %v\n%s", err, out)
			}
		}
		out, _, err := Merge(base, base, up)
		if err != nil || string(out) != string(up) {
			t.Fatalf("Merge(base, base, up) != up (%v):\n%s\n---\n%s", err, out, up)
		}
		out, _, err = Merge(base, user, base)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := semantic(t, out), semantic(t, user); !reflect.DeepEqual(got, want) {
			t.Fatalf("Merge(base, user, base) != user:\n%s\n--- user:\n%s", out, user)
		}
		// Arbitrary bytes: never a panic.
		_, _, _ = Merge(userOps, upOps, base)
		_, _, _ = Merge(nil, upOps, userOps)
	})
}
