package health

import (
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

func TestParseExtension(t *testing.T) {
	cases := []struct {
		name    string
		ext     map[string]any
		want    ServiceExtension
		wantErr bool
	}{
		{"absent", nil, ServiceExtension{}, false},
		{"other keys only", map[string]any{"x-maim": map[string]any{"breaking": true}}, ServiceExtension{}, false},
		{"both", map[string]any{"x-maim": map[string]any{"ready_log": "ready", "one_shot": true}}, ServiceExtension{"ready", true}, false},
		{"string bool", map[string]any{"x-maim": map[string]any{"one_shot": "true"}}, ServiceExtension{OneShot: true}, false},
		{"bad bool", map[string]any{"x-maim": map[string]any{"one_shot": "maybe"}}, ServiceExtension{}, true},
		{"bad ready_log", map[string]any{"x-maim": map[string]any{"ready_log": 3}}, ServiceExtension{}, true},
		{"not a map", map[string]any{"x-maim": "yes"}, ServiceExtension{}, true},
	}
	for _, c := range cases {
		got, err := ParseExtension(c.ext)
		if (err != nil) != c.wantErr || (!c.wantErr && got != c.want) {
			t.Errorf("%s: got %+v, %v", c.name, got, err)
		}
	}
}

func TestFromProject(t *testing.T) {
	p := &types.Project{Name: "x", Services: types.Services{
		"core": {Name: "core", Extensions: types.Extensions{"x-maim": map[string]any{"ready_log": "up"}}},
		"init": {Name: "init", Extensions: types.Extensions{"x-maim": map[string]any{"one_shot": true}}},
	}}
	o, err := FromProject(p, Options{ReadyLog: map[string]string{"core": "flag wins"}})
	if err != nil {
		t.Fatal(err)
	}
	if o.ReadyLog["core"] != "flag wins" || !o.OneShot["init"] || o.OneShot["core"] {
		t.Fatalf("%+v", o)
	}
	if _, err := FromProject(p, Options{Services: []string{"nope"}}); err == nil {
		t.Fatal("unknown service accepted")
	}
	p.Services["bad"] = types.ServiceConfig{Name: "bad", Extensions: types.Extensions{"x-maim": map[string]any{"one_shot": 1}}}
	if _, err := FromProject(p, Options{}); err == nil {
		t.Fatal("bad extension accepted")
	}
}
