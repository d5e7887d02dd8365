package project

import (
	"context"
	"strings"
	"testing"

	maim "github.com/docker-maim/docker-maim/internal/api"
)

func TestSourcePolicies(t *testing.T) {
	p := loadYAML(t, `
services:
  app:
    image: app
    volumes:
      - data:/data
      - media:/media
      - labelled:/l
      - type: bind
        source: ./library
        target: /library
        x-maim:
          backup: changed
volumes:
  data: {}
  media:
    x-maim:
      backup: never
      max_deltas: 3
  labelled:
    labels:
      docker-maim.backup: changed
`, nil)
	srcs, err := p.SourcesWith(context.Background(), &fakeLister{}, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Policy{"data": maim.PolicyAlways, "media": maim.PolicyNever, "labelled": maim.PolicyChanged, "./library": maim.PolicyChanged} {
		if got := sourceByName(t, srcs, name).Policy; got != want {
			t.Errorf("%s: policy %q, want %q", name, got, want)
		}
	}
	if n := sourceByName(t, srcs, "media").MaxDeltas; n != 3 {
		t.Errorf("media: max_deltas %d, want 3", n)
	}
	for _, s := range srcs {
		if s.Kind == KindProjectFile && s.Policy != "" {
			t.Errorf("project file %s has a policy %q", s.Name, s.Policy)
		}
	}
	// The flag wins over the compose file; an unknown name is refused with the names known.
	srcs, err = p.SourcesWith(context.Background(), &fakeLister{}, SourceOptions{Policies: map[string]Policy{"media": maim.PolicyAlways, "data": maim.PolicyNever}})
	if err != nil {
		t.Fatal(err)
	}
	if sourceByName(t, srcs, "media").Policy != maim.PolicyAlways || sourceByName(t, srcs, "data").Policy != maim.PolicyNever {
		t.Errorf("overrides not applied: %+v", srcs)
	}
	_, err = p.SourcesWith(context.Background(), &fakeLister{}, SourceOptions{Policies: map[string]Policy{"nope": maim.PolicyNever}})
	if err == nil || !strings.Contains(err.Error(), "nope") || !strings.Contains(err.Error(), "media") {
		t.Errorf("unknown source: err = %v", err)
	}
}

func TestSourcePolicyRefusals(t *testing.T) {
	for name, yaml := range map[string]string{
		"bad value": `
services: {app: {image: app, volumes: ["data:/d"]}}
volumes: {data: {x-maim: {backup: sometimes}}}
`,
		"mounts disagree": `
services:
  app:
    image: app
    volumes: [{type: volume, source: data, target: /d, x-maim: {backup: never}}]
  b:
    image: b
    volumes: [{type: volume, source: data, target: /d, x-maim: {backup: changed}}]
volumes: {data: {}}
`,
	} {
		p := loadYAML(t, yaml, nil)
		if _, err := p.SourcesWith(context.Background(), &fakeLister{}, SourceOptions{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := maim.ParseSourcePolicies([]string{"a=never", "a=always"}); err == nil {
		t.Error("a name given twice is accepted")
	}
	if _, err := maim.ParseSourcePolicies([]string{"noequals"}); err == nil {
		t.Error("a value without = is accepted")
	}
}
